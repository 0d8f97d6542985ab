"""Real kube-apiservers on loopback: one etcd, a hub and N member clusters, no Docker.

Why real servers: the simulator in ``fleet.sim`` is only as trusted as the contract suite that
runs against both it and a real API server (see the design). Admission, validation, RBAC,
server-side apply, watch semantics and status subresources come from the real code here.

What runs: one ``etcd`` (plain HTTP on 127.0.0.1, ``--unsafe-no-fsync``: test data is throwaway)
and one ``kube-apiserver`` per cluster, each with its own ``--etcd-prefix``, CA, serving
certificate, service-account issuer and signing key. No controller-manager, scheduler or kubelet
runs, so:

- workload ``status`` stays empty unless ``e2e.realapi.status_agent`` fills it in;
- namespaces being deleted stay ``Terminating`` (no namespace controller empties them) and
  foreground deletion never finishes (no garbage collector): tests delete objects, not namespaces;
- the ``ServiceAccount`` admission plugin is off, because without the token controller no
  namespace gets its ``default`` ServiceAccount and every Pod create would be refused.

Credentials per cluster: a static bearer token for ``fleet-admin`` (group ``system:masters``) in
the kubeconfig, an admin client certificate, and a read-only ServiceAccount token (bound to the
``view`` ClusterRole, minted with the TokenRequest API) for 403 tests.

Processes run in their own process groups and are killed on ``stop()``, at interpreter exit
(``atexit``) and, when started from the main thread, by the kernel if this process dies
(``PR_SET_PDEATHSIG``): a crashed test run never leaves servers behind.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from e2e.realapi.pki import ClusterPki, make_cluster_pki

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN_DIR = REPO_ROOT / ".cache" / "bin"
KUBE_APISERVER = "kube-apiserver"
KUBE_CONTROLLER_MANAGER = "kube-controller-manager"
ETCD = "etcd"
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
    "serviceaccount-controller",
)
"""The controllers whose effects API clients see: owner references, namespace deletion, role
aggregation, the kube-root-ca.crt ConfigMap and `default` ServiceAccounts. Workload controllers
stay off: the status agent, not a Deployment controller, owns workload status here."""

ADMIN_USER = "fleet-admin"
READONLY_SA = "fleet-readonly"
READONLY_NAMESPACE = "kube-system"
SERVICE_CIDR = "10.96.0.0/16"

_STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
_POLL = 0.2
_HTTP_TIMEOUT = 5.0
_PORT_RETRIES = 3
_LOG_TAIL_LINES = 40


class RealApiError(RuntimeError):
    """A server did not start or a bootstrap call failed; the message carries the log tail."""


class BinariesMissingError(RealApiError):
    """kube-apiserver or etcd is not built; tests skip on this."""


@dataclass(frozen=True)
class RealCluster:
    """One running cluster and its credentials (all files live until ``stop()``)."""

    name: str
    server: str
    kubeconfig: Path
    ca_file: Path
    token: str | None = field(repr=False)  # never printed: reprs end up in logs
    readonly_token: str = field(repr=False)
    readonly_kubeconfig: Path
    client_cert_file: Path
    client_key_file: Path
    log_file: Path
    pid: int


def find_binaries(bin_dir: Path) -> tuple[Path, Path]:
    """(kube-apiserver, etcd) in `bin_dir`, or BinariesMissingError saying how to build them."""
    apiserver, etcd = bin_dir / KUBE_APISERVER, bin_dir / ETCD
    missing = [p.name for p in (apiserver, etcd) if not os.access(p, os.X_OK)]
    if missing:
        raise BinariesMissingError(
            f"{', '.join(missing)} not found in {bin_dir}: run `make kube-binaries` "
            f"(or e2e/apiserver/build.sh {bin_dir})"
        )
    return apiserver, etcd


def find_controller_manager(bin_dir: Path) -> Path:
    binary = bin_dir / KUBE_CONTROLLER_MANAGER
    if not os.access(binary, os.X_OK):
        raise BinariesMissingError(
            f"{KUBE_CONTROLLER_MANAGER} not found in {bin_dir}: run `make kube-binaries`"
        )
    return binary


def _free_port(taken: set[int]) -> int:
    """An unused loopback port. Another process may still grab it before the server binds, so
    the caller retries when a server reports "address already in use"."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise RealApiError("no free loopback port found")


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Run in the child between fork and exec: SIGKILL it when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class _Process:
    """A server process in its own process group, with its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log_file: Path) -> None:
        self.name = name
        self.log_file = log_file
        self._log = log_file.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only safe from the
        # main thread (a worker thread of a pool may be retired while the servers should live).
        in_main = threading.current_thread() is threading.main_thread()
        self.popen = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if in_main else None,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def close_log(self) -> None:
        self._log.close()

    def rss_bytes(self) -> int:
        """Resident memory of the server process (0 once it is gone)."""
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def failure(self, what: str) -> RealApiError:
        code = self.popen.poll()
        state = f"exited with code {code}" if code is not None else "still running"
        return RealApiError(
            f"{self.name} {what} ({state}); last lines of {self.log_file}:\n{_tail(self.log_file)}"
        )


@dataclass
class _ClusterRun:
    name: str
    directory: Path
    pki: ClusterPki
    admin_token: str
    port: int = 0
    process: _Process | None = None
    controller_manager: _Process | None = None
    attempts: int = 0
    readonly_token: str = ""

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"


_LIVE: weakref.WeakSet[RealClusters] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for clusters in list(_LIVE):
        clusters.stop()


class RealClusters:
    """A hub and `members` member clusters; a context manager that starts and stops them.

    ``with RealClusters(2, tmp, bin_dir) as fleet: fleet.clusters[0].kubeconfig`` or call
    ``start()`` / ``stop()`` yourself. Everything is created inside a fresh private directory
    under `workdir`; ``stop()`` removes it except ``logs/`` (kept for post-mortems).
    """

    def __init__(
        self,
        members: int,
        workdir: Path,
        bin_dir: Path = DEFAULT_BIN_DIR,
        *,
        start_timeout: float = 120.0,
        extra_apiserver_args: Sequence[str] = (),
        controllers: bool = True,
    ) -> None:
        if members < 0:
            raise ValueError("members must be >= 0")
        self.members = members
        self.workdir = Path(workdir)
        self.bin_dir = Path(bin_dir)
        self.start_timeout = start_timeout
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.controllers = controllers
        self.etcd_url = ""
        self.root: Path | None = None
        self.clusters: list[RealCluster] = []
        self.startup_seconds: float | None = None
        self._etcd: _Process | None = None
        self._runs: list[_ClusterRun] = []
        self._ports: set[int] = set()
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> RealClusters:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> list[RealCluster]:
        """Start etcd and every apiserver, wait for ``/readyz``, mint credentials, write
        kubeconfigs. Returns the clusters, hub first. On any failure everything started so far
        is stopped and RealApiError carries the failing server's log tail."""
        if self.root is not None:
            raise RealApiError("already started")
        apiserver_bin, etcd_bin = find_binaries(self.bin_dir)
        began = time.monotonic()
        deadline = began + self.start_timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="realapi-", dir=self.workdir))
        _LIVE.add(self)
        try:
            (self.root / "logs").mkdir()
            etcd_url = self._start_etcd(etcd_bin, deadline)
            self.etcd_url = etcd_url
            names = ["hub", *(f"member-{i}" for i in range(1, self.members + 1))]
            for name in names:
                run = self._prepare(name)
                self._runs.append(run)
                self._spawn_apiserver(run, apiserver_bin, etcd_url)
            self._wait_ready(apiserver_bin, etcd_url, deadline)
            for run in self._runs:
                _aggregate_cluster_roles(run)
                self._bootstrap_readonly(run)
            self.clusters = [self._publish(run) for run in self._runs]
            if self.controllers:
                manager_bin = find_controller_manager(self.bin_dir)
                for run, cluster in zip(self._runs, self.clusters, strict=True):
                    self._spawn_controller_manager(run, manager_bin, cluster.kubeconfig)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return list(self.clusters)

    def stop(self) -> None:
        """Terminate every server (SIGTERM, SIGKILL after 10 s) and delete keys, tokens,
        kubeconfigs and etcd data. Safe to call more than once and from atexit."""
        with self._lock:
            # API servers first: on SIGTERM each removes itself from the `kubernetes` endpoints
            # in etcd and exits in about a second; with etcd already gone it hangs until killed.
            _terminate([p for r in self._runs if (p := r.controller_manager) is not None])
            _terminate([r.process for r in self._runs if r.process is not None])
            if self._etcd is not None:
                _terminate([self._etcd])
            self._runs = []
            self._etcd = None
            self.clusters = []
            if self.root is not None:
                for child in self.root.iterdir():
                    if child.name == "logs":
                        continue
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            _LIVE.discard(self)

    def compact_history(self) -> int:
        """Compact etcd up to its current revision, as the API server does every five minutes.

        Afterwards a watch or list from an older resourceVersion that the API server's watch
        cache does not hold gets 410 Gone: the condition every watcher must recover from.
        Returns the revision compacted to.
        """
        if not self.etcd_url:
            raise RealApiError("not started")
        header = _etcd_call(self.etcd_url, "/v3/kv/range", {"key": "AA=="})["header"]
        revision = int(header["revision"])
        _etcd_call(self.etcd_url, "/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    # -- introspection -------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Process ids of every server started (etcd last)."""
        pids = [p.pid for r in self._runs for p in (r.controller_manager, r.process) if p]
        if self._etcd is not None:
            pids.append(self._etcd.pid)
        return pids

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory per process, keyed by cluster name ("hub kube-controller-manager" for
        its controllers, and "etcd")."""
        out = {r.name: r.process.rss_bytes() for r in self._runs if r.process is not None}
        out.update(
            (f"{r.name} {KUBE_CONTROLLER_MANAGER}", r.controller_manager.rss_bytes())
            for r in self._runs
            if r.controller_manager is not None
        )
        if self._etcd is not None:
            out["etcd"] = self._etcd.rss_bytes()
        return out

    def dead(self) -> list[str]:
        """Names of servers that have exited although the harness is running."""
        out = [r.name for r in self._runs if r.process is not None and not r.process.alive()]
        out += [
            f"{r.name} {KUBE_CONTROLLER_MANAGER}"
            for r in self._runs
            if r.controller_manager is not None and not r.controller_manager.alive()
        ]
        if self._etcd is not None and not self._etcd.alive():
            out.append("etcd")
        return out

    # -- etcd ----------------------------------------------------------------------------------

    def _start_etcd(self, etcd_bin: Path, deadline: float) -> str:
        assert self.root is not None
        data = self.root / "etcd"
        data.mkdir(mode=0o700)
        for attempt in range(_PORT_RETRIES):
            client, peer = _free_port(self._ports), _free_port(self._ports)
            url = f"http://127.0.0.1:{client}"
            peer_url = f"http://127.0.0.1:{peer}"
            shutil.rmtree(data / "member", ignore_errors=True)
            self._etcd = _Process(
                "etcd",
                [
                    str(etcd_bin),
                    "--name=fleet-e2e",
                    f"--data-dir={data}",
                    f"--listen-client-urls={url}",
                    f"--advertise-client-urls={url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=fleet-e2e={peer_url}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                self.root / "logs" / "etcd.log",
            )
            while self._etcd.alive():
                if _http_ok(f"{url}/health", None, None, b'"health":"true"'):
                    return url
                if time.monotonic() > deadline:
                    raise self._etcd.failure("did not become healthy in time")
                time.sleep(_POLL)
            port_taken = "address already in use" in _tail(self._etcd.log_file)
            if not port_taken or attempt == _PORT_RETRIES - 1:
                raise self._etcd.failure("exited during startup")
            self._etcd.close_log()
        raise RealApiError("etcd did not start")

    # -- apiservers ----------------------------------------------------------------------------

    def _prepare(self, name: str) -> _ClusterRun:
        assert self.root is not None
        directory = self.root / name
        directory.mkdir(mode=0o700)
        pki = make_cluster_pki(directory, name, ADMIN_USER)
        token = secrets.token_urlsafe(32)
        tokens = directory / "tokens.csv"
        fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        return _ClusterRun(name=name, directory=directory, pki=pki, admin_token=token)

    def _spawn_apiserver(self, run: _ClusterRun, apiserver_bin: Path, etcd_url: str) -> None:
        assert self.root is not None
        run.port = _free_port(self._ports)
        run.attempts += 1
        issuer = f"https://127.0.0.1:{run.port}"
        (run.directory / "certs").mkdir(exist_ok=True)
        run.process = _Process(
            f"kube-apiserver {run.name}",
            [
                str(apiserver_bin),
                f"--etcd-servers={etcd_url}",
                f"--etcd-prefix=/fleet-e2e/{run.name}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={run.port}",
                f"--cert-dir={run.directory / 'certs'}",
                f"--tls-cert-file={run.pki.serving_cert}",
                f"--tls-private-key-file={run.pki.serving_key}",
                f"--client-ca-file={run.pki.ca_cert}",
                f"--token-auth-file={run.directory / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={issuer}",
                f"--service-account-key-file={run.pki.sa_pub}",
                f"--service-account-signing-key-file={run.pki.sa_key}",
                f"--api-audiences={issuer}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--disable-admission-plugins=ServiceAccount",
                "--profiling=false",
                *self.extra_apiserver_args,
            ],
            self.root / "logs" / f"kube-apiserver-{run.name}.log",
        )

    def _spawn_controller_manager(self, run: _ClusterRun, binary: Path, kubeconfig: Path) -> None:
        assert self.root is not None
        run.controller_manager = _Process(
            f"{KUBE_CONTROLLER_MANAGER} {run.name}",
            [
                str(binary),
                f"--kubeconfig={kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--root-ca-file={run.pki.ca_cert}",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
                "--profiling=false",
            ],
            self.root / "logs" / f"{KUBE_CONTROLLER_MANAGER}-{run.name}.log",
        )

    def _wait_ready(self, apiserver_bin: Path, etcd_url: str, deadline: float) -> None:
        pending = list(self._runs)
        while pending:
            if self._etcd is not None and not self._etcd.alive():
                raise self._etcd.failure("exited while the apiservers started")
            for run in list(pending):
                assert run.process is not None
                if not run.process.alive():
                    if (
                        "address already in use" in _tail(run.process.log_file)
                        and run.attempts < _PORT_RETRIES
                    ):
                        run.process.close_log()
                        self._spawn_apiserver(run, apiserver_bin, etcd_url)
                        continue
                    raise run.process.failure("exited during startup")
                if _http_ok(f"{run.server}/readyz", run.pki.ca_cert, run.admin_token, b"ok"):
                    pending.remove(run)
            if pending and time.monotonic() > deadline:
                run = pending[0]
                assert run.process is not None
                raise run.process.failure(
                    f"was not ready within {self.start_timeout:.0f} s (/readyz)"
                )
            if pending:
                time.sleep(_POLL)

    def _bootstrap_readonly(self, run: _ClusterRun) -> None:
        """A ServiceAccount bound to ClusterRole `view`, and a token for it (TokenRequest)."""
        base = f"{run.server}/api/v1/namespaces/{READONLY_NAMESPACE}/serviceaccounts"
        _api_call(run, "POST", base, {"metadata": {"name": READONLY_SA}})
        _api_call(
            run,
            "POST",
            f"{run.server}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "metadata": {"name": f"{READONLY_SA}-view"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "view",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": READONLY_SA, "namespace": READONLY_NAMESPACE}
                ],
            },
        )
        reply = _api_call(
            run,
            "POST",
            f"{base}/{READONLY_SA}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 24 * 3600},
            },
        )
        token = reply.get("status", {}).get("token")
        if not isinstance(token, str) or not token:
            raise RealApiError(f"{run.name}: TokenRequest returned no token")
        run.readonly_token = token

    def _publish(self, run: _ClusterRun) -> RealCluster:
        assert self.root is not None and run.process is not None
        kubeconfigs = self.root / "kubeconfig"
        kubeconfigs.mkdir(mode=0o700, exist_ok=True)
        admin = _write_kubeconfig(
            kubeconfigs / f"{run.name}.yaml", run, ADMIN_USER, run.admin_token
        )
        readonly = _write_kubeconfig(
            kubeconfigs / f"{run.name}-readonly.yaml", run, READONLY_SA, run.readonly_token
        )
        return RealCluster(
            name=run.name,
            server=run.server,
            kubeconfig=admin,
            ca_file=run.pki.ca_cert,
            token=run.admin_token,
            readonly_token=run.readonly_token,
            readonly_kubeconfig=readonly,
            client_cert_file=run.pki.client_cert,
            client_key_file=run.pki.client_key,
            log_file=run.process.log_file,
            pid=run.process.pid,
        )


def _aggregate_cluster_roles(run: _ClusterRun) -> None:
    """Fill in aggregated ClusterRoles (admin, edit, view) once, as kube-controller-manager's
    clusterrole-aggregation controller would: the API server creates them with an
    ``aggregationRule`` and no rules, so without this ``view`` grants nothing at all.

    One pass at startup (roles added later, e.g. for CRDs, are not aggregated). Aggregated roles
    are themselves labelled into others (view -> edit -> admin), hence the fixpoint.
    """
    url = f"{run.server}/apis/rbac.authorization.k8s.io/v1/clusterroles"
    roles = _api_call(run, "GET", url).get("items") or []
    changed: set[str] = set()
    for _ in range(len(roles)):
        progress = False
        for role in roles:
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
            if not selectors:
                continue
            rules: list[Any] = []
            for other in roles:
                labels = other["metadata"].get("labels") or {}
                if other is not role and any(_selects(sel, labels) for sel in selectors):
                    rules.extend(r for r in other.get("rules") or [] if r not in rules)
            if rules != (role.get("rules") or []):
                role["rules"] = rules
                changed.add(role["metadata"]["name"])
                progress = True
        if not progress:
            break
    for role in roles:
        if role["metadata"]["name"] in changed:
            _api_call(run, "PUT", f"{url}/{role['metadata']['name']}", role)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels only (all bootstrap aggregation selectors are); expressions never match."""
    if selector.get("matchExpressions"):
        return False
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _terminate(processes: Sequence[_Process]) -> None:
    """SIGTERM every process group, wait up to _STOP_GRACE, then SIGKILL what is left."""
    for process in processes:
        if process.alive():
            process.signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE
    for process in processes:
        remaining = max(0.0, deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=remaining)
    for process in processes:
        # The group may hold children even after the leader exited; SIGKILL the group anyway.
        process.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=5)
        process.close_log()


