"""Local receivers for the alert channels, on 127.0.0.1, that check what they are sent.

- `ShapeReceiver`: an HTTP server playing PagerDuty Events API v2, a Slack
  incoming webhook or a Splunk HEC endpoint. It checks each request against
  the documented shape (and answers like the real service: 202, "ok",
  `{"text": "Success", "code": 0}`, or their 4xx errors), and fails on demand:
  HTTP 500, 429, a hang past the client's timeout, or connection refused.
- `smtp_server` / `smtp_tls_server`: aiosmtpd, the second requiring STARTTLS
  and AUTH with a self-signed certificate made by `openssl`.
- `SyslogListener`: UDP datagrams and RFC 6587 octet-counted TCP frames.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
SLACK_BLOCK_TYPES = ("header", "section", "context", "divider")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- documented shapes -------------------------------------------------------------


def pagerduty_problems(body: Any) -> list[str]:
    """What is wrong with a PagerDuty Events API v2 event (empty: valid)."""
    if not isinstance(body, dict):
        return ["the event must be a JSON object"]
    problems = []
    if not isinstance(body.get("routing_key"), str) or not body["routing_key"]:
        problems.append("routing_key is required")
    if body.get("event_action") not in PD_ACTIONS:
        problems.append(f"event_action must be one of {PD_ACTIONS}")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        problems.append("dedup_key must be text of at most 255 characters")
    if body.get("event_action") in ("acknowledge", "resolve") and not dedup:
        problems.append("acknowledge and resolve need a dedup_key")
    if body.get("event_action") == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "payload is required for trigger"]
        for key in ("summary", "source", "severity"):
            if not isinstance(payload.get(key), str) or not payload[key]:
                problems.append(f"payload.{key} is required")
        if len(payload.get("summary", "")) > 1024:
            problems.append("payload.summary is longer than 1024 characters")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append(f"payload.severity must be one of {PD_SEVERITIES}")
        for key in ("component", "group", "class", "timestamp"):
            if key in payload and not isinstance(payload[key], str):
                problems.append(f"payload.{key} must be text")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    known = {"routing_key", "event_action", "dedup_key", "payload", "images", "links",
             "client", "client_url"}  # fmt: skip
    problems += [f"unknown field {key}" for key in body if key not in known]
    return problems


def _text_object(obj: Any, limit: int, where: str, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where} must be a text object of type {'/'.join(kinds)}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}.text is required"]
    if len(text) > limit:
        return [f"{where}.text is longer than {limit} characters"]
    return []


def slack_problems(body: Any) -> list[str]:
    """What Slack would refuse in an incoming-webhook message with Block Kit blocks."""
    if not isinstance(body, dict):
        return ["invalid_payload"]
    problems = []
    if not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("text (the notification fallback) is required with blocks")
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*problems, "blocks must be a list of 1 to 50 blocks"]
    for n, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"blocks[{n}]"
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
        elif kind == "header":
            problems += _text_object(block.get("text"), 150, where, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_object(block["text"], 3000, where, ("plain_text", "mrkdwn"))
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                problems.append(f"{where}: at most 10 fields")
            for f, item in enumerate(fields if isinstance(fields, list) else []):
                problems += _text_object(item, 2000, f"{where}.fields[{f}]",
                                         ("plain_text", "mrkdwn"))  # fmt: skip
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}: context needs 1 to 10 elements")
            for e, item in enumerate(elements or []):
                problems += _text_object(item, 3000, f"{where}.elements[{e}]",
                                         ("plain_text", "mrkdwn"))  # fmt: skip
    known = {"text", "blocks", "channel", "username", "icon_emoji", "icon_url", "thread_ts",
             "mrkdwn", "unfurl_links", "unfurl_media"}  # fmt: skip
    problems += [f"unknown field {key}" for key in body if key not in known]
    return problems


def hec_events(raw: bytes) -> list[Any] | None:
    """The events of an HEC request: JSON objects one after another (None: not that)."""
    text = raw.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    events, position = [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        try:
            event, position = decoder.raw_decode(text, position)
        except ValueError:
            return None
        events.append(event)
    return events or None


def hec_problems(body: Any) -> list[str]:
    """What Splunk HEC would refuse in an /services/collector/event body."""
    if not isinstance(body, dict):
        return ["Invalid data format"]
    problems = []
    if "event" not in body or body["event"] in (None, "", {}):
        problems.append("Event field is required")
    if "time" in body and (isinstance(body["time"], bool)
                           or not isinstance(body["time"], int | float)):  # fmt: skip
        problems.append("time must be epoch seconds")
    for key in ("host", "source", "sourcetype", "index"):
        if key in body and not isinstance(body[key], str):
            problems.append(f"{key} must be text")
    known = {"time", "host", "source", "sourcetype", "index", "event", "fields"}
    problems += [f"unknown field {key}" for key in body if key not in known]
    return problems


# --- the HTTP receiver -------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any


@dataclass
class ShapeReceiver:
    """A PagerDuty, Slack or HEC endpoint on 127.0.0.1 that can fail on demand."""

    kind: str  # "pagerduty" | "slack" | "hec"
    path: str
    token: str | None = None  # HEC: the token the Authorization header must carry
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)  # accepted requests
    rejected: list[tuple[Received, list[str]]] = field(default_factory=list)
    hits: int = 0  # every request that reached a handler, whatever the answer
    hec_requests: int = 0  # HEC: accepted requests (each may carry several events)
    failures: list[tuple[int, float | None]] = field(default_factory=list)  # (status, retry-after)
    hang_seconds: float = 0.0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        self.failures.extend([(status, retry_after)] * times)

    def hang(self, seconds: float) -> None:
        """Answer only after `seconds` (0: answer at once): longer than the client's timeout."""
        self.hang_seconds = seconds

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, body: Any,
                headers: dict[str, str] | None = None) -> None:  # fmt: skip
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json" if not isinstance(body, bytes)
                            else "text/plain")  # fmt: skip
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.hits += 1
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        if self.failures:
            status, retry_after = self.failures.pop(0)
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
            # Echo what identifies the caller, as some gateways do ("invalid key X"):
            # warroom must scrub these secrets from the error it records.
            try:
                key = json.loads(raw).get("routing_key")
            except (ValueError, AttributeError):
                key = None
            echo = {"path": handler.path, "routing_key": key,
                    "authorization": handler.headers.get("Authorization"),
                    "message": "failing on purpose"}  # fmt: skip
            self._answer(handler, status, echo, headers)
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        request = Received(handler.path, dict(handler.headers.items()), raw, body)
        if handler.path != self.path:
            self.rejected.append((request, ["wrong path"]))
            self._answer(handler, 404, b"no_service")
            return
        if handler.headers.get("Content-Type", "").split(";")[0] != "application/json":
            self.rejected.append((request, ["Content-Type must be application/json"]))
            self._answer(handler, 400, b"invalid_payload")
            return
        if self.kind == "pagerduty":
            problems = pagerduty_problems(body)
            if problems:
                self.rejected.append((request, problems))
                self._answer(handler, 400, {"status": "invalid event",
                                            "message": "Event object is invalid",
                                            "errors": problems})  # fmt: skip
                return
            self.received.append(request)
            self._answer(handler, 202, {"status": "success", "message": "Event processed",
                                        "dedup_key": body.get("dedup_key")})  # fmt: skip
        elif self.kind == "slack":
            problems = slack_problems(body)
            if problems:
                self.rejected.append((request, problems))
                self._answer(handler, 400, b"invalid_blocks")
                return
            self.received.append(request)
            self._answer(handler, 200, b"ok")
        else:
            if handler.headers.get("Authorization") != f"Splunk {self.token}":
                self.rejected.append((request, ["bad token"]))
                self._answer(handler, 403, {"text": "Invalid token", "code": 4})
                return
            events = hec_events(raw)
            problems = ["Invalid data format"] if events is None else []
            for number, event in enumerate(events or []):
                problems += [f"event {number}: {p}" for p in hec_problems(event)]
            if problems:
                self.rejected.append((request, problems))
                self._answer(handler, 400, {"text": "Invalid data format", "code": 6})
                return
            self.hec_requests += 1
            for event in events or []:
                self.received.append(Received(request.path, request.headers, raw, event))
            self._answer(handler, 200, {"text": "Success", "code": 0})

    def bodies(self) -> list[Any]:
        return [r.body for r in self.received]


