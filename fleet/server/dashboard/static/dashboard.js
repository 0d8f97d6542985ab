// fleet dashboard: live updates by server-sent events. Hand-written, no build step, no
// dependencies. The server sends `changes` events ({"app": {name: row|null}, "cluster": ...,
// "appset": ...}); this script updates what the page shows from them, and re-fetches the
// page's main section (?fragment=1) when a change affects it. Text is only ever set with
// textContent; fragments come from the server's escaped templates.
"use strict";
(function () {
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var page = document.body.getAttribute("data-page");
  var pending = null;
  var fetching = false;
  var again = false;

  function refetch(delay) {
    if (pending !== null) { return; }
    pending = window.setTimeout(function () {
      pending = null;
      if (fetching) { again = true; return; }
      fetching = true;
      var url = new URL(window.location.href);
      url.searchParams.set("fragment", "1");
      url.hash = "";
      fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && !focusedInside(main)) { main.innerHTML = html; }
          document.body.setAttribute("data-updated", String(Date.now()));
        })
        .catch(function () {})
        .then(function () {
          fetching = false;
          if (again) { again = false; refetch(0); }
        });
    }, delay);
  }

  function focusedInside(el) {
    var a = document.activeElement;
    return a && a !== document.body && el.contains(a) && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  }

  function setBadge(el, prefix, value) {
    if (!el) { return; }
    el.textContent = value;
    el.className = "badge " + prefix + value;
  }

  function updateRows(apps) {
    var changedHere = false;
    Object.keys(apps).forEach(function (name) {
      var row = document.querySelector('tr[data-app="' + CSS.escape(name) + '"]');
      var data = apps[name];
      if (!row) { return; }
      changedHere = true;
      if (data === null) { row.classList.add("gone"); return; }
      setBadge(row.querySelector('[data-field="sync"]'), "sync-", data.sync);
      setBadge(row.querySelector('[data-field="health"]'), "health-", data.health);
      var rev = row.querySelector('[data-field="revision"]');
      if (rev) { rev.textContent = data.revision; }
      var problem = row.querySelector('[data-field="problem"]');
      if (problem) { problem.textContent = data.problem; }
    });
    return changedHere;
  }

  function onChanges(event) {
    var changes;
    try { changes = JSON.parse(event.data); } catch (e) { return; }
    var summary = document.getElementById("summary");
    if (summary && changes.counts) {
      summary.textContent = changes.counts.good + "/" + changes.counts.total + " Synced and Healthy";
    }
    var apps = changes.app || {};
    var names = Object.keys(apps);
    if (page === "apps" && document.getElementById("apps")) {
      updateRows(apps);
      if (names.length) { refetch(300); }
    } else if (page === "apps" && document.getElementById("app-name")) {
      var mine = document.getElementById("app-name").getAttribute("data-name");
      if (Object.prototype.hasOwnProperty.call(apps, mine)) {
        var data = apps[mine];
        if (data) {
          setBadge(document.getElementById("app-sync"), "sync-", data.sync);
          setBadge(document.getElementById("app-health"), "health-", data.health);
        }
        refetch(0);
      }
    } else if (names.length || changes.cluster || changes.appset) {
      refetch(page === "fleet" ? 500 : 300);
    }
    document.body.setAttribute("data-event", String(Date.now()));
  }

  if (window.EventSource && main) {
    var source = new EventSource("/dashboard/events");
    var opened = false;
    source.addEventListener("hello", function () {
      if (live) { live.className = "live on"; }
      if (opened) { refetch(0); }  // reconnected: changes may have been missed meanwhile
      opened = true;
    });
    source.addEventListener("changes", onChanges);
    source.onerror = function () { if (live) { live.className = "live off"; } };
  }
})();
