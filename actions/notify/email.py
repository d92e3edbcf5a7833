"""E-mail over SMTP (STARTTLS or implicit TLS, and AUTH when a username is set).

The message is built with `email.message.EmailMessage` under `email.policy.SMTP`,
which refuses a header value containing CR or LF; the subject is also made one
line beforehand, so a hostile title cannot add a header (`Bcc:`) or a body.
smtplib is blocking: it runs in a thread with a timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Any

from actions.config import EmailSettings
from actions.notify.errors import DeliveryError
from actions.notify.neutralise import email_body, email_header
from actions.notify.notice import Notice
from actions.notify.secrets import Scrubber, read_secret

CHANNEL = "email"


def build(notice: Notice, settings: EmailSettings) -> dict[str, Any]:
    incident = notice.incident
    subject = (
        f"{notice.drill_prefix}[warroom][{incident.severity}] {incident.id}: "
        f"{notice.headline}: {incident.title}"
    )
    lines = [
        f"{notice.headline}",
        "",
        f"Incident:  {incident.id}",
        f"Title:     {incident.title}",
        f"Severity:  {incident.severity}",
        f"Status:    {incident.status}",
        f"Phase:     {incident.phase}",
    ]
    for label, value in (
        ("Namespace", incident.namespace),
        ("Cluster", incident.cluster_context),
        ("Commander", incident.commander),
        ("Detected", incident.detected_at.isoformat() if incident.detected_at else None),
    ):
        if value:
            lines.append(f"{label + ':':<10} {value}")
    if notice.details:
        lines += ["", "Details:"] + [f"  {key}: {value}" for key, value in notice.details.items()]
    lines += ["", f"Sent by warroom at {notice.at.isoformat()}."]
    if notice.record_head:
        lines.append(f"Record chain head: {notice.record_head} (warroom verify --anchor)")
    if incident.drill:
        lines.insert(0, "THIS IS A DRILL.")
    return {
        "subject": email_header(subject, 200),
        "body": email_body("\n".join(lines)),
        "from": settings.sender,
        "to": list(settings.to),
        "date": notice.at.isoformat(),
        "incident_id": incident.id,
    }


def to_message(payload: dict[str, Any], message_key: str) -> EmailMessage:
    """The MIME message; raises ValueError if a header would carry a line break."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = payload["from"]
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = email_header(payload["subject"])
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = payload["from"].rpartition("@")[2] or "warroom.invalid"
    # Stable across re-sends of the same notification, so mail clients can fold duplicates.
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:24]
    message["Message-ID"] = f"<warroom.{digest}@{domain}>"
    message["X-Warroom-Incident"] = email_header(payload.get("incident_id", ""), 64)
    message.set_content(payload["body"])
    return message


async def send(
    payload: dict[str, Any],
    settings: EmailSettings,
    message_key: str,
    timeout_seconds: float,
    scrub: Scrubber,
) -> str:
    password = None
    if settings.username:
        password = read_secret(settings.password, "SMTP password")
        scrub.add(password)
    message = to_message(payload, message_key)
    try:
        refused = await asyncio.to_thread(
            _deliver, message, payload, settings, password, timeout_seconds
        )
    except DeliveryError:
        raise
    except smtplib.SMTPResponseException as error:
        reply = error.smtp_error
        text = scrub(reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply))
        raise DeliveryError(
            f"SMTP {settings.smtp_host}: {error.smtp_code} {' '.join(text.split())[:200]}",
            # 5xx replies are permanent in SMTP (RFC 5321); 4xx are "try again later".
            permanent=500 <= error.smtp_code < 600,
        ) from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _ in error.recipients.values()})
        raise DeliveryError(
            f"SMTP {settings.smtp_host}: every recipient refused ({', '.join(map(str, codes))})",
            permanent=all(500 <= code < 600 for code in codes),
        ) from None
    except TimeoutError:
        raise DeliveryError(f"SMTP {settings.smtp_host}: timed out", permanent=False) from None
    except ssl.SSLError as error:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}: TLS failed: {scrub(error.reason or str(error))}",
            permanent=False,
        ) from None
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(error).__name__}: "
            f"{scrub(str(error))[:200]}",
            permanent=False,
        ) from None
    accepted = len(payload["to"]) - len(refused)
    return f"SMTP accepted for {accepted} recipient(s)"


def _deliver(
    message: EmailMessage,
    payload: dict[str, Any],
    settings: EmailSettings,
    password: str | None,
    timeout: float,
) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    smtp: smtplib.SMTP
    if settings.ssl:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if settings.starttls:
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"SMTP {settings.smtp_host}: the server does not offer STARTTLS "
                    "(set starttls = false only if plain text is acceptable)",
                    permanent=False,
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username and password is not None:
            smtp.login(settings.username, password)
        return smtp.send_message(message, from_addr=payload["from"], to_addrs=payload["to"])
