"""`fleet demo`: set up the world, run the controller, show it converge, drift, roll out.

Steps, each waited for against the real hub and member APIs (never a fixed sleep):
1. converge: every Application Synced and Healthy at the repository's first commit;
2. drift: scale the guestbook Deployment on a production member by hand (as `kubectl scale`
   would), then time how long fleet's self-heal takes to put it back;
3. commit: change the production overlay in git, tell the controller by a signed GitHub-style
   push webhook, and time until every Application is Synced and Healthy at the new commit and
   the members hold the new objects.

Exit 0 when all three converge, 1 when the `--timeout` runs out first (with what did not
converge: which Application, its sync/health, conditions and last operation), 130 on Ctrl-C.
The controller's logs go to a file in the workdir, so they never garble the view.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import math
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import anyio
import git
import structlog
from kubernetes_asyncio.client import ApiClient
from rich.console import Console

import fleet
from fleet.api.crds import CrdError, CrdsNotServedError
from fleet.api.resources import APPLICATION, DEFAULT_NAMESPACE
from fleet.controllers.runtime import Controller, ControllerSettings
from fleet.demo import repo_content
from fleet.demo.configrepo import CONFIG_DIR, GIT_DIR
from fleet.demo.scenario import MEMBERS, Scenario, ScenarioError, scenario
from fleet.demo.view import WIDTH, DemoView, LiveView, PlainView, Step, app_rows
from fleet.git.webhooks import WEBHOOK_PATH, WebhookSecrets
from fleet.kube import KubeError, NotFound, request_json
from fleet.render import RenderTools

log = structlog.get_logger("fleet.demo")

EXIT_OK = 0
EXIT_TIMEOUT = 1
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
GIT_POLL_INTERVAL = 3.0
POLL = 0.1
"""Seconds between checks of the member clusters while a step waits."""
TRACK_INTERVAL = 0.25
"""Seconds between lists of the hub's Applications (the view's refresh rate)."""
CALL_TIMEOUT = 10.0
DRIFT_CLUSTER = "prod-eu"
DRIFT_REPLICAS = 0
DWELL = 3.0
"""Seconds a finished step stays on the live screen before the next starts."""
LOG_NAME = "fleet-demo.log"
TITLE = (
    f"fleet demo: hub + {len(MEMBERS)} clusters, ApplicationSet "
    f"'{repo_content.APPSET_NAME}' ({len(repo_content.APPS)} apps per cluster)"
)


@dataclass
class Options:
    workdir: Path
    timeout: float
    live: bool
    log_path: Path
    render_tools: RenderTools | None = None
    """None: discovered (the checkout's .cache/bin, then PATH)."""
    stay: bool = False
    """After the steps, keep the world running (dashboard, kubeconfigs) until Ctrl-C."""
    dwell: float = 0.0
    """Seconds each finished step stays on screen before the next starts (the live view)."""
    stayed: bool = False
    """Set once the steps are over and the demo stays: Ctrl-C is then the normal end."""


def expected_apps() -> set[str]:
    """The Application names the ApplicationSet generates: `<app>-<cluster>`."""
    return {f"{app}-{member.name}" for app in repo_content.APPS for member in MEMBERS}


def production_members() -> list[str]:
    return [m.name for m in MEMBERS if m.labels.get("env") == "production"]


def _guestbook_paths() -> tuple[str, str]:
    ns = repo_content.GUESTBOOK_NAMESPACE
    return (
        f"/apis/apps/v1/namespaces/{ns}/deployments/{repo_content.GUESTBOOK_DEPLOYMENT}",
        f"/api/v1/namespaces/{ns}/configmaps/{repo_content.GUESTBOOK_CONFIGMAP}",
    )


# -- the hub's Applications, followed by a watch ---------------------------------------------------


@dataclass
class AppTracker:
    """Every Application in the hub namespace, listed about four times a second.

    A plain poll rather than a watch: the demo's verdicts ("all converged") rest on this
    snapshot, and a list is always the hub's current state, whatever happened to a stream.
    Nine small objects four times a second cost the hub nothing.
    """

    hub: ApiClient
    namespace: str
    cluster_names: Mapping[str, str]
    view: DemoView
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                listing = await request_json(
                    self.hub, "GET", APPLICATION.collection(self.namespace), timeout=CALL_TIMEOUT
                )
            except KubeError as error:
                failures += 1
                log.warning("demo.list_failed", reason=error.reason, failures=failures)
                await anyio.sleep(min(0.25 * 2**failures, 5.0))
                continue
            failures = 0
            items = listing.get("items") or []
            self.apps = {item["metadata"]["name"]: item for item in items}
            self._changed()
            await anyio.sleep(TRACK_INTERVAL)

    def _changed(self) -> None:
        self.view.update(app_rows(self.apps.values(), self.cluster_names))

    def not_converged(self, revision: str) -> list[str]:
        """Why each expected Application is not yet Synced and Healthy at `revision`."""
        problems = [
            f"{name}: not generated yet" for name in sorted(expected_apps() - set(self.apps))
        ]
        for name in sorted(self.apps):
            problem = describe_unconverged(self.apps[name], revision)
            if problem:
                problems.append(f"{name}: {problem}")
        return problems


def describe_unconverged(app: Mapping[str, Any], revision: str) -> str:
    """ "" when the Application is Synced and Healthy at `revision`; else what it reports."""
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    at = str(sync.get("revision") or "")
    if sync.get("status") == "Synced" and health.get("status") == "Healthy" and at == revision:
        return ""
    parts = [
        f"sync {sync.get('status') or 'Unknown'} at {at[:7] or '-'} (want {revision[:7]}), "
        f"health {health.get('status') or 'Unknown'}"
    ]
    if health.get("message"):
        parts.append(f"health message: {health['message']}")
    for condition in status.get("conditions") or []:
        parts.append(f"condition {condition.get('type')}: {condition.get('message', '')}")
    operation = status.get("operationState") or {}
    if operation:
        parts.append(f"last operation {operation.get('phase')}: {operation.get('message', '')}")
    return "; ".join(parts)


# -- waiting ------------------------------------------------------------------------------------


async def wait_until(check: Callable[[], Awaitable[bool]], interval: float = POLL) -> None:
    """Until `check()` is true; the caller's deadline (a cancel scope) bounds it."""
    while not await check():
        await anyio.sleep(interval)


async def _get(api: ApiClient, path: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = await request_json(api, "GET", path, timeout=CALL_TIMEOUT)
    except NotFound:
        return None
    return obj


@dataclass
class Demo:
    view: DemoView
    steps: list[Step]
    waiting_for: str = ""
    """What the running step waits for, in words (for the timeout message)."""
    revision: str = ""
    """The commit every Application should reach in the running step."""
    tracker: AppTracker | None = None

    def _set(self, number: int, state: str, detail: str) -> None:
        step = self.steps[number - 1]
        step.state, step.detail = state, detail
        self.view.step_changed(number)

    async def _all_converged(self, revision: str) -> bool:
        assert self.tracker is not None
        return not self.tracker.not_converged(revision)

    async def converge(self, world: Scenario) -> None:
        revision = self.revision = world.initial_revision
        self.view.set_target(revision)
        self.waiting_for = f"every Application Synced and Healthy at {revision[:7]}"
        self._set(1, "running", f"{len(expected_apps())} Applications to {revision[:7]}")
        start = time.monotonic()
        await wait_until(lambda: self._all_converged(revision))
        took = time.monotonic() - start
        self._set(
            1, "done", f"{len(expected_apps())} Applications Synced and Healthy in {took:.1f} s"
        )

    async def drift(self, world: Scenario) -> None:
        deployment, _ = _guestbook_paths()
        where = f"Deployment {repo_content.GUESTBOOK_DEPLOYMENT} on {DRIFT_CLUSTER}"
        async with world.member_client(DRIFT_CLUSTER) as member:
            current = await _get(member, deployment) or {}
            wanted = int((current.get("spec") or {}).get("replicas", 1))
            await request_json(
                member,
                "PATCH",
                deployment,
                body={"spec": {"replicas": DRIFT_REPLICAS}},
                content_type="application/merge-patch+json",
                query={"fieldManager": "kubectl-scale"},
                timeout=CALL_TIMEOUT,
            )
            start = time.monotonic()
            edit = f"scaled {where} {wanted} -> {DRIFT_REPLICAS} by hand"
            self._set(2, "running", f"{edit}; waiting for fleet to revert it")
            self.waiting_for = f"{where} back at {wanted} replicas"

            async def reverted() -> bool:
                obj = await _get(member, deployment) or {}
                return (obj.get("spec") or {}).get("replicas") == wanted

            await wait_until(reverted, interval=0.02)
            took_ms = (time.monotonic() - start) * 1000
        self._set(2, "done", f"{edit} -> reverted by fleet in {took_ms:.0f} ms")
        self.waiting_for = f"every Application Synced and Healthy at {world.initial_revision[:7]}"
        await wait_until(lambda: self._all_converged(world.initial_revision))

    async def rollout(self, world: Scenario, webhook: Callable[[], Awaitable[str]]) -> None:
        start = time.monotonic()
        sha = await anyio.to_thread.run_sync(
            world.repo.commit,
            repo_content.rollout_files(),
            f"guestbook: {repo_content.ROLLOUT_REPLICAS} replicas in production, release 2",
        )
        change = (
            f"guestbook production overlay: replicas {repo_content.REPLICAS['production']} -> "
            f"{repo_content.ROLLOUT_REPLICAS}, MESSAGE {repo_content.ROLLOUT_MESSAGE!r}"
        )
        self.revision = sha
        self.view.set_target(sha)
        self._set(3, "running", f"git commit {sha[:7]} ({change}); {await webhook()}")
        self.waiting_for = (
            f"every Application Synced and Healthy at {sha[:7]}, and guestbook on "
            f"{', '.join(production_members())} at {repo_content.ROLLOUT_REPLICAS} replicas "
            "with the new MESSAGE"
        )
        deployment, configmap = _guestbook_paths()
        clients = {name: world.member_client(name) for name in production_members()}
        try:

            async def rolled_out() -> bool:
                if not await self._all_converged(sha):
                    return False
                for member in clients.values():
                    deploy = await _get(member, deployment) or {}
                    config = await _get(member, configmap) or {}
                    if (deploy.get("spec") or {}).get("replicas") != repo_content.ROLLOUT_REPLICAS:
                        return False
                    if (config.get("data") or {}).get("MESSAGE") != repo_content.ROLLOUT_MESSAGE:
                        return False
                return True

            await wait_until(rolled_out)
        finally:
            for member in clients.values():
                await member.close()
        took = time.monotonic() - start
        self._set(
            3,
            "done",
            f"git commit {sha[:7]} -> rolled out to {len(expected_apps())} Applications in "
            f"{took:.1f} s (guestbook on {', '.join(clients)}: "
            f"{repo_content.ROLLOUT_REPLICAS} replicas, new MESSAGE)",
        )


# -- the webhook a git host would send ------------------------------------------------------------


def github_push(repo_url: str, sha: str, secret: str) -> tuple[bytes, dict[str, str]]:
    """A GitHub push event body for `repo_url` and its headers, signed with `secret`."""
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": sha,
            "repository": {"clone_url": repo_url, "html_url": repo_url},
        }
    ).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": f"sha256={signature}",
    }
    return body, headers