# --- syslog ------------------------------------------------------------------------

# RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
SYSLOG_HEADER = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>[!-~]{1,255}) (?P<app>[!-~]{1,48}) "
    r"(?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) "
)
_SD_ELEMENT = re.compile(
    r'\[(?P<id>[^ =\]"]{1,32})(?P<params>(?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\.)*")*)\]'
)
_SD_PARAM = re.compile(r' (?P<name>[^ =\]"]{1,32})="(?P<value>(?:[^"\\\]]|\\.)*)"')


@dataclass
class SyslogMessage:
    pri: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    msg: str


def parse_rfc5424(data: bytes) -> SyslogMessage:
    """Parse one RFC 5424 message strictly; AssertionError says what is wrong."""
    text = data.decode("utf-8")
    header = SYSLOG_HEADER.match(text)
    assert header, f"not an RFC 5424 header: {text[:120]!r}"
    rest = text[header.end() :]
    element = _SD_ELEMENT.match(rest)
    assert element, f"not one SD-ELEMENT: {rest[:200]!r}"
    params = {
        m["name"]: re.sub(r"\\(.)", r"\1", m["value"])
        for m in _SD_PARAM.finditer(element["params"])
    }
    after = rest[element.end() :]
    assert after.startswith(" "), "MSG must follow the structured data after one space"
    return SyslogMessage(
        pri=int(header["pri"]),
        timestamp=header["timestamp"],
        hostname=header["hostname"],
        app=header["app"],
        procid=header["procid"],
        msgid=header["msgid"],
        sd_id=element["id"],
        params=params,
        msg=after[1:],
    )


