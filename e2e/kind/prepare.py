"""Everything before the first cluster: host packages and fixes, the binaries, the private
engine, the images. Each stage is stamped, so a second run only checks (seconds)."""

from __future__ import annotations

from e2e.kind.engine import PrivateEngine
from e2e.kind.host import (
    HostError,
    host_capabilities,
    install_packages,
    missing_reason,
    raise_inotify_limits,
)
from e2e.kind.images import Builder, build_all
from e2e.kind.layout import Layout
from e2e.kind.proc import say
from e2e.kind.stamps import Stages
from e2e.kind.toolchain import build_toolchain


def prepare(layout: Layout, stages: Stages, *, build_only: bool = False) -> tuple[Builder, bool]:
    """Make the host ready, build what is missing, start the private engine; the Builder to
    drive it and whether this call started the engine (then the caller stops it when done).
    Raises HostError (with the reason) where the harness cannot run at all. `build_only` runs
    the engine at the lowest priority (a build-only run stops it again before any cluster)."""
    reason = missing_reason()
    if reason is not None:
        raise HostError(reason)
    stages.timed("host: packages", lambda: install_packages(layout.logs / "apt.log"))
    raise_inotify_limits()
    caps = host_capabilities()
    capfilter = None
    if caps.need_filter:
        say(
            "host fix: the capability bounding set lacks "
            f"{', '.join(caps.missing)}: privileged containers run through the runc "
            "capability filter (e2e/kind/capfilter.py)"
        )
        capfilter = layout.kind_dir / "capfilter.py"
    build_toolchain(layout, stages)
    engine = PrivateEngine(layout)
    started: list[bool] = []
    stages.timed(
        "engine: start",
        lambda: started.append(engine.start(capfilter=capfilter, low_priority=build_only)),
    )
    builder = Builder(layout, engine)
    try:
        build_all(builder, stages)
    except BaseException:
        if started[0]:
            engine.stop()
        raise
    return builder, started[0]