async def send_webhook(port: int, repo_url: str, sha: str, secret: str) -> str:
    """POST the push event; a failure only means fleet finds the commit by polling instead."""
    body, headers = github_push(repo_url, sha, secret)
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT)) as session,
            session.post(url, data=body, headers=headers) as reply,
        ):
            if reply.status == 202:
                return "push webhook sent"
            return f"push webhook answered {reply.status}; waiting for the git poll"
    except (aiohttp.ClientError, TimeoutError) as error:
        return f"push webhook failed ({type(error).__name__}); waiting for the git poll"


# -- running ------------------------------------------------------------------------------------


def render_tools() -> RenderTools:
    """kustomize and helm from the checkout's .cache/bin (`make render-binaries`), else PATH:
    found wherever `fleet demo` is started from."""
    return RenderTools.discover(Path(fleet.__file__).resolve().parents[1] / ".cache" / "bin")


async def run_demo(options: Options, out: TextIO, err: TextIO) -> int:
    """The whole demo; returns the exit code."""
    steps = [Step("converge"), Step("drift"), Step("rollout")]
    view: LiveView | PlainView
    if options.live:
        console = Console(file=out)
        console.width = min(console.width, WIDTH)
        view = LiveView(console, TITLE, len(expected_apps()))
    else:
        view = PlainView(out, len(expected_apps()))
    view.set_steps(steps)
    demo = Demo(view, steps)
    view.note(TITLE)
    view.note(f"workdir {options.workdir}")
    view.note(f"controller log {options.log_path}")
    tools = options.render_tools or render_tools()
    if tools.kustomize is None and tools.kubectl is None:
        view.note(
            "warning: neither kustomize nor kubectl found (`make render-binaries` builds "
            "kustomize into .cache/bin): the guestbook Applications will not converge"
        )
    secret = secrets.token_hex(16)
    settings = ControllerSettings(
        cache_dir=options.workdir / "cache",
        namespace=DEFAULT_NAMESPACE,
        listen_host="127.0.0.1",
        listen_port=0,
        git_poll_interval=GIT_POLL_INTERVAL,
        resync_period=180.0,
        webhook_secrets=WebhookSecrets(github=secret),
        render_tools=tools,
    )
    with anyio.move_on_after(options.timeout) as deadline:
        demo.waiting_for = "the simulated clusters, the git repository and the controller"
        async with scenario(options.workdir, say=view.note) as world:
            demo.tracker = AppTracker(world.hub, world.namespace, world.cluster_names(), view)
            async with anyio.create_task_group() as tg:
                controller = Controller(world.hub, settings)
                await tg.start(controller.run)
                view.note(
                    f"controller: running, API and webhook on http://127.0.0.1:{controller.port}"
                )
                tg.start_soon(demo.tracker.run)

                async def webhook() -> str:
                    return await send_webhook(
                        controller.port, world.repo_url, world.repo.head(), secret
                    )

                with view:
                    await demo.converge(world)
                    await anyio.sleep(options.dwell)
                    await demo.drift(world)
                    await anyio.sleep(options.dwell)
                    await demo.rollout(world, webhook)
                    if options.stay:
                        deadline.deadline = math.inf  # --timeout bounds the steps only
                        options.stayed = True
                        view.block(explore_lines(world, controller.port))
                        await anyio.sleep_forever()
                tg.cancel_scope.cancel()
    if deadline.cancelled_caught:
        report_timeout(demo, options.timeout, err)
        err.write(f"fleet demo: controller log in {options.log_path}\n")
        return EXIT_TIMEOUT
    out.write("fleet demo: every step converged\n")
    return EXIT_OK


