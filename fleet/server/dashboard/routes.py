"""The dashboard's pages and actions under /dashboard/, on any aiohttp application.

Pages read only the Store (fleet.server.dashboard.model): no hub request per page view. Writes
go through Sessions (auth.py): Origin + CSRF token, then TokenReview + SubjectAccessReview on the
hub, then the CLI's operation code (actions.py). Every page is a jinja2 template rendered in a
sandbox with autoescape; `?fragment=1` returns just the part the page's script swaps in when an
SSE event says something it shows changed. Responses carry a strict Content-Security-Policy
(scripts and styles only from /dashboard/static/), so an escaped-but-odd string can never run.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import anyio
import structlog
import yaml
from aiohttp import web
from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import FLEET, ApiFlavour
from fleet.appcli.errors import CliError
from fleet.appcli.hub import use_api
from fleet.git.mirror import CommitInfo
from fleet.redaction import redact
from fleet.server.dashboard import actions
from fleet.server.dashboard.auth import Access, Refused, Session, Sessions
from fleet.server.dashboard.model import Filters, Matrix, Store, appset_of, source_of
from fleet.server.dashboard.sse import EventHub

log = structlog.get_logger("fleet.server.dashboard")

HERE = Path(__file__).parent
PER_PAGE = 50
CLUSTERS_PER_PAGE = 100
MAX_FORM = 256 * 1024
"""Largest form body (a pasted ApplicationSet); the server's own body limit applies too."""
DIFF_TIMEOUT = 60.0
COMMIT_WAIT = 1.0
MAX_COMMITS = 4096
CommitReader = Callable[[str, str], Awaitable["CommitInfo | None"]]
ParamsSource = Callable[[Mapping[str, Any]], Awaitable[list[Any]]]
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STARTED = web.RequestKey("fleet.dashboard.started", float)
"""Request key: perf_counter() when the handler began (set by `timed`)."""
FILTER_FIELDS = ("cluster", "project", "appset", "sync", "health", "label", "q")


