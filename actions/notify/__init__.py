"""Alert channels: PagerDuty, Slack, e-mail and the SIEM, through the record's outbox.

`notify_incident_event` and `escalate` queue notifications; `drain_outbox`
sends them. Secrets are read at send time from the environment variables or
files the configuration names, and never stored or shown.
"""

from __future__ import annotations

from actions.notify.drain import Attempt, DrainReport, drain_outbox, item_to_dict, run_drainer
from actions.notify.errors import DeliveryError
from actions.notify.routing import EVENTS, Escalation, Queued, escalate, notify_incident_event

__all__ = [
    "EVENTS",
    "Attempt",
    "DeliveryError",
    "DrainReport",
    "Escalation",
    "Queued",
    "drain_outbox",
    "escalate",
    "item_to_dict",
    "notify_incident_event",
    "run_drainer",
]