def explore_lines(world: Scenario, port: int) -> list[str]:
    """What to do next, in lines of at most 80 columns (each path on a line of its own)."""
    hub = world.kubeconfig("hub")
    lines = [
        "",
        "The demo keeps running: explore it, then press Ctrl-C to stop.",
        f"  dashboard: http://127.0.0.1:{port}/dashboard/",
        "  (Sync, Refresh and Rollback need a sign-in: the hub's admin token is",
        "  the `token:` line of the hub's kubeconfig)",
        "  the hub, with kubectl and fleet:",
        f"  export KUBECONFIG={hub}",
        f"  kubectl get fapp,fappset,fcl -n {world.namespace}",
        f"  fleet app list -n {world.namespace}",
        f"  fleet app diff guestbook-{DRIFT_CLUSTER} -n {world.namespace}",
        "  kubectl apply -f examples/matrix.yaml   (more in examples/README.md)",
        "  the members (kubectl --kubeconfig FILE get deploy -A):",
    ]
    lines += [f"  {world.kubeconfig(m.name)}" for m in MEMBERS]
    return lines


def report_timeout(demo: Demo, timeout: float, err: TextIO) -> None:
    running = next(
        (i for i, step in enumerate(demo.steps, start=1) if step.state == "running"), None
    )
    where = f"step {running} ({demo.steps[running - 1].title})" if running else "setup"
    if running:
        demo.steps[running - 1].state = "failed"
    err.write(f"fleet demo: timed out after {timeout:g} s in {where}\n")
    err.write(f"  waiting for: {demo.waiting_for}\n")
    if demo.tracker is not None:
        for problem in demo.tracker.not_converged(demo.revision):
            err.write(f"  {problem}\n")
    err.flush()


