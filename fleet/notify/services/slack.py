"""Slack: `chat.postMessage` with the app's token (Argo CD's `service.slack`), or, as fleet's
addition, an incoming-webhook URL (`url:`) when there is no token.

Options: `token`, `apiURL` (default https://slack.com/api), `username`, `icon` (an emoji like
`:robot_face:` or an image URL), `url` (incoming webhook), `insecureSkipVerify`. Template part
`slack`: `attachments` and `blocks` (JSON text). The recipient is the channel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleet.notify.config import ServiceConfig
from fleet.notify.services import (
    DeliveryError,
    Request,
    ServiceConfigError,
    json_field,
    option,
)

DEFAULT_API = "https://slack.com/api"


def _check(status: int, body: bytes) -> None:
    """Slack's Web API answers 200 with `{"ok": false, "error": ...}` when it refuses."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return  # an incoming webhook answers plain `ok`
    if isinstance(answer, dict) and answer.get("ok") is False:
        error = str(answer.get("error") or "unknown error")[:200]
        raise DeliveryError(f"Slack refused the message: {error}", retryable=error == "ratelimited")


def build(service: ServiceConfig, notification: Mapping[str, Any], recipient: str) -> Request:
    payload: dict[str, Any] = {"text": str(notification.get("message") or "")}
    attachments = json_field(notification, "slack", "attachments")
    blocks = json_field(notification, "slack", "blocks")
    if attachments is not None:
        payload["attachments"] = attachments
    if blocks is not None:
        payload["blocks"] = blocks
    username, icon = option(service, "username"), option(service, "icon")
    if username:
        payload["username"] = username
    if icon:
        payload["icon_url" if icon.startswith(("http://", "https://")) else "icon_emoji"] = icon
    token = option(service, "token")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        if not recipient:
            raise ServiceConfigError("slack: the subscription names no channel")
        payload["channel"] = recipient
        headers["Authorization"] = f"Bearer {token}"
        url = option(service, "apiURL", DEFAULT_API).rstrip("/") + "/chat.postMessage"
    else:
        url = option(service, "url")
        if not url:
            raise ServiceConfigError("service.slack: needs a token (or an incoming webhook url)")
        if recipient:
            payload["channel"] = recipient
    return Request(
        "POST", url, headers, json.dumps(payload).encode(), service.insecure, check=_check
    )