class SyslogListener:
    """A syslog collector on 127.0.0.1: UDP datagrams and octet-counted TCP frames."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.transports: list[str] = []
        self.frame_errors: list[str] = []
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self.udp_port = self._udp.getsockname()[1]
        listener = self

        class TcpHandler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                listener._read_frames(self.rfile)

        self._tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TcpHandler)
        self._tcp.daemon_threads = True
        self.tcp_port = self._tcp.server_address[1]
        self._received = threading.Condition()
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._tcp.serve_forever, args=(0.05,), daemon=True).start()

    def _add(self, data: bytes, transport: str) -> None:
        with self._received:
            self.messages.append(data)
            self.transports.append(transport)
            self._received.notify_all()

    def _serve_udp(self) -> None:
        while True:
            try:
                data, _ = self._udp.recvfrom(65535)
            except OSError:
                return
            self._add(data, "udp")

    def _read_frames(self, stream: Any) -> None:
        while True:
            digits = b""
            while (char := stream.read(1)) and char != b" ":
                if not char.isdigit() or len(digits) > 8:
                    self.frame_errors.append(f"bad octet count {digits + char!r}")
                    return
                digits += char
            if not char:
                if digits:
                    self.frame_errors.append("stream ended inside a frame length")
                return
            length = int(digits)
            data = stream.read(length)
            if len(data) != length:
                self.frame_errors.append(f"frame of {length} octets cut at {len(data)}")
                return
            self._add(data, "tcp")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[bytes]:
        with self._received:
            self._received.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self._udp.close()
        self._tcp.shutdown()
        self._tcp.server_close()


# --- SMTP --------------------------------------------------------------------------


class SmtpSink:
    """An aiosmtpd handler that keeps every message and can refuse on demand."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.refuse: list[str] = []  # SMTP replies to give DATA instead of accepting

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, _class=EmailMessage, policy=default_policy)
            for _, _, raw in self.envelopes
        ]


@dataclass
class SmtpServer:
    port: int
    sink: SmtpSink
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP (no TLS, no AUTH) on 127.0.0.1."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port=port, sink=sink)
    finally:
        controller.stop()