def _log_to_file(path: Path, level: str) -> Callable[[], None]:
    """Send structlog and stdlib logging to `path` (JSON lines); returns the undo."""
    stream = path.open("a", encoding="utf-8", buffering=1)
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(logging.WARNING)

    def undo() -> None:
        structlog.configure(**saved)
        root.handlers, root.level = saved_handlers, saved_level
        stream.close()

    return undo


EXPECTED_FAILURES: tuple[type[Exception], ...] = (
    KubeError,
    ScenarioError,
    CrdError,
    CrdsNotServedError,
    OSError,
    git.GitCommandError,
)
"""Failures the demo explains in one line (with the log's path) instead of a traceback."""


def _expected_failure(error: BaseException) -> Exception | None:
    """The one expected failure inside `error` (task groups wrap errors in groups), if any."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error if isinstance(error, EXPECTED_FAILURES) else None


def _describe(error: Exception) -> str:
    if isinstance(error, KubeError):
        return f"{error.reason}: {error.message}"
    if isinstance(error, git.GitCommandError):
        return f"git {' '.join(map(str, error.command[1:3]))} failed: {error.stderr.strip()}"
    return str(error)


def _used_workdir(workdir: Path) -> str | None:
    """A previous demo's repository in `workdir`, which a new one must not mix with."""
    for name in (CONFIG_DIR, GIT_DIR):
        if (workdir / name).exists():
            return str(workdir / name)
    return None


