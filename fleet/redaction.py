"""One redaction for everything fleet shows: status, conditions, operation messages, logs and
command output never carry a credential.

Why one place: a credential reaches a message by many roads (a repoURL with `user:password@`
written into a git generator, an error that quotes a URL, git's stderr, an HTTP error body), and
a fix per call site misses the next road. Instead the writers redact what they emit: every
status document the controllers write goes through `redact_status`, every log event through
`log_processor` (fleet.logging puts it last before rendering), and command output through
`redact`.

What is removed: URL userinfo (`scheme://user:pass@host` -> `scheme://***@host`), and strings
with the shape of a known credential: GitHub, GitLab and Slack tokens, AWS access key ids, JWTs
(service-account tokens), `Authorization:` header values, private-key blocks, and
`password=`/`token=`-style query parameters. Names of repositories, hosts and paths stay, so a
message still says which repository failed.

The patterns are RE2 (linear time): redaction runs on every log line and status message, some of
them quoting tenant text, and Python's `re` took quadratic time on a long run of letters (20,000
characters: 0.6 s, holding the GIL).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, MutableMapping
from typing import Any

import re2

MASK = "***"

_PATTERNS: tuple[tuple[re2._Regexp[str], str], ...] = (
    # URL userinfo: keeps the scheme and host, drops user and password.
    (re2.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s\"'<>]+@"), rf"\g<keep>{MASK}@"),
    (
        re2.compile(
            r"(?s)-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----.*?"
            r"-----END [A-Z0-9 ]*PRIVATE KEY-----",
        ),
        rf"-----BEGIN \g<kind>PRIVATE KEY-----{MASK}-----END \g<kind>PRIVATE KEY-----",
    ),
    (
        re2.compile(r"(?i)(?P<keep>\b(?:authorization|proxy-authorization)\s*[:=]\s*)[^\r\n,;]+"),
        rf"\g<keep>{MASK}",
    ),
    (re2.compile(r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\g<keep>{MASK}"),
    (
        re2.compile(
            r"(?i)(?P<keep>[?&;\s](?:password|passwd|pwd|token|access_token|private_token|"
            r"client_secret|api_key|apikey|secret)=)[^&\s\"']+"
        ),
        rf"\g<keep>{MASK}",
    ),
    (re2.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b"), MASK),
    (re2.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), MASK),
    (re2.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), MASK),
    (re2.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    # JWT: three base64url parts, the first a JSON header ("eyJ" = '{"').
    (re2.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
)


def redact(text: str) -> str:
    """`text` without URL userinfo or anything shaped like a known credential."""
    if not text:
        return text
    if len(text) <= _REMEMBERED_LENGTH:
        return _redact_short(text)
    return _redact(text)


def _redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_REMEMBERED_LENGTH = 200
_redact_short = functools.lru_cache(maxsize=4096)(_redact)
"""Short texts repeat: every sync result lists a message per object ("configmap/web
serverside-applied"), the same ones on every cluster of a fleet, each through a dozen patterns
on every status write (2 % of the controller's CPU at 1,000 clusters). At most 4,096 texts of
up to 200 characters are remembered (2.5 MiB at most)."""


def redact_value(value: Any) -> Any:
    """Strings redacted inside a JSON-like value (dicts and lists copied, not changed)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


_MESSAGE_KEYS = frozenset({"message", "reason"})

MAX_MESSAGE = 8192
"""Characters of one status message: enough for any error worth reading, and a bound on what
tenant text an error may quote into status (a status over etcd's object limit could not be
written, and the reason would never reach the object). Longer ones keep their start."""


def status_text(text: str) -> str:
    """A message as status may carry it: redacted, and cut to MAX_MESSAGE characters."""
    text = redact(text)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 40] + f" ... ({len(text) - MAX_MESSAGE + 40} more characters)"
    return text


def redact_status(status: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Redact and bound (`status_text`), in place, every `message` and `reason` string of a
    status document (conditions, operationState, syncResult resources, nested at any depth our
    status has). Other fields (names, revisions, kinds) are left alone: they are not free text."""
    stack: list[Any] = [status]
    while stack:
        node = stack.pop()
        if isinstance(node, MutableMapping):
            for key, item in node.items():
                if key in _MESSAGE_KEYS and isinstance(item, str):
                    node[key] = status_text(item)
                elif isinstance(item, MutableMapping | list):
                    stack.append(item)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, MutableMapping | list))
    return status


def log_processor(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: every string in the event (the message, bound values, a rendered
    traceback under `exception`) redacted; other values are rendered by the renderer as is,
    except exceptions, which become their redacted text."""
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
        elif isinstance(value, BaseException):
            event[key] = redact(str(value) or type(value).__name__)
        elif isinstance(value, Mapping | list | tuple):
            event[key] = redact_value(value)
    return event
