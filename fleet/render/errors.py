"""The one error every renderer raises, so the controller can set a condition and never prune."""

from __future__ import annotations

# Reasons (stable strings for status conditions and metrics).
TOOL_MISSING = "ToolMissing"
RENDER_FAILED = "RenderFailed"
INVALID_MANIFEST = "InvalidManifest"
INVALID_SOURCE = "InvalidSource"
TOO_LARGE = "TooLarge"
TIMEOUT = "Timeout"
UNSUPPORTED = "Unsupported"
SANDBOX_UNAVAILABLE = "SandboxUnavailable"


class RenderError(Exception):
    """Manifests could not be produced; `reason` is one of the constants above.

    A caller must treat this as "desired state unknown": report it and apply or prune nothing.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
