"""Who may press a button: bearer tokens reviewed by the hub, sessions, CSRF.

The dashboard is read-only for everyone who reaches it. A write (sync, refresh, rollback, an
ApplicationSet diff, a live diff) needs a session holding a hub bearer token, and the hub
decides each time: a TokenReview (authentication.k8s.io/v1) says who the token is, then a
SubjectAccessReview (authorization.k8s.io/v1) asks whether that user may do the same verb on
the same object through the API (`update` on `applications` of that name in that namespace and
group). So hub RBAC is the only policy; the dashboard has none of its own. The controller's
ServiceAccount needs `create` on both reviews (the built-in ClusterRole system:auth-delegator,
bound in deploy/).

Where the token lives: in this process's memory, keyed by a random session id sent to the
browser in an HttpOnly, SameSite=Strict cookie. Script on the page (ours, or injected) can
never read it, unlike sessionStorage; it is never rendered into a page or a log. Sessions
expire (idle and absolute) and their number is bounded.

CSRF: every write must carry the session's own CSRF token (a form field the page got with the
session) and an Origin (or Referer) naming this very host; SameSite=Strict is a third line.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from fleet.kube import KubeError, request_json

log = structlog.get_logger("fleet.server.dashboard")

COOKIE = "fleet_dashboard"
IDLE = 3600.0
"""Seconds a session lives without use."""
LIFETIME = 8 * 3600.0
"""Seconds a session lives at most."""
REVIEW_TTL = 30.0
"""Seconds a TokenReview or SubjectAccessReview answer is reused (a revoked binding is
seen within this)."""
MAX_SESSIONS = 4096
MAX_TOKEN = 8192
"""Longest bearer token accepted (service account JWTs are about 1 KiB)."""
REVIEW_TIMEOUT = 10.0


class Refused(Exception):
    """A write this request may not make; the message says why and what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    used: float
    token: str = ""
    user: str = ""
    groups: list[str] = field(default_factory=list)
    uid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    reviewed: float = 0.0
    decisions: dict[tuple[str, ...], tuple[bool, float, str]] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return bool(self.token and self.user)


