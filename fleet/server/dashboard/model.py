"""The dashboard's view-model: what the pages show, kept in memory and updated by events.

Why a model of its own: a page must never cost a hub request (10,000 Applications, many
browsers), so every Application is summarised once per change into an `AppRow` (the fields the
list filters and sorts on, a lower-cased search text) and the pages read these rows. The full
objects are kept too (the Application page shows them), by reference: in the controller they
are the controller's own cache entries, never copied.

Feeds (fleet.server.dashboard.feeds) call `put_app`, `drop_app`, `reset_apps` and the like;
listeners (the SSE hub) hear of every change that alters what a page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.api.resources import APPSET_LABEL

Obj = dict[str, Any]

SYNC_ORDER = {"Synced": 0, "OutOfSync": 1, "Unknown": 2}
"""Worse is larger: a cell shows the worst of its Applications."""
HEALTH_ORDER = {
    "Healthy": 0,
    "Suspended": 1,
    "Progressing": 2,
    "Unknown": 3,
    "Missing": 4,
    "Degraded": 5,
}
PROBLEM_PHASES = frozenset({"Failed", "Error"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def appset_of(app: Mapping[str, Any]) -> str:
    """The ApplicationSet that generated `app`: its label, else its owner reference."""
    meta = _mapping(app.get("metadata"))
    label = _text(_mapping(meta.get("labels")).get(APPSET_LABEL))
    if label:
        return label
    owners = meta.get("ownerReferences")
    for owner in owners if isinstance(owners, list) else []:
        if isinstance(owner, Mapping) and owner.get("kind") == "ApplicationSet":
            return _text(owner.get("name"))
    return ""


def source_of(app: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = _mapping(app.get("spec"))
    source = spec.get("source")
    if not isinstance(source, Mapping):
        sources = spec.get("sources")
        source = sources[0] if isinstance(sources, list) and sources else {}
    return _mapping(source)


@dataclass(frozen=True, slots=True)
class AppRow:
    """One Application as the list shows, filters and sorts it."""

    name: str
    project: str
    appset: str
    cluster: str
    namespace: str
    sync: str
    health: str
    revision: str
    phase: str
    """Phase of the last operation ("" when none)."""
    problem: str
    """The first condition's or failed operation's message ("" when none)."""
    labels: tuple[tuple[str, str], ...]
    rank: int
    """Problems first: 0 degraded or failing, 1 errors, 2 out of sync, 3 progressing,
    4 unknown, 9 fine."""
    search: str
    version: str
    """resourceVersion: a changed object is republished even when the row looks the same."""

    def public(self) -> dict[str, Any]:
        """What an SSE event carries (strings only; the page escapes them)."""
        return {
            "name": self.name,
            "sync": self.sync,
            "health": self.health,
            "revision": self.revision[:8],
            "phase": self.phase,
            "problem": self.problem[:200],
            "cluster": self.cluster,
        }


def summarise(app: Mapping[str, Any]) -> AppRow:
    """The row of an Application. Never raises on a malformed object (hub objects are
    untrusted): missing or mistyped fields read as empty."""
    meta = _mapping(app.get("metadata"))
    spec = _mapping(app.get("spec"))
    status = _mapping(app.get("status"))
    dest = _mapping(spec.get("destination"))
    sync = _text(_mapping(status.get("sync")).get("status")) or "Unknown"
    health = _text(_mapping(status.get("health")).get("status")) or "Unknown"
    state = _mapping(status.get("operationState"))
    phase = _text(state.get("phase"))
    conditions = status.get("conditions")
    listed = conditions if isinstance(conditions, list) else []
    first = next((c for c in listed if isinstance(c, Mapping)), None)
    problem = ""
    if first is not None:
        problem = f"{_text(first.get('type'))}: {_text(first.get('message'))}"
    elif phase in PROBLEM_PHASES:
        problem = f"sync {phase}: {_text(state.get('message'))}"
    if health == "Degraded" or phase in PROBLEM_PHASES:
        rank = 0
    elif first is not None or health == "Missing":
        rank = 1
    elif sync == "OutOfSync":
        rank = 2
    elif health == "Progressing" or phase == "Running":
        rank = 3
    elif sync == "Unknown" or health == "Unknown":
        rank = 4
    else:
        rank = 9
    raw_labels = _mapping(meta.get("labels"))
    labels = tuple(sorted((str(k), str(v)) for k, v in raw_labels.items()))
    name = _text(meta.get("name"))
    project = _text(spec.get("project")) or "default"
    appset = appset_of(app)
    cluster = _text(dest.get("name")) or _text(dest.get("server"))
    revision = _text(_mapping(status.get("sync")).get("revision"))
    search = " ".join(
        [name, project, appset, cluster, _text(dest.get("namespace")), revision, sync, health]
        + [f"{k}={v}" for k, v in labels]
    ).lower()
    return AppRow(
        name=name,
        project=project,
        appset=appset,
        cluster=cluster,
        namespace=_text(dest.get("namespace")),
        sync=sync,
        health=health,
        revision=revision,
        phase=phase,
        problem=problem,
        labels=labels,
        rank=rank,
        search=search,
        version=_text(meta.get("resourceVersion")),
    )


@dataclass(frozen=True, slots=True)
class ClusterView:
    """A cluster's connection state as the Fleet page shows it."""

    name: str
    server: str = ""
    ready: str = "Unknown"
    """True, False or Unknown."""
    reason: str = ""
    message: str = ""
    breaker: str = ""
    """closed, open, half-open; "" when unknown (the `fleet dashboard` process has no
    breaker of its own: it reads what the controller wrote to the Cluster's status)."""
    insecure: bool = False
    version: str = ""
    source: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ready": self.ready,
            "reason": self.reason,
            "breaker": self.breaker,
            "insecure": self.insecure,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Filters:
    """The Applications page's query (every field optional; "" = any)."""

    cluster: str = ""
    project: str = ""
    appset: str = ""
    sync: str = ""
    health: str = ""
    label: str = ""
    """`key=value` or `key` (has the label)."""
    text: str = ""

    def matches(self, row: AppRow) -> bool:
        if self.cluster and row.cluster != self.cluster:
            return False
        if self.project and row.project != self.project:
            return False
        if self.appset and row.appset != self.appset:
            return False
        if self.sync and row.sync != self.sync:
            return False
        if self.health and row.health != self.health:
            return False
        if self.label:
            key, has_value, value = self.label.partition("=")
            key = key.strip()
            if has_value:
                if (key, value.strip()) not in row.labels:
                    return False
            elif not any(k == key for k, _ in row.labels):
                return False
        return not self.text or self.text.lower() in row.search

    def active(self) -> bool:
        return any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[AppRow]
    total: int
    """Rows matching the filters (all pages)."""
    page: int
    pages: int


