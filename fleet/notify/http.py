"""The outbound HTTP client of notifications: bounded in time and size, TLS verified, no
redirects.

Why so strict: receivers are third parties and their answers untrusted. Every request has a
total timeout (a receiver that hangs costs one slot for that long, never a sync), an answer is
read up to `max_response` bytes, redirects are never followed (a 3xx is a failed delivery, so
a Slack token or webhook password is never replayed to another host), TLS is verified unless
the service says `insecureSkipVerify: true` (logged and counted when used), and the proxy
environment is ignored.
"""

from __future__ import annotations

import ssl
from types import TracebackType

import aiohttp
import anyio
import structlog

from fleet.notify.services import DeliveryError, Request

log = structlog.get_logger("fleet.notify.http")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class Sender:
    """Two connection pools (verified TLS, and one for insecure services), closed on exit."""

    def __init__(self, timeout: float = 10.0, max_response: int = 64 * 1024) -> None:
        self.timeout = timeout
        self.max_response = max_response
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def _session(self, insecure: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(insecure)
        if session is None:
            context: ssl.SSLContext | bool = ssl.create_default_context()
            if insecure:
                context = False
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, limit=32),
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(5.0, self.timeout)),
                trust_env=False,
                headers={"User-Agent": "fleet-notifications"},
            )
            self._sessions[insecure] = session
        return session

    async def send(self, request: Request) -> None:
        """Deliver `request`; DeliveryError (retryable or not) names the endpoint and status,
        never a header or the body."""
        where = request.describe()
        if not request.url.startswith(("https://", "http://")):
            raise DeliveryError(f"{where}: only http and https URLs are sent to", retryable=False)
        try:
            with anyio.fail_after(self.timeout + 1):
                async with self._session(request.insecure).request(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    data=request.body or None,
                    allow_redirects=False,
                ) as response:
                    body = await response.content.read(self.max_response)
                    status = response.status
                    retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            message = f"{where}: no answer within {self.timeout:g}s"
            raise DeliveryError(message, retryable=True) from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as error:
            # Not passing trouble: the receiver's certificate is not trusted.
            message = f"{where}: TLS failed ({type(error).__name__}); fix the certificate"
            raise DeliveryError(message + " or set insecureSkipVerify", retryable=False) from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise DeliveryError(f"{where}: {type(error).__name__}", retryable=True) from None
        if 300 <= status < 400:
            message = f"{where}: answered {status}; redirects are not followed"
            raise DeliveryError(message, retryable=False)
        if status == 429 or status >= 500:
            message = f"{where}: answered {status}"
            raise DeliveryError(message, retryable=True, retry_after=retry_after)
        if status >= 400:
            raise DeliveryError(f"{where}: answered {status}", retryable=False)
        if request.check is not None:
            request.check(status, body)
