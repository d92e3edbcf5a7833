"""PagerDuty Events API v2: trigger, acknowledge and resolve one alert per incident.

Shapes from PagerDuty's developer docs ("Send an Alert Event"): `routing_key`,
`event_action` (trigger|acknowledge|resolve), `dedup_key` (at most 255
characters), and for a trigger `payload` with `summary` (at most 1024),
`source`, `severity` (critical|error|warning|info), `timestamp`, `component`,
`group`, `class`, `custom_details`. Acknowledge and resolve carry only the key.
The routing key is added at send time and never stored.
"""

from __future__ import annotations

from typing import Any

import httpx

from actions.config import PagerDutySettings
from actions.notify.http import post_json
from actions.notify.neutralise import one_line, pagerduty_text, without_controls
from actions.notify.notice import Notice
from actions.notify.secrets import Scrubber, read_secret

CHANNEL = "pagerduty"
SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
ACTIONS = ("trigger", "acknowledge", "resolve")


def build(notice: Notice, settings: PagerDutySettings, action: str) -> dict[str, Any]:
    """The event body without its routing key."""
    if action not in ACTIONS:
        raise ValueError(f"PagerDuty event_action must be one of {ACTIONS}, not {action!r}")
    incident = notice.incident
    body: dict[str, Any] = {"event_action": action, "dedup_key": incident.id[:255]}
    if action != "trigger":
        return body
    summary = f"{notice.drill_prefix}[{incident.severity}] {incident.id}: {incident.title}"
    if notice.event != "opened":
        summary += f" ({notice.headline})"
    details = {key: _plain(value) for key, value in notice.facts().items()}
    details.update({f"event_{key}": _plain(value) for key, value in notice.details.items()})
    details["event"] = notice.event
    body["payload"] = {
        "summary": pagerduty_text(summary),
        "source": one_line(incident.cluster_context or settings.source, 255),
        "severity": SEVERITY[incident.severity],
        "timestamp": notice.at.isoformat(),
        "component": one_line(incident.namespace or "network-security", 255),
        "group": "network-security",
        "class": one_line(incident.category or "network-security-incident", 255),
        "custom_details": details,
    }
    body["client"] = "warroom"
    return body


def _plain(value: Any) -> Any:
    return without_controls(value, keep_newlines=True) if isinstance(value, str) else value


async def send(
    payload: dict[str, Any],
    settings: PagerDutySettings,
    client: httpx.AsyncClient,
    scrub: Scrubber,
) -> str:
    routing_key = read_secret(settings.routing_key, "PagerDuty routing key")
    scrub.add(routing_key)
    response = await post_json(
        client,
        settings.events_url,
        {**payload, "routing_key": routing_key},
        what="PagerDuty",
        scrub=scrub,
    )
    return f"PagerDuty {payload['event_action']} accepted (HTTP {response.status_code})"
