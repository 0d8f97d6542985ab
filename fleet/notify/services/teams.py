"""Microsoft Teams: a MessageCard POSTed to the channel's connector (or workflow) URL.

Options: `recipientUrls` (recipient name -> URL), `insecureSkipVerify`. Template part `teams`:
`title`, `text` (default: the message), `summary`, `themeColor`, `facts`, `sections`,
`potentialAction` (JSON text), or `template` (the whole card as JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleet.notify.config import ServiceConfig
from fleet.notify.services import Request, ServiceConfigError, json_field


def build(service: ServiceConfig, notification: Mapping[str, Any], recipient: str) -> Request:
    urls = service.options.get("recipientUrls")
    url = urls.get(recipient) if isinstance(urls, Mapping) else None
    if not isinstance(url, str) or not url:
        raise ServiceConfigError(f"service.teams: recipientUrls has no URL for {recipient!r}")
    part = notification.get("teams")
    teams: Mapping[str, Any] = part if isinstance(part, Mapping) else {}
    whole = json_field(notification, "teams", "template")
    if isinstance(whole, dict):
        card: dict[str, Any] = whole
    else:
        text = str(teams.get("text") or notification.get("message") or "")
        card = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": str(teams.get("summary") or teams.get("title") or text[:80]),
            "text": text,
        }
        if teams.get("title"):
            card["title"] = str(teams["title"])
        if teams.get("themeColor"):
            card["themeColor"] = str(teams["themeColor"])
        sections = json_field(notification, "teams", "sections") or []
        if not isinstance(sections, list):
            raise ServiceConfigError("teams.sections: the rendered JSON must be a list")
        facts = json_field(notification, "teams", "facts")
        if facts:
            sections = [*sections, {"facts": facts}]
        if sections:
            card["sections"] = sections
        actions = json_field(notification, "teams", "potentialAction")
        if actions:
            card["potentialAction"] = actions
    return Request(
        "POST",
        url,
        {"Content-Type": "application/json"},
        json.dumps(card).encode(),
        service.insecure,
    )