@dataclass
class Dashboard:
    """Everything the routes need. `hub` writes and reviews; `store` is read by pages."""

    store: Store
    hub: ApiClient
    namespace: str
    flavour: ApiFlavour = FLEET
    render_bin_dir: Path | None = None
    title: str = "fleet"
    events: EventHub = field(init=False)
    sessions: Sessions = field(init=False)
    env: ImmutableSandboxedEnvironment = field(init=False)
    flashes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    diffs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """session id -> (Application, diff text) shown once on its page."""
    _diff_limit: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    commits: CommitReader | None = None
    """Reads a commit's author and subject from the controller's repository cache (None in
    `fleet dashboard`, which holds no repositories: the page shows the SHA alone)."""
    _commit_cache: dict[tuple[str, str], CommitInfo | None] = field(default_factory=dict)
    params: ParamsSource | None = None
    """Evaluates an ApplicationSet's generators (the controller's clusters and repositories);
    None in `fleet dashboard`, which has neither."""
    shown_params: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    """session id -> (ApplicationSet, its parameter sets) shown once on its page."""

    def __post_init__(self) -> None:
        # fleet.appcli's operation code (reused for Sync and Rollback) reads the process's
        # API flavour; a process serves one flavour, so the dashboard's is that one.
        use_api(self.flavour.name)
        self.events = EventHub(self.store)
        self.sessions = Sessions(self.hub)
        self.env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- rendering --------------------------------------------------------------------------------

    def _render(
        self, request: web.Request, template: str, nav: str, **context: Any
    ) -> web.Response:
        started = time.perf_counter()
        response = web.Response(content_type="text/html", charset="utf-8", headers=HEADERS)
        session = self.sessions.ensure(request, response)
        fragment = request.query.get("fragment") == "1"
        text = self.env.get_template(template).render(
            fragment=fragment,
            nav=nav,
            title=self.title,
            namespace=self.namespace,
            csrf=session.csrf,
            here=request.path_qs,
            user=session.user if session.signed_in else "",
            flashes=[] if fragment else self.flashes.pop(session.id, []),
            counts=self.store.counts(),
            **context,
        )
        response.text = text
        # what the page cost the server (query + render), for the browser's devtools and the
        # benchmark; the handler's own query time is included through `started` of the caller
        elapsed = (time.perf_counter() - request.get(STARTED, started)) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return response

    def _flash(self, session: Session | None, level: str, message: str) -> None:
        if session is not None:
            self._forget_ended()
            held = self.flashes.setdefault(session.id, [])
            held.append((level, redact(message)[:2000]))
            del held[:-5]  # the last five, for a client that posts without reading

    def _forget_ended(self) -> None:
        """Messages, diffs and parameter sets of sessions that ended are dropped, so a client
        that posts and never reads cannot grow them."""
        for held in (self.flashes, self.diffs, self.shown_params):
            if len(held) > 64:
                for sid in [s for s in held if not self.sessions.live(s)]:
                    held.pop(sid, None)

    # -- pages ------------------------------------------------------------------------------------

    async def fleet(self, request: web.Request) -> web.Response:
        """Clusters as rows (100 a page, filtered by name), ApplicationSets or Projects as
        columns: 1,000 clusters stay a page of 100 rows."""
        query = request.query
        by = "project" if query.get("by") == "project" else "appset"
        text = query.get("q", "")[:200].lower()
        matrix = self.store.matrix(by)
        rows = [r for r in matrix.rows if text in r[0].name.lower()] if text else matrix.rows
        try:
            number = int(query.get("page", "1"))
        except ValueError:
            number = 1
        pages = max(1, -(-len(rows) // CLUSTERS_PER_PAGE))
        number = min(max(1, number), pages)
        start = (number - 1) * CLUSTERS_PER_PAGE
        shown = Matrix(matrix.columns, rows[start : start + CLUSTERS_PER_PAGE])
        kept = {k: query[k] for k in ("by", "q") if query.get(k)}
        return self._render(
            request,
            "fleet.html",
            "fleet",
            matrix=shown,
            by=by,
            clusters=len(rows),
            page=number,
            pages=pages,
            kept=kept,
            text=text,
        )

    async def apps(self, request: web.Request) -> web.Response:
        query = request.query
        filters = Filters(
            cluster=query.get("cluster", "")[:253],
            project=query.get("project", "")[:253],
            appset=query.get("appset", "")[:253],
            sync=query.get("sync", "")[:32],
            health=query.get("health", "")[:32],
            label=query.get("label", "")[:317],
            text=query.get("q", "")[:200],
        )
        try:
            number = int(query.get("page", "1"))
        except ValueError:
            number = 1
        page = self.store.query(filters, number, PER_PAGE)
        kept = {k: query[k] for k in FILTER_FIELDS if query.get(k)}
        return self._render(
            request,
            "apps.html",
            "apps",
            page=page,
            filters=filters,
            kept=kept,
            choices=self.store.choices(),
        )

    async def app(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        obj = self.store.apps.get(name)
        if obj is None:
            return self._missing(request, f"Application {name!r} is not on the hub (deleted?)")
        session = self.sessions.get(request)
        diff = self.diffs.pop(session.id, None) if session is not None else None
        view = application_view(obj)
        return self._render(
            request,
            "app.html",
            "apps",
            app=view,
            commit=await self._commit(obj),
            row=self.store.rows.get(name),
            diff=diff[1] if diff is not None and diff[0] == name else None,
        )

    async def appset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        obj = self.store.appsets.get(name)
        if obj is None:
            return self._missing(request, f"ApplicationSet {name!r} is not on the hub")
        session = self.sessions.get(request)
        diff = self.diffs.pop(session.id, None) if session is not None else None
        shown = self.shown_params.pop(session.id, None) if session is not None else None
        return self._render(
            request,
            "appset.html",
            "fleet",
            appset=appset_view(obj),
            params=shown[1] if shown is not None and shown[0] == name else None,
            can_params=self.params is not None,
            rows=self.store.produced_by(name),
            diff=diff[1] if diff is not None and diff[0] == f"appset:{name}" else None,
        )

    async def _commit(self, app: Mapping[str, Any]) -> CommitInfo | None:
        """The synced commit's author and subject, cached; never more than a second's wait."""
        if self.commits is None:
            return None
        repo = str(source_of(app).get("repoURL") or "")
        sha = str(_m(_m(app.get("status")).get("sync")).get("revision") or "")
        if not repo or len(sha) != 40:
            return None
        key = (repo, sha)
        if key not in self._commit_cache:
            with anyio.move_on_after(COMMIT_WAIT):
                info = await self.commits(repo, sha)
                if len(self._commit_cache) >= MAX_COMMITS:
                    self._commit_cache.pop(next(iter(self._commit_cache)))
                self._commit_cache[key] = info
        return self._commit_cache.get(key)

    def _missing(self, request: web.Request, message: str) -> web.Response:
        response = self._render(request, "missing.html", "", message=message)
        response.set_status(404)
        return response

    # -- writes -----------------------------------------------------------------------------------

    async def _form(self, request: web.Request) -> Mapping[str, Any]:
        if (request.content_length or 0) > MAX_FORM:
            raise Refused(413, f"the form is larger than {MAX_FORM} bytes")
        return await request.post()

    async def _write(
        self,
        request: web.Request,
        back: str,
        access: Callable[[Mapping[str, Any]], Access | None],
        work: Callable[[Session, Mapping[str, Any]], Awaitable[str]],
    ) -> web.Response:
        """The one path of every write: CSRF, review, work, a message, back to the page."""
        session: Session | None = None
        try:
            form = await self._form(request)
            session = self.sessions.check_write(request, form)
            wanted = access(form)
            if wanted is not None:
                await self.sessions.authorise(session, wanted)
            message = await work(session, form)
            self._flash(session, "ok", message)
        except Refused as refused:
            if session is None:  # no session to carry the message: answer at once
                return web.Response(status=refused.status, text=f"{refused}\n", headers=HEADERS)
            self._flash(session, "error", str(refused))
        except CliError as error:
            self._flash(session, "error", str(error))
        except TimeoutError:
            self._flash(session, "error", f"gave up after {DIFF_TIMEOUT:g}s; retry later")
        except Exception as error:  # a bug or an unforeseen input: logged, never a 500 page
            log.exception("dashboard.write_failed", path=request.path)
            self._flash(session, "error", f"failed ({type(error).__name__}); see the logs")
        raise web.HTTPSeeOther(back, headers=HEADERS)

    def _app_access(self, name: str) -> Access:
        kind = self.flavour.application
        return Access("update", kind.group, kind.plural, self.namespace, name)

    async def sync(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def work(session: Session, form: Mapping[str, Any]) -> str:
            return await actions.sync(
                self.hub,
                self.namespace,
                name,
                session.user,
                prune=form.get("prune") == "on",
                dry_run=form.get("dry_run") == "on",
            )

        return await self._write(request, _app_url(name), lambda _f: self._app_access(name), work)

    async def refresh(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def work(_session: Session, _form: Mapping[str, Any]) -> str:
            return await actions.refresh(self.hub, self.namespace, name)

        return await self._write(request, _app_url(name), lambda _f: self._app_access(name), work)

    async def rollback(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def work(session: Session, form: Mapping[str, Any]) -> str:
            try:
                history_id = int(str(form.get("id") or ""))
            except ValueError:
                raise Refused(400, "rollback: the history ID must be a number") from None
            return await actions.rollback(self.hub, self.namespace, name, session.user, history_id)

        return await self._write(request, _app_url(name), lambda _f: self._app_access(name), work)

    async def live_diff(self, request: web.Request) -> web.Response:
        """The CLI's `fleet app diff` (reads the member cluster and git): signed-in readers
        of the Application only (verb get), two at a time."""
        name = request.match_info["name"]
        kind = self.flavour.application

        async def work(session: Session, _form: Mapping[str, Any]) -> str:
            from fleet.appcli.livediff import live_diff

            async with self._diff_limit:
                try:
                    with anyio.fail_after(DIFF_TIMEOUT):
                        text = await live_diff(
                            self.hub, self.namespace, name, render_bin_dir=self.render_bin_dir
                        )
                except TimeoutError:
                    raise Refused(504, f"the diff of {name} took over {DIFF_TIMEOUT:g}s") from None
            self.diffs[session.id] = (name, redact(text) or "(no difference: in sync)")
            return f"live diff of {name} computed"

        return await self._write(
            request,
            _app_url(name) + "#diff",
            lambda _f: Access("get", kind.group, kind.plural, self.namespace, name),
            work,
        )

    async def appset_diff(self, request: web.Request) -> web.Response:
        """`fleet appset diff` of a pasted document: it reads git with the hub's repository
        credentials, so only users who may update ApplicationSets get it."""
        name = request.match_info["name"]
        kind = self.flavour.application_set

        async def work(session: Session, form: Mapping[str, Any]) -> str:
            from fleet.appset_diff import appset_diff

            text = str(form.get("document") or "")
            if not text.strip():
                raise Refused(400, "paste an ApplicationSet document to compare")
            out, err = StringIO(), StringIO()
            async with self._diff_limit:
                with tempfile.TemporaryDirectory(prefix="fleet-dashboard-") as tmp:
                    path = Path(tmp) / "appset.yaml"
                    path.write_text(text, encoding="utf-8")
                    with anyio.move_on_after(DIFF_TIMEOUT):
                        code = await appset_diff(
                            str(path),
                            hub=self.hub,
                            namespace=self.namespace,
                            stdout=out,
                            stderr=err,
                        )
            result = out.getvalue() or err.getvalue() or "(no output)"
            self.diffs[session.id] = (f"appset:{name}", redact(result))
            return f"appset diff finished (exit {code})"

        return await self._write(
            request,
            f"/dashboard/appsets/{_quote(name)}#diff",
            lambda _f: Access("update", kind.group, kind.plural, self.namespace),
            work,
        )

    async def appset_params(self, request: web.Request) -> web.Response:
        """Each generator's parameter sets now: signed-in readers of ApplicationSets."""
        name = request.match_info["name"]
        kind = self.flavour.application_set

        async def work(session: Session, _form: Mapping[str, Any]) -> str:
            obj = self.store.appsets.get(name)
            if obj is None or self.params is None:
                raise Refused(404, f"no parameter sets for ApplicationSet {name!r} here")
            async with self._diff_limit:
                with anyio.fail_after(DIFF_TIMEOUT):
                    found = await self.params(obj)
            self.shown_params[session.id] = (name, found)
            return f"parameter sets of {name} evaluated"

        return await self._write(
            request,
            f"/dashboard/appsets/{_quote(name)}#params",
            lambda _f: Access("get", kind.group, kind.plural, self.namespace, name),
            work,
        )

    async def login(self, request: web.Request) -> web.Response:
        back = _safe_back(request)

        async def work(session: Session, form: Mapping[str, Any]) -> str:
            await self.sessions.sign_in(session, str(form.get("token") or ""))
            return f"signed in as {session.user}"

        return await self._write(request, back, lambda _f: None, work)

    async def logout(self, request: web.Request) -> web.Response:
        async def work(session: Session, _form: Mapping[str, Any]) -> str:
            self.sessions.sign_out(session)
            return "signed out"

        return await self._write(request, _safe_back(request), lambda _f: None, work)

    # -- wiring -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        timed = _timed
        r.add_get("/dashboard", _redirect_home)
        r.add_get("/dashboard/", timed(self.fleet))
        r.add_get("/dashboard/apps", timed(self.apps))
        r.add_get("/dashboard/apps/{name}", timed(self.app))
        r.add_post("/dashboard/apps/{name}/sync", self.sync)
        r.add_post("/dashboard/apps/{name}/refresh", self.refresh)
        r.add_post("/dashboard/apps/{name}/rollback", self.rollback)
        r.add_post("/dashboard/apps/{name}/diff", self.live_diff)
        r.add_get("/dashboard/appsets/{name}", timed(self.appset))
        r.add_post("/dashboard/appsets/{name}/diff", self.appset_diff)
        r.add_post("/dashboard/appsets/{name}/params", self.appset_params)
        r.add_post("/dashboard/login", self.login)
        r.add_post("/dashboard/logout", self.logout)
        r.add_get("/dashboard/events", self.events.serve)
        r.add_static("/dashboard/static", HERE / "static", append_version=False)


def _timed(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def timed(request: web.Request) -> web.Response:
        request[STARTED] = time.perf_counter()
        return await handler(request)

    return timed


async def _redirect_home(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard/")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _app_url(name: str) -> str:
    return f"/dashboard/apps/{_quote(name)}"


def _safe_back(request: web.Request) -> str:
    """Where a sign-in returns: a path of this dashboard, never another site."""
    back = str(request.query.get("back") or "/dashboard/")
    if not back.startswith("/dashboard") or back.startswith("//") or "\\" in back:
        return "/dashboard/"
    return back


# -- view models of one object ------------------------------------------------------------------


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _s(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _yaml(value: Any) -> str:
    try:
        return redact(yaml.safe_dump(value, sort_keys=False, default_flow_style=False))
    except yaml.YAMLError:
        return redact(json.dumps(value, default=str, indent=2))


def application_view(app: Mapping[str, Any]) -> dict[str, Any]:
    """The Application page's fields, as strings and lists of strings-only mappings."""
    meta, spec, status = _m(app.get("metadata")), _m(app.get("spec")), _m(app.get("status"))
    source, dest = source_of(app), _m(spec.get("destination"))
    sync, health = _m(status.get("sync")), _m(status.get("health"))
    state = _m(status.get("operationState"))
    result = _m(state.get("syncResult"))
    resources = [
        {
            "group": _s(r.get("group")),
            "kind": _s(r.get("kind")),
            "namespace": _s(r.get("namespace")),
            "name": _s(r.get("name")),
            "sync": _s(r.get("status")) + (" (prune)" if r.get("requiresPruning") else ""),
            "health": _s(_m(r.get("health")).get("status")),
            "message": _s(_m(r.get("health")).get("message")),
        }
        for r in _l(status.get("resources"))
    ]
    results = [
        {
            "kind": _s(r.get("kind")),
            "namespace": _s(r.get("namespace")),
            "name": _s(r.get("name")),
            "status": _s(r.get("status")),
            "hook": _s(r.get("hookType")),
            "phase": _s(r.get("hookPhase")),
            "message": _s(r.get("message")),
        }
        for r in _l(result.get("resources"))
    ]
    history = [
        {
            "id": _s(h.get("id")),
            "revision": _s(h.get("revision")),
            "deployed": _s(h.get("deployedAt")),
            "started": _s(h.get("deployStartedAt")),
            "by": _s(_m(h.get("initiatedBy")).get("username")),
        }
        for h in reversed(_l(status.get("history")))
    ]
    automated = _m(spec.get("syncPolicy")).get("automated")
    return {
        "name": _s(meta.get("name")),
        "namespace": _s(meta.get("namespace")),
        "project": _s(spec.get("project")) or "default",
        "appset": appset_of(app),
        "repo": redact(_s(source.get("repoURL") or source.get("chart"))),
        "path": _s(source.get("path")),
        "target": _s(source.get("targetRevision")) or "HEAD",
        "revision": _s(sync.get("revision")),
        "cluster": _s(dest.get("name") or dest.get("server")),
        "dest_namespace": _s(dest.get("namespace")),
        "sync": _s(sync.get("status")) or "Unknown",
        "health": _s(health.get("status")) or "Unknown",
        "health_message": _s(health.get("message")),
        "automated": automated is not None and automated is not False,
        "self_heal": bool(_m(automated).get("selfHeal")),
        "pending": bool(app.get("operation")),
        "operation": {
            "phase": _s(state.get("phase")),
            "message": redact(_s(state.get("message"))),
            "started": _s(state.get("startedAt")),
            "finished": _s(state.get("finishedAt")),
            "revision": _s(
                result.get("revision") or _m(_m(state.get("operation")).get("sync")).get("revision")
            ),
            "by": _s(_m(_m(state.get("operation")).get("initiatedBy")).get("username")),
        },
        "conditions": [
            {
                "type": _s(c.get("type")),
                "message": redact(_s(c.get("message"))),
                "since": _s(c.get("lastTransitionTime")),
            }
            for c in _l(status.get("conditions"))
        ],
        "resources": resources,
        "results": results,
        "hooks": [r for r in results if r["hook"]],
        "history": history,
        "labels": sorted((str(k), _s(v)) for k, v in _m(meta.get("labels")).items()),
    }


def appset_view(appset: Mapping[str, Any]) -> dict[str, Any]:
    meta, spec, status = (
        _m(appset.get("metadata")),
        _m(appset.get("spec")),
        _m(appset.get("status")),
    )
    generators = spec.get("generators")
    return {
        "name": _s(meta.get("name")),
        "generators": [_yaml(g) for g in generators] if isinstance(generators, list) else [],
        "template": _yaml(spec.get("template")) if spec.get("template") else "",
        "conditions": [
            {
                "type": _s(c.get("type")),
                "status": _s(c.get("status")),
                "reason": _s(c.get("reason")),
                "message": redact(_s(c.get("message"))),
            }
            for c in _l(status.get("conditions"))
        ],
        "resources": [
            {
                "name": _s(r.get("name")),
                "status": _s(r.get("status")),
                "health": _s(_m(r.get("health")).get("status")),
            }
            for r in _l(status.get("resources"))
        ],
    }