@dataclass(slots=True)
class Cell:
    count: int = 0
    sync: str = "Synced"
    health: str = "Healthy"

    def add(self, row: AppRow) -> None:
        self.count += 1
        if SYNC_ORDER.get(row.sync, 2) > SYNC_ORDER.get(self.sync, 2):
            self.sync = row.sync
        if HEALTH_ORDER.get(row.health, 3) > HEALTH_ORDER.get(self.health, 3):
            self.health = row.health


@dataclass(frozen=True, slots=True)
class Matrix:
    """The Fleet page: clusters as rows, ApplicationSets or Projects as columns."""

    columns: list[str]
    rows: list[tuple[ClusterView, dict[str, Cell]]]


Listener = Callable[[str, str, Any], None]
"""(kind, name, public payload or None when removed) of each change."""


@dataclass
class Store:
    """Every object the pages show, by name, and each Application's row."""

    apps: dict[str, Obj] = field(default_factory=dict)
    rows: dict[str, AppRow] = field(default_factory=dict)
    appsets: dict[str, Obj] = field(default_factory=dict)
    clusters: dict[str, ClusterView] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    _order: list[str] | None = None
    """Names in page order (problems first, then name), rebuilt only when a row is added,
    removed or changes rank (a status change that keeps the rank costs no sort)."""

    # -- feeding --------------------------------------------------------------------------------

    def _emit(self, kind: str, name: str, payload: Any) -> None:
        for listener in self.listeners:
            listener(kind, name, payload)

    def put_app(self, obj: Obj) -> str:
        """Returns the Application's name ("" for an object without one: ignored)."""
        row = summarise(obj)
        if not row.name:
            return ""
        self.apps[row.name] = obj
        old = self.rows.get(row.name)
        if old == row:
            return row.name
        self.rows[row.name] = row
        if old is None or old.rank != row.rank:
            self._order = None
        self._emit("app", row.name, row.public())
        return row.name

    def drop_app(self, name: str) -> None:
        self.apps.pop(name, None)
        if self.rows.pop(name, None) is not None:
            self._order = None
            self._emit("app", name, None)

    def reset_apps(self, objs: Iterable[Obj]) -> None:
        seen: set[str] = set()
        for obj in objs:
            seen.add(self.put_app(obj))
        for gone in set(self.rows) - seen:
            self.drop_app(gone)

    def put_appset(self, obj: Obj) -> None:
        name = _text(_mapping(obj.get("metadata")).get("name"))
        if name:
            self.appsets[name] = obj
            self._emit("appset", name, {"name": name})

    def drop_appset(self, name: str) -> None:
        if self.appsets.pop(name, None) is not None:
            self._emit("appset", name, None)

    def reset_appsets(self, objs: Iterable[Obj]) -> None:
        fresh = {_text(_mapping(o.get("metadata")).get("name")): o for o in objs}
        fresh.pop("", None)
        for gone in set(self.appsets) - set(fresh):
            self.drop_appset(gone)
        for obj in fresh.values():
            self.put_appset(obj)

    def set_clusters(self, views: Iterable[ClusterView]) -> None:
        fresh = {v.name: v for v in views}
        for gone in set(self.clusters) - set(fresh):
            del self.clusters[gone]
            self._emit("cluster", gone, None)
        for name, view in fresh.items():
            if self.clusters.get(name) != view:
                self.clusters[name] = view
                self._emit("cluster", name, view.public())

    # -- reading --------------------------------------------------------------------------------

    def ordered(self) -> list[AppRow]:
        if self._order is None:
            self._order = [
                r.name for r in sorted(self.rows.values(), key=lambda r: (r.rank, r.name))
            ]
        rows = self.rows
        return [rows[n] for n in self._order]

    def query(self, filters: Filters, page: int = 1, per_page: int = 50) -> Page:
        rows = self.ordered()
        if filters.active():
            rows = [r for r in rows if filters.matches(r)]
        total = len(rows)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        start = (page - 1) * per_page
        return Page(rows[start : start + per_page], total, page, pages)

    def choices(self) -> dict[str, list[str]]:
        """Values the filter menus offer."""
        clusters, projects, appsets = set(self.clusters), set(), set()
        for row in self.rows.values():
            if row.cluster:
                clusters.add(row.cluster)
            projects.add(row.project)
            if row.appset:
                appsets.add(row.appset)
        appsets |= set(self.appsets)
        return {
            "cluster": sorted(clusters),
            "project": sorted(projects),
            "appset": sorted(appsets),
            "sync": list(SYNC_ORDER),
            "health": list(HEALTH_ORDER),
        }

    def matrix(self, by: str) -> Matrix:
        """`by`: "appset" or "project". Clusters without Applications still get a row; an
        Application of no ApplicationSet falls in the column "(none)"."""
        cells: dict[str, dict[str, Cell]] = {}
        columns: set[str] = set(self.appsets) if by == "appset" else set()
        for row in self.rows.values():
            column = (row.appset if by == "appset" else row.project) or "(none)"
            columns.add(column)
            cell = cells.setdefault(row.cluster, {}).setdefault(column, Cell())
            cell.add(row)
        names = sorted(set(self.clusters) | set(cells))
        out = [
            (self.clusters.get(n) or ClusterView(name=n, reason="NotRegistered"), cells.get(n, {}))
            for n in names
        ]
        return Matrix(sorted(columns), out)

    def counts(self) -> dict[str, int]:
        total = len(self.rows)
        good = sum(1 for r in self.rows.values() if r.rank == 9)
        return {"total": total, "good": good, "problems": total - good}

    def produced_by(self, appset: str) -> list[AppRow]:
        return [r for r in self.ordered() if r.appset == appset]