def _etcd_call(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call to etcd's JSON gateway (plain HTTP on loopback)."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
        reply: dict[str, Any] = json.loads(response.read())
    return reply


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None


def _http_ok(url: str, ca_file: Path | None, token: str | None, expect: bytes) -> bool:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(
            request, timeout=_HTTP_TIMEOUT, context=_ssl_context(ca_file)
        ) as reply:
            return bool(reply.status == 200 and expect in reply.read())
    except (OSError, urllib.error.URLError, ssl.SSLError):
        return False


def _api_call(
    run: _ClusterRun, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request with the admin token; on POST, 409 AlreadyExists counts as success.

    Plain urllib rather than kubernetes_asyncio: ``start()`` is synchronous and may be called
    from inside a running event loop (an async test), where a nested loop is not possible.
    """
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {run.admin_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(
            request, timeout=_HTTP_TIMEOUT, context=_ssl_context(run.pki.ca_cert)
        ) as reply:
            data = json.loads(reply.read() or b"{}")
            return data if isinstance(data, dict) else {}
    except urllib.error.HTTPError as exc:
        if exc.code == 409 and method == "POST":
            return {}
        detail = exc.read().decode(errors="replace")[:500]
        raise RealApiError(f"{run.name}: {method} {url} -> {exc.code}: {detail}") from exc
    except OSError as exc:
        raise RealApiError(f"{run.name}: {method} {url} failed: {exc}") from exc


def _write_kubeconfig(path: Path, run: _ClusterRun, user: str, token: str) -> Path:
    ca_data = base64.b64encode(run.pki.ca_cert.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": run.name,
                "cluster": {"server": run.server, "certificate-authority-data": ca_data},
            }
        ],
        "users": [{"name": f"{run.name}-{user}", "user": {"token": token}}],
        "contexts": [
            {"name": run.name, "context": {"cluster": run.name, "user": f"{run.name}-{user}"}}
        ],
        "current-context": run.name,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path
