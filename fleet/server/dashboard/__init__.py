"""The web dashboard: Fleet, Applications, Application and ApplicationSet pages, live by SSE.

Layout: model.py (the view-model Store and the rows pages filter), feeds.py (what fills the
Store: the controller's caches, or one hub watch per process for `fleet dashboard`), sse.py
(coalesced server-sent events), auth.py (sessions, CSRF, TokenReview + SubjectAccessReview),
actions.py (sync, refresh, rollback with the CLI's semantics), routes.py (pages and writes),
templates/ (jinja2, sandboxed, autoescaped) and static/ (one hand-written script, one sheet).

Importing this package is cheap (`fleet dashboard`'s arguments are registered on every `fleet`
invocation): the names below load embed.py, jinja2 and the Kubernetes client on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.server.dashboard.embed import (
        Dashboard,
        for_controller,
        for_hub,
        mount,
        run_for_controller,
        run_for_hub,
    )

__all__ = ["Dashboard", "for_controller", "for_hub", "mount", "run_for_controller", "run_for_hub"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fleet.server.dashboard import embed

        return getattr(embed, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