@pytest.fixture
def smtp_tls_server(tls_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """SMTP that requires STARTTLS, then AUTH with a generated password."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    username, password = "warroom", "smtp-" + secrets.token_urlsafe(16)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (isinstance(data, LoginPassword) and data.login == username.encode()
              and data.password == password.encode())  # fmt: skip
        # handled=False: aiosmtpd then answers a refusal with 535 itself.
        return AuthResult(success=ok, handled=False)

    sink = SmtpSink()
    port = free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield SmtpServer(port=port, sink=sink, ca_file=cert, username=username, password=password)
    finally:
        controller.stop()


# --- receivers as fixtures ---------------------------------------------------------


@dataclass
class NotifySecrets:
    """Secret values exported for a test; tests grep outputs and the record for them."""

    routing_key: str
    slack_path: str
    hec_token: str

    def all(self) -> list[str]:
        return [self.routing_key, self.slack_path, self.hec_token]


@pytest.fixture
def notify_secrets() -> NotifySecrets:
    return NotifySecrets(
        routing_key="R" + secrets.token_hex(16),
        slack_path="/services/T0WARROOM/B0TEST/" + secrets.token_urlsafe(24),
        hec_token=secrets.token_hex(8) + "-" + secrets.token_hex(8),
    )


@pytest.fixture
def pagerduty_receiver() -> Iterator[ShapeReceiver]:
    receiver = ShapeReceiver("pagerduty", "/v2/enqueue")
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def slack_receiver(notify_secrets: NotifySecrets) -> Iterator[ShapeReceiver]:
    receiver = ShapeReceiver("slack", notify_secrets.slack_path)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hec_receiver(notify_secrets: NotifySecrets) -> Iterator[ShapeReceiver]:
    receiver = ShapeReceiver("hec", "/services/collector/event", token=notify_secrets.hec_token)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def syslog_listener() -> Iterator[SyslogListener]:
    listener = SyslogListener()
    yield listener
    listener.close()


@pytest.fixture
def notify_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notify_secrets: NotifySecrets
) -> Any:
    """A factory: write a config file for the given receivers, export their secrets.

    Returns the path; WARROOM_CONFIG points at it too, so subprocesses use it.
    """

    def make(
        *,
        pagerduty: ShapeReceiver | None = None,
        slack: ShapeReceiver | None = None,
        hec: ShapeReceiver | None = None,
        syslog: str | None = None,
        smtp: SmtpServer | None = None,
        timeout: float = 2.0,
        record_entries: bool = False,
        extra: str = "",
    ) -> Path:
        parts = [f"[alerting]\ntimeout_seconds = {timeout}\n"]
        if pagerduty is not None:
            monkeypatch.setenv("WARROOM_PAGERDUTY_ROUTING_KEY", notify_secrets.routing_key)
            parts.append(f'[alerting.pagerduty]\nevents_url = "{pagerduty.url}"\n')
        if slack is not None:
            monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", slack.url)
            parts.append('[alerting.slack]\nchannel = "#security-alerts"\n')
        if hec is not None or syslog is not None:
            # Off unless asked for: most tests look at incident events alone.
            parts.append(f"[alerting.siem]\nrecord_entries = {str(record_entries).lower()}\n")
            if hec is not None:
                monkeypatch.setenv("WARROOM_SIEM_TOKEN", notify_secrets.hec_token)
                parts.append(f'hec_url = "{hec.url}"\nhost = "warroom-test"\n')
            if syslog is not None:
                parts.append(f'syslog = "{syslog}"\nhost = "warroom-test"\n'
                             if hec is None else f'syslog = "{syslog}"\n')  # fmt: skip
        if smtp is not None:
            parts.append(
                f'[alerting.email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
                'from = "warroom@example.com"\nto = ["security-team@example.com"]\n'
            )
            if smtp.username:
                monkeypatch.setenv("WARROOM_SMTP_PASSWORD", smtp.password or "")
                parts.append(f'starttls = true\nusername = "{smtp.username}"\n'
                             f'ca_file = "{smtp.ca_file}"\n')  # fmt: skip
            else:
                parts.append("starttls = false\n")
        parts.append(extra)
        path = tmp_path / "warroom.toml"
        path.write_text("\n".join(parts), encoding="utf-8")
        monkeypatch.setenv("WARROOM_CONFIG", str(path))
        return path

    return make


@pytest.fixture
def smtps_server(tls_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """SMTP over implicit TLS (the port 465 style), no AUTH."""
    from aiosmtpd.controller import Controller

    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield SmtpServer(port=port, sink=sink, ca_file=cert)
    finally:
        controller.stop()
