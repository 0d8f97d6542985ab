"""structlog configured once for the whole process: JSON for machines, readable for people.

JSON lines when stderr is not a terminal (a pod, CI, a pipe), coloured key=value lines on a
terminal; `FLEET_LOG_FORMAT=json|console` forces one (deploy/ sets json). Logs go to stderr
so that commands like `fleet appset render` keep stdout for data.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import structlog

from fleet.redaction import log_processor

_configured = False


class _CurrentStderr:
    """Whatever `sys.stderr` is at write time.

    structlog's PrintLogger keeps the file object it was given; when something replaces
    `sys.stderr` later (a test runner's capture, a daemoniser), writes must follow it rather than
    go to a closed stream.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def processors(renderer: structlog.typing.Processor) -> list[structlog.typing.Processor]:
    """The processor chain of every fleet process, ending in `renderer`. Redaction runs last
    before rendering, after tracebacks are formatted, so nothing reaches the log unredacted."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        log_processor,
        renderer,
    ]


def _one_printer() -> Callable[..., structlog.PrintLogger]:
    """A factory handing every logger the same PrintLogger (one stream, one lock): the
    default builds one per bound logger, and fleet binds one per cluster and Application."""
    printer = structlog.PrintLogger(file=_CurrentStderr())  # type: ignore[arg-type]

    def factory(*_args: Any) -> structlog.PrintLogger:
        return printer

    return factory


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    global _configured
    if _configured:
        return
    forced = os.environ.get("FLEET_LOG_FORMAT", "").lower()
    if json is None and forced in ("json", "console"):
        json = forced == "json"
    use_json = not sys.stderr.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=_one_printer(),
        # Not cached: a logger keeps following the configuration (tests raise the level).
        cache_logger_on_first_use=False,
    )
    _configured = True
