"""Input validation (DNS-1123 names, label values) and the labels every emergency object carries."""

from __future__ import annotations

import re
from typing import Any

from actions.strict_input import DNS1123_LABEL

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
DOMAIN = re.compile(
    r"[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]*"
    r"[A-Za-z0-9_])?)*\.?"
)

INCIDENT_LABEL = "warroom.io/incident"
ACTION_ANNOTATION = "warroom.io/action"
BLOCKS_ANNOTATION = "warroom.io/blocks"
PRE_DISABLE_ANNOTATION = "warroom.io/pre-disable"
DISABLED_ANNOTATION = "security.voicehive.io/disabled"
EMERGENCY_LABELS = {"emergency": "true", "created-by": "incident-response"}


class InvalidRequest(ValueError):
    """Input the operator must fix (a usage error): nothing was sent or recorded.

    `field`: the ActionRequest attribute at fault ("target", "service", ...), when one is,
    so a form can put the cursor there.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def shown(value: str, limit: int = 80) -> str:
    """A hostile value quoted for a message: repr() escapes control characters."""
    return repr(value[:limit] + ("..." if len(value) > limit else ""))


def check_label_name(value: str | None, what: str) -> str:
    """A DNS-1123 label (services, namespaces): lower-case, digits, '-', at most 63."""
    if not value:
        raise InvalidRequest(f"{what} is required")
    if len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        raise InvalidRequest(
            f"{what} {shown(value)} is not a valid name: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def check_object_name(value: str | None, what: str) -> str:
    """A DNS-1123 subdomain (service accounts and most objects), at most 253 characters."""
    if not value:
        raise InvalidRequest(f"{what} is required")
    if len(value) > 253 or not DNS1123_SUBDOMAIN.fullmatch(value):
        raise InvalidRequest(
            f"{what} {shown(value)} is not a valid name: lower-case letters, digits, '-' and "
            "'.', starting and ending with a letter or digit, at most 253 characters"
        )
    return value


def check_domain(value: str) -> str:
    if len(value) > 253 or not DOMAIN.fullmatch(value):
        raise InvalidRequest(f"domain {shown(value)} is not a DNS name")
    return value


def check_incident_id(value: str) -> str:
    """Incident IDs become label values, so they must be valid ones."""
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        raise InvalidRequest(f"incident ID {shown(value)} cannot be used as a label value")
    return value


def emergency_metadata(
    name: str,
    namespace: str,
    incident_id: str,
    action: str,
    extra_annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata for an object the action creates: found again by restore, by label."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**EMERGENCY_LABELS, INCIDENT_LABEL: incident_id},
        "annotations": {ACTION_ANNOTATION: action, **(extra_annotations or {})},
    }


def incident_selector(incident_id: str) -> str:
    return f"emergency=true,{INCIDENT_LABEL}={incident_id}"
