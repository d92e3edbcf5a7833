"""The SIEM: Splunk HTTP Event Collector events and/or RFC 5424 syslog over UDP or TCP.

HEC (Splunk's "Format events for HTTP Event Collector"): POST to
`/services/collector/event` with `Authorization: Splunk <token>`, a JSON object
`{"time", "host", "source", "sourcetype", "index"?, "event"}`; the answer is
`{"text": "Success", "code": 0}`.

Syslog (RFC 5424): `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`,
one message per UDP datagram, and on TCP octet-counted framing (RFC 6587
section 3.4.1: `LENGTH SP MESSAGE`) so no text can forge a second message. MSG
is the event as ASCII JSON, so it holds no raw line break either.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpx

from actions.config import SYSLOG_FACILITIES, SiemSettings
from actions.notify.errors import DeliveryError
from actions.notify.http import post_json
from actions.notify.neutralise import one_line, syslog_sd_name, syslog_sd_value, syslog_token
from actions.notify.notice import Notice
from actions.notify.secrets import Scrubber, read_secret
from store.wording import counted

HEC_CHANNEL = "siem-hec"
SYSLOG_CHANNEL = "siem-syslog"
# RFC 5424 severities: critical, error, warning, informational.
SYSLOG_SEVERITY = {"P0": 2, "P1": 3, "P2": 4, "P3": 6}
SD_PARAMS = ("incident_id", "severity", "status", "phase", "event", "namespace", "drill")


def siem_event(notice: Notice) -> dict[str, Any]:
    """The event as the SIEM stores it: the incident's facts plus what happened."""
    event = {**notice.facts(), "event": notice.event, "headline": notice.headline}
    if notice.details:
        event["details"] = dict(notice.details)
    event["at"] = notice.at.isoformat()
    return event


def build_hec(notice: Notice, settings: SiemSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": round(notice.at.timestamp(), 6),
        "host": settings.host or socket.gethostname(),
        "source": settings.hec_source,
        "sourcetype": settings.hec_sourcetype,
        "event": siem_event(notice),
    }
    if settings.hec_index:
        body["index"] = settings.hec_index
    return body


def build_syslog(notice: Notice, settings: SiemSettings) -> dict[str, Any]:
    event = siem_event(notice)
    return {
        "severity": SYSLOG_SEVERITY.get(notice.incident.severity, 5),
        "timestamp": notice.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "msgid": notice.event,
        "params": {
            key: str(event[key]).lower() if key == "drill" else str(event[key])
            for key in SD_PARAMS
            if key in event
        },  # fmt: skip
        "message": json.dumps(event, ensure_ascii=True, separators=(",", ":"), sort_keys=True),
    }


async def send_hec(
    payloads: list[dict[str, Any]],
    settings: SiemSettings,
    client: httpx.AsyncClient,
    scrub: Scrubber,
) -> str:
    """POST events in one request, one JSON object per line (HEC's batch form)."""
    if not settings.hec_url:
        raise DeliveryError("SIEM HEC: hec_url is no longer configured", permanent=False)
    token = read_secret(settings.token, "Splunk HEC token")
    scrub.add(token)
    response = await post_json(
        client,
        settings.hec_url,
        payloads,
        what="Splunk HEC",
        scrub=scrub,
        headers={"Authorization": f"Splunk {token}"},
    )
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("code", 0) != 0:
        text = scrub(one_line(str(answer.get("text")), 200))
        raise DeliveryError(f"Splunk HEC: code {answer.get('code')}: {text}", permanent=False)
    count = counted(len(payloads), "event") if len(payloads) > 1 else "event"
    return f"Splunk HEC accepted {count} (HTTP {response.status_code})"


def frame(payload: dict[str, Any], settings: SiemSettings, *, hostname: str | None = None) -> bytes:
    """The RFC 5424 message for a stored syslog payload."""
    pri = SYSLOG_FACILITIES[settings.syslog_facility] * 8 + int(payload["severity"])
    host = syslog_token(hostname or settings.host or socket.gethostname(), 255)
    app = syslog_token(settings.syslog_app_name, 48)
    procid = syslog_token(str(os.getpid()), 128)
    msgid = syslog_token(payload["msgid"], 32)
    sd_id = syslog_sd_name(settings.syslog_sd_id)
    params = "".join(
        f' {syslog_sd_name(name)}="{syslog_sd_value(value)}"'
        for name, value in payload["params"].items()
    )
    header = f"<{pri}>1 {payload['timestamp']} {host} {app} {procid} {msgid} [{sd_id}{params}]"
    return f"{header} {payload['message']}".encode()


async def send_syslog(
    payload: dict[str, Any], settings: SiemSettings, timeout_seconds: float
) -> str:
    if not settings.syslog:
        raise DeliveryError("SIEM syslog: syslog is no longer configured", permanent=False)
    target = urlsplit(settings.syslog)
    host, port = target.hostname or "127.0.0.1", target.port or 514
    message = frame(payload, settings)
    where = f"syslog {target.scheme}://{host}:{port}"
    try:
        if target.scheme == "tcp":
            await asyncio.wait_for(_send_tcp(host, port, message), timeout_seconds)
        else:
            await asyncio.wait_for(_send_udp(host, port, message), timeout_seconds)
    except TimeoutError:
        raise DeliveryError(f"{where}: timed out", permanent=False) from None
    except OSError as error:
        raise DeliveryError(f"{where}: {error.strerror or error}", permanent=False) from None
    return f"sent to {where} ({len(message)} bytes)"


async def _send_tcp(host: str, port: int, message: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(str(len(message)).encode() + b" " + message)
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def _send_udp(host: str, port: int, message: bytes) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=(host, port)
    )
    try:
        transport.sendto(message)
    finally:
        transport.close()
