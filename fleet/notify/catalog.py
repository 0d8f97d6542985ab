"""The built-in triggers and templates, so a subscription works with no `trigger.*` keys.

Conditions follow Argo CD's notifications catalog, character for character (the state key
holds a hash of `when`, so the `notified.notifications.argoproj.io` keys Argo CD wrote stay
valid after a migration: nothing is sent twice).
Message texts are fleet's own. Any `trigger.<name>` or `template.<name>` key in the
ConfigMap replaces the built-in of that name, as installing Argo CD's catalog would.

`on-drift-detected` is fleet's: the Application is OutOfSync at the very revision its last
sync succeeded with, i.e. someone changed the live objects (Argo CD has no such trigger). It
re-arms when the drift is reverted, so each new drift is told once.
"""

from __future__ import annotations

import json

_DEPLOYED = (
    "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']"
    " and app.status.health.status == 'Healthy'"
    " and !time.Parse(app.status.health.lastTransitionTime)"
    ".Before(time.Parse(app.status.operationState.finishedAt))"
)

BUILTIN_TRIGGERS: dict[str, str] = {
    "on-created": """
- description: The Application was created.
  when: "true"
  send: [app-created]
  oncePer: app.metadata.name
""",
    "on-deleted": """
- description: The Application is being deleted.
  when: app.metadata.deletionTimestamp != nil
  send: [app-deleted]
  oncePer: app.metadata.name
""",
    "on-deployed": f"""
- description: Synced and healthy; told once per revision.
  when: {json.dumps(_DEPLOYED)}
  send: [app-deployed]
  oncePer: app.status.operationState?.syncResult?.revision
""",
    "on-health-degraded": """
- description: The Application's health is Degraded.
  when: app.status.health.status == 'Degraded'
  send: [app-health-degraded]
""",
    "on-sync-failed": """
- description: A sync failed.
  when: app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']
  send: [app-sync-failed]
  oncePer: app.status.operationState?.syncResult?.revision
""",
    "on-sync-running": """
- description: A sync is running.
  when: app.status.operationState != nil and app.status.operationState.phase in ['Running']
  send: [app-sync-running]
""",
    "on-sync-status-unknown": """
- description: The sync status is Unknown.
  when: app.status.sync.status == 'Unknown'
  send: [app-sync-status-unknown]
""",
    "on-sync-succeeded": """
- description: A sync succeeded.
  when: app.status.operationState.phase in ['Succeeded']
  send: [app-sync-succeeded]
""",
    "on-drift-detected": """
- description: Live objects differ from the revision the last sync applied (fleet's own).
  when: >-
    app.status.sync.status == 'OutOfSync'
    and app.status.operationState?.phase == 'Succeeded'
    and app.status.sync.revision == app.status.operationState?.syncResult?.revision
  send: [app-drift-detected]
""",
}
"""Trigger name -> its definition, in the ConfigMap's own YAML form."""

_LINK = "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"
_FACTS = """[
  {"name": "Sync status", "value": "{{.app.status.sync.status}}"},
  {"name": "Health", "value": "{{.app.status.health.status}}"},
  {"name": "Revision", "value": "{{.app.status.sync.revision}}"},
  {"name": "Repository", "value": "{{.app.spec.source.repoURL}}"}
]"""


def _template(message: str, title: str, color: str) -> str:
    """One template with a message for every service, a Slack attachment and a Teams card."""
    attachment = (
        '[{"title": "' + title + '", "title_link": "' + _LINK + '", "color": "' + color + '", '
        '"fields": [{"title": "Sync status", "value": "{{.app.status.sync.status}}", '
        '"short": true}, {"title": "Health", "value": "{{.app.status.health.status}}", '
        '"short": true}]}]'
    )
    lines = [
        f"message: {_quote(message)}",
        "slack:",
        f"  attachments: {_quote(attachment)}",
        "teams:",
        f"  title: {_quote(title)}",
        f"  themeColor: {_quote(color)}",
        f"  facts: {_quote(_FACTS)}",
        "  potentialAction: "
        + _quote(
            '[{"@type": "OpenUri", "name": "Open the Application", '
            '"targets": [{"os": "default", "uri": "' + _LINK + '"}]}]'
        ),
    ]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_NAME = "{{.app.metadata.name}}"
_REV = "{{.app.status.operationState.syncResult.revision}}"

BUILTIN_TEMPLATES: dict[str, str] = {
    "app-created": _template(f"{_NAME} was created.", f"{_NAME} created", "#3366cc"),
    "app-deleted": _template(f"{_NAME} is being deleted.", f"{_NAME} deleted", "#666666"),
    "app-deployed": _template(
        f"{_NAME} now runs revision {_REV}, synced and healthy.",
        f"{_NAME} deployed",
        "#18be52",
    ),
    "app-health-degraded": _template(
        f"{_NAME} is Degraded: {{{{.app.status.health.message}}}}",
        f"{_NAME} degraded",
        "#f4c030",
    ),
    "app-sync-failed": _template(
        f"Sync of {_NAME} to {_REV} failed at {{{{.app.status.operationState.finishedAt}}}}: "
        "{{.app.status.operationState.message}}",
        f"{_NAME} sync failed",
        "#e96d76",
    ),
    "app-sync-running": _template(
        f"Sync of {_NAME} started at {{{{.app.status.operationState.startedAt}}}}.",
        f"{_NAME} syncing",
        "#0dadea",
    ),
    "app-sync-status-unknown": _template(
        f"The sync status of {_NAME} is Unknown.", f"{_NAME} sync status unknown", "#e96d76"
    ),
    "app-sync-succeeded": _template(
        f"{_NAME} synced to {_REV} at {{{{.app.status.operationState.finishedAt}}}}.",
        f"{_NAME} synced",
        "#18be52",
    ),
    "app-drift-detected": _template(
        f"Live objects of {_NAME} no longer match revision {{{{.app.status.sync.revision}}}}.",
        f"{_NAME} drifted",
        "#f4c030",
    ),
}
"""Template name -> its definition, in the ConfigMap's own YAML form."""
