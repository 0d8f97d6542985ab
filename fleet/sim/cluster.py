"""One simulated cluster: its public handle (`SimCluster`) and its lazily built state.

The handle is a few attributes; the store, registry, garbage collector and status agent are
built on the first request, so a process can announce 1,000 clusters and pay only for the ones
that are used.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.sim import kubeconfig
from fleet.sim.api import ClusterAPI
from fleet.sim.discovery import Registry
from fleet.sim.faults import Faults
from fleet.sim.gc import GarbageCollector
from fleet.sim.profile import Profile
from fleet.sim.status_agent import SettledFn, StatusAgent, StatusFn
from fleet.sim.store import Store

if TYPE_CHECKING:
    from fleet.sim.server import SimServer


class ClusterState:
    """Everything a cluster holds once it has been used."""

    __slots__ = ("agent", "api", "gc", "registry", "store")

    def __init__(
        self,
        retention: int,
        status_delay: float,
        status_functions: tuple[StatusFn, SettledFn] | None,
        profile: Profile,
        ca_pem: bytes,
    ) -> None:
        self.store = Store(retention)
        self.registry = Registry(profile)
        self.api = ClusterAPI(self.store, self.registry, ca_pem=ca_pem)
        self.gc = GarbageCollector(self.api)
        self.agent = StatusAgent(self.api, status_delay, status_functions)

    def close(self) -> None:
        self.agent.close()
        self.store.close_watches()


class SimCluster:
    """A simulated cluster as clients see it: URL, CA, tokens, kubeconfig and faults."""

    __slots__ = ("_kubeconfig", "_server", "_state", "faults", "name")

    def __init__(self, server: SimServer, name: str) -> None:
        self._server = server
        self.name = name
        self.faults = Faults(
            on_break=self._break_connections,
            on_refuse=lambda refuse: server.set_listening(name, not refuse),
        )
        self._state: ClusterState | None = None
        self._kubeconfig: Path | None = None

    def __repr__(self) -> str:
        return f"SimCluster({self.name!r}, server={self.server!r})"

    @property
    def state(self) -> ClusterState:
        if self._state is None:
            self._state = ClusterState(
                self._server.watch_retention,
                self._server.status_delay,
                self._server.status_functions,
                self._server.profile,
                self._server.ca_pem,
            )
        return self._state

    @property
    def started(self) -> bool:
        """Whether the cluster has been used (its state exists)."""
        return self._state is not None

    def compact_history(self) -> int:
        """Compact this cluster's event history (see `RealClusters.compact_history`)."""
        return self.state.store.compact()

    @property
    def port(self) -> int:
        return self._server.port_of(self.name)

    @property
    def server(self) -> str:
        return f"https://{self._server.host}:{self.port}/clusters/{self.name}"

    @property
    def address(self) -> str:
        return f"{self._server.host}:{self.port}"

    @property
    def bookmark_interval(self) -> float:
        return self._server.bookmark_interval

    @property
    def ca_file(self) -> Path:
        return self._server.ca_file

    @property
    def ca_data(self) -> str:
        return base64.b64encode(self._server.ca_pem).decode()

    @property
    def token(self) -> str:
        return self._server.tokens.token(self.name, "admin")

    @property
    def readonly_token(self) -> str:
        return self._server.tokens.token(self.name, "readonly")

    def kubeconfig_text(self, *, readonly: bool = False) -> str:
        """Kubeconfig YAML: context `<name>` (admin, current unless `readonly`) and
        `<name>-readonly`."""
        return kubeconfig.render(
            self.name,
            self.server,
            self.ca_data,
            self.token,
            self.readonly_token,
            readonly=readonly,
        )

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig with the admin token, written on first access (a small local file)."""
        if self._kubeconfig is None:
            path = self._server.kubeconfig_dir / f"{self.name}.kubeconfig"
            self._kubeconfig = kubeconfig.write(path, self.kubeconfig_text())
        return self._kubeconfig

    def _break_connections(self) -> None:
        if self._state is not None:
            self._state.store.close_watches()

    def close(self) -> None:
        self.faults.release()
        if self._state is not None:
            self._state.close()
