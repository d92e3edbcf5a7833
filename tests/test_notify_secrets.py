"""Secrets scrubbed in every form a receiver may echo them; receivers' words made inert."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from actions.config import load_settings
from actions.notify import drain_outbox, notify_incident_event
from actions.notify.secrets import REDACTED, Scrubber
from store import Record
from store.safe_text import UNSAFE
from tests.plugins.notify import NotifySecrets
from tests.plugins.record import FrozenClock
from tests.test_notify_cli import await_free, run_notify

KEY = "Rk3yQ7vXw9ZpL2mN8bT4cY6hJ1sD5fG0"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ECHOES: dict[str, Callable[[str], str]] = {
    "exact": lambda key: f"invalid routing key {key}",
    "lower-cased": lambda key: f"invalid routing key {key.lower()}",
    "upper-cased": lambda key: f"INVALID ROUTING KEY {key.upper()}",
    "cut to 8": lambda key: f"key {key[:8]}... is not valid",
    "cut to 12, lower": lambda key: f"key {key[:12].lower()}…",
    "its end": lambda key: f"key ending {key[-9:]}",
    "url-encoded": lambda key: "key=" + quote("/" + key + "?", safe=""),
    "url-encoded, lower hex": lambda key: "k=" + quote(key + "/x", safe="").lower(),
    "base64": lambda key: f"token {b64(key.encode())}",
    "base64 url-safe": lambda key: base64.urlsafe_b64encode(b"??" + key.encode()).decode(),
    "basic auth": lambda key: f"Authorization: Basic {b64(b'user:' + key.encode())}",
    "smtp auth plain": lambda key: "535 bad AUTH PLAIN " + b64(b"\0alice\0" + key.encode()),
}


def decoded(text: str) -> Iterator[bytes]:
    """The bytes of every base64-looking run in `text`, decoded from each of its 4 phases."""
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        standard = run.translate(str.maketrans("-_", "+/"))
        for skip in range(4):
            part = standard[skip:]
            yield base64.b64decode(part[: len(part) - len(part) % 4])


def leaks(text: str, key: str) -> list[str]:
    """Forms of `key` still readable in `text`: 8+ characters in any case, decoded or not."""
    windows = [key[i : i + 8] for i in range(len(key) - 7)]
    found = []
    if any(window.lower() in text.lower() for window in windows):
        found.append("8+ characters")
    if quote(key, safe="").lower() in text.lower():
        found.append("url-encoded")
    if any(w.encode() in data for data in decoded(text) for w in windows):
        found.append("base64")
    return found


@pytest.mark.parametrize("echo", ECHOES)
def test_every_echoed_form_of_a_secret_is_redacted(echo: str) -> None:
    said = ECHOES[echo](KEY)
    assert leaks(said, KEY)  # the check sees the echo
    scrubbed = Scrubber([KEY])(said)
    assert leaks(scrubbed, KEY) == []
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "ordinary",
    ["invalid routing key", "Rk3yQ7v is seven", "head 5f3a1b2c3d4e5f6a", "https://events.pagerduty.com/v2/enqueue"],
)  # fmt: skip
def test_ordinary_text_and_short_runs_are_left_alone(ordinary: str) -> None:
    assert Scrubber([KEY])(ordinary) == ordinary


def test_a_webhook_url_is_scrubbed_but_its_public_parts_are_not() -> None:
    scrub = Scrubber()
    url = "https://hooks.slack.com/services/T0WARROOM/B0TEST/xQ9vLm2RtY7pKd4sWz8nHc3b"
    scrub.add_url(url)
    said = "POST https://hooks.slack.com/services/T0WARROOM/B0TEST/xq9vlm2rty7pkd4s: 404"
    assert scrub(said) == "POST https://hooks.slack.com/services/T0WARROOM/B0TEST/[redacted]: 404"


class EchoReceiver:
    """An HTTP endpoint on 127.0.0.1 that refuses every event, quoting the routing key."""

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = receiver.answer(body["routing_key"]).encode("utf-8", "surrogatepass")
                self.send_response(400)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_receiver() -> Iterator[EchoReceiver]:
    answers = " | ".join(f"{name}: {{}}" for name in ECHOES)

    def answer(key: str) -> str:
        echoed = answers.format(*(echo(key) for echo in ECHOES.values()))
        return f"\x1b]0;PWNED\x07\x9b2J\u202e {echoed} \x1b]52;c;cHduZWQ=\x07"

    receiver = EchoReceiver(answer)
    yield receiver
    receiver.stop()


async def test_a_receiver_echoing_the_key_reaches_neither_record_nor_terminal(
    record_path: Path,
    clock: FrozenClock,
    echo_receiver: EchoReceiver,
    notify_config: Any,
    notify_secrets: NotifySecrets,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = load_settings(notify_config(pagerduty=echo_receiver))
    key = notify_secrets.routing_key
    with Record.open(record_path, clock=clock) as record:
        incident = record.incidents.open("Routing key echo", severity="P1")
        notify_incident_event(record, settings, incident, "opened")
        report = await drain_outbox(record, settings)
        (item,) = record.outbox.items()
    assert [f.channel for f in report.failed] == ["pagerduty"]
    assert item.last_error is not None
    assert "HTTP 400" in item.last_error
    assert not UNSAFE.search(item.last_error)  # stored inert: ESC, C1 and U+202E marked
    stored = b"".join(p.read_bytes() for p in record_path.parent.glob(record_path.name + "*"))
    assert leaks(stored.decode("utf-8", "replace"), key) == []
    for argv in ([], ["--json"]):
        _code, out, err = await_free(run_notify, argv, capsys)
        assert leaks(out + err, key) == []
        assert not UNSAFE.search(out.replace("\n", ""))