@dataclass(frozen=True, slots=True)
class Access:
    """What the SubjectAccessReview asks: the verb on one object, as the API would."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str = ""

    def key(self) -> tuple[str, ...]:
        return (self.verb, self.group, self.resource, self.namespace, self.name)

    def describe(self) -> str:
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        target = f" {self.name!r}" if self.name else ""
        return f"{self.verb} {what}{target} in namespace {self.namespace!r}"


class Sessions:
    def __init__(self, hub: ApiClient) -> None:
        self.hub = hub
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    # -- sessions -------------------------------------------------------------------------------

    def get(self, request: web.Request) -> Session | None:
        sid = request.cookies.get(COOKIE, "")
        session = self._sessions.get(sid) if sid else None
        now = time.monotonic()
        if session is None:
            return None
        if now - session.used > IDLE or now - session.created > LIFETIME:
            self._sessions.pop(sid, None)
            return None
        session.used = now
        self._sessions.move_to_end(sid)
        return session

    def ensure(self, request: web.Request, response: web.StreamResponse) -> Session:
        """The request's session, or a new anonymous one (its cookie set on `response`)."""
        session = self.get(request)
        if session is not None:
            return session
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions[session.id] = session
        if len(self._sessions) > MAX_SESSIONS:
            # anonymous sessions go first: a client making new ones cannot push out a user
            # who signed in (while signed-in sessions stay under the bound)
            anonymous = next((k for k, v in self._sessions.items() if not v.signed_in), None)
            self._sessions.pop(anonymous if anonymous is not None else next(iter(self._sessions)))
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
            max_age=int(LIFETIME),
        )
        return session

    def end(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def live(self, sid: str) -> bool:
        return sid in self._sessions

    # -- checks ---------------------------------------------------------------------------------

    @staticmethod
    def check_origin(request: web.Request) -> None:
        """The write comes from a page of this host (Origin, else Referer): a cross-site form
        or fetch cannot forge either."""
        origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not origin or origin == "null":
            raise Refused(403, "refused: the request names no Origin (send it from the page)")
        if urlsplit(origin).netloc != request.host:
            raise Refused(403, "refused: the request comes from another site (Origin mismatch)")

    def check_write(self, request: web.Request, form: Any) -> Session:
        """Origin and CSRF token of a write; returns the session (maybe not signed in)."""
        self.check_origin(request)
        session = self.get(request)
        if session is None:
            raise Refused(403, "refused: no session (reload the page and retry)")
        presented = str(form.get("csrf") or "") if form is not None else ""
        if not hmac.compare_digest(presented.encode(), session.csrf.encode()):
            raise Refused(403, "refused: the form's CSRF token is not this session's (reload)")
        return session

    async def sign_in(self, session: Session, token: str) -> None:
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token or len(token) > MAX_TOKEN or any(c.isspace() for c in token):
            raise Refused(400, "sign-in refused: paste a single bearer token")
        session.token = token
        session.decisions.clear()
        session.reviewed = 0.0
        try:
            await self._review_token(session)
        except Refused:
            session.token = ""
            raise

    def sign_out(self, session: Session) -> None:
        session.token = session.user = session.uid = ""
        session.groups, session.extra = [], {}
        session.decisions.clear()

    async def _review_token(self, session: Session) -> None:
        now = time.monotonic()
        if session.user and now - session.reviewed < REVIEW_TTL:
            return
        try:
            review = await request_json(
                self.hub,
                "POST",
                "/apis/authentication.k8s.io/v1/tokenreviews",
                body={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "spec": {"token": session.token},
                },
                timeout=REVIEW_TIMEOUT,
            )
        except KubeError as error:
            raise Refused(
                503,
                f"the hub could not review the token ({type(error).__name__}); the controller's "
                "ServiceAccount needs create on tokenreviews (ClusterRole system:auth-delegator)",
            ) from None
        status = review.get("status") or {}
        user = status.get("user") or {}
        if not status.get("authenticated") or not user.get("username"):
            self.sign_out(session)
            raise Refused(401, "the hub does not accept this token (expired or unknown)")
        session.user = str(user["username"])
        session.uid = str(user.get("uid") or "")
        session.groups = [str(g) for g in user.get("groups") or []]
        extra = user.get("extra")
        session.extra = dict(extra) if isinstance(extra, dict) else {}
        session.reviewed = now

    async def authorise(self, session: Session, access: Access) -> None:
        """Raise Refused unless the hub says this session's user may do `access`."""
        if not session.signed_in:
            raise Refused(
                401, f"sign in with a hub token to {access.describe()} (the page is read-only)"
            )
        await self._review_token(session)
        now = time.monotonic()
        cached = session.decisions.get(access.key())
        if cached is not None and now - cached[1] < REVIEW_TTL:
            allowed, reason = cached[0], cached[2]
        else:
            allowed, reason = await self._review_access(session, access)
            session.decisions[access.key()] = (allowed, now, reason)
        if not allowed:
            log.info(
                "dashboard.write_denied",
                user=session.user,
                verb=access.verb,
                resource=access.resource,
                name=access.name,
            )
            detail = f" ({reason})" if reason else ""
            raise Refused(403, f"hub RBAC: {session.user} may not {access.describe()}{detail}")

    async def _review_access(self, session: Session, access: Access) -> tuple[bool, str]:
        attributes = {
            "verb": access.verb,
            "group": access.group,
            "resource": access.resource,
            "namespace": access.namespace,
        }
        if access.name:
            attributes["name"] = access.name
        spec: dict[str, Any] = {
            "user": session.user,
            "groups": session.groups,
            "resourceAttributes": attributes,
        }
        if session.uid:
            spec["uid"] = session.uid
        if session.extra:
            spec["extra"] = session.extra
        try:
            review = await request_json(
                self.hub,
                "POST",
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                body={
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": spec,
                },
                timeout=REVIEW_TIMEOUT,
            )
        except KubeError as error:
            raise Refused(
                503,
                f"the hub could not review access ({type(error).__name__}); the controller's "
                "ServiceAccount needs create on subjectaccessreviews "
                "(ClusterRole system:auth-delegator)",
            ) from None
        status = review.get("status") or {}
        return bool(status.get("allowed")) and not status.get("denied"), str(
            status.get("reason") or ""
        )[:300]