def main(args: argparse.Namespace) -> int:
    """`fleet demo`: see the module docstring."""
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="fleet-demo-")) if temporary else args.workdir
    workdir = workdir.resolve()
    used = _used_workdir(workdir)
    if used:
        print(
            f"fleet demo: --workdir {workdir} already holds a demo ({used}); "
            "give a new or empty folder",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    workdir.mkdir(parents=True, exist_ok=True)
    options = Options(
        workdir=workdir,
        timeout=args.timeout,
        live=not args.once and sys.stdout.isatty(),
        log_path=workdir / LOG_NAME,
        stay=not args.once,
        dwell=DWELL if not args.once and sys.stdout.isatty() else 0.0,
    )
    undo_logging = _log_to_file(options.log_path, getattr(args, "log_level", "info"))
    code = EXIT_INTERRUPTED
    try:
        code = anyio.run(run_demo, options, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        if options.stayed:  # the steps were done: Ctrl-C is how the demo ends
            print("fleet demo: stopped", file=sys.stderr)
            code = EXIT_OK
        else:
            print("fleet demo: interrupted", file=sys.stderr)
    except BaseException as error:
        failure = _expected_failure(error)
        if failure is None:
            raise
        print(f"fleet demo: failed: {_describe(failure)}", file=sys.stderr)
        print(f"fleet demo: details in {options.log_path}", file=sys.stderr)
        code = EXIT_FAILED
    finally:
        undo_logging()
        failed = code not in (EXIT_OK, EXIT_INTERRUPTED)
        if temporary and not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        elif temporary or args.keep:
            # A failed run's log and repositories are what explains it: never delete them.
            print(f"fleet demo: workdir kept at {workdir}", file=sys.stderr)
    return code
