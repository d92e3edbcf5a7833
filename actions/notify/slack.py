"""Slack incoming webhook with Block Kit: a header, the facts as fields, a context line.

Limits from Slack's Block Kit reference: header text (plain_text) 150
characters, section text 3000, each section field 2000 and at most 10 fields.
`text` is the fallback shown in notifications. Every incident string goes
through `slack_mrkdwn`/`slack_plain`. The webhook URL is the secret: read at
send time, never stored, never in a message.
"""

from __future__ import annotations

from typing import Any

import httpx

from actions.config import SlackSettings
from actions.notify.http import post_json
from actions.notify.neutralise import slack_mrkdwn, slack_plain
from actions.notify.notice import Notice
from actions.notify.secrets import Scrubber, read_secret

CHANNEL = "slack"
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_DETAILS = 5  # 5 lines of at most 60 + 500 characters stay under the section limit
_ICON = {"P0": ":rotating_light:", "P1": ":red_circle:", "P2": ":large_orange_circle:",
         "P3": ":large_blue_circle:"}  # fmt: skip


def build(notice: Notice, settings: SlackSettings) -> dict[str, Any]:
    incident = notice.incident
    header = f"{notice.drill_prefix}{incident.severity} {incident.id}: {notice.headline}"
    title = slack_mrkdwn(incident.title, SECTION_LIMIT - 20)
    fields = [
        ("Severity", incident.severity),
        ("Status", incident.status),
        ("Phase", incident.phase),
        ("Namespace", incident.namespace),
        ("Cluster", incident.cluster_context),
        ("Commander", incident.commander),
        ("Detected", incident.detected_at.isoformat() if incident.detected_at else None),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": slack_plain(header, HEADER_LIMIT)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Incident:* {title}"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{slack_mrkdwn(value, FIELD_LIMIT - 40)}"}
                for label, value in fields
                if value
            ][:MAX_FIELDS],
        },
    ]
    if notice.details:
        lines = "\n".join(
            f"*{slack_mrkdwn(key, 60)}:* {slack_mrkdwn(value, 500)}"
            for key, value in list(notice.details.items())[:MAX_DETAILS]
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"warroom · {incident.id} · {notice.event} · {notice.at.isoformat()}"
                    + (f" · record {notice.record_head}" if notice.record_head else ""),
                }
            ],
        }
    )
    fallback = (
        f"{_ICON.get(incident.severity, '')} {slack_mrkdwn(header, 300)}: "
        f"{slack_mrkdwn(incident.title, 1000)}"
    )
    body: dict[str, Any] = {"text": fallback, "blocks": blocks}
    if settings.channel:
        # Honoured by legacy webhooks; app webhooks post to the channel they were made for.
        body["channel"] = settings.channel
    return body


async def send(
    payload: dict[str, Any], settings: SlackSettings, client: httpx.AsyncClient, scrub: Scrubber
) -> str:
    url = read_secret(settings.webhook_url, "Slack webhook URL")
    scrub.add_url(url)
    response = await post_json(client, url, payload, what="Slack webhook", scrub=scrub)
    return f"Slack accepted (HTTP {response.status_code})"
