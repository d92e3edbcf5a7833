"""Lines per second of actions.falco: parse_line and Classifier.classify on Falco 0.41 JSON alerts.

Usage: python bench/parse.py [N]   (default 200,000 lines)
"""

from __future__ import annotations

import gc
import io
import json
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.falco.alert import FalcoAlert  # noqa: E402
from actions.falco.classify import Classifier  # noqa: E402
from actions.falco.parse import iter_lines, parse_line  # noqa: E402

_RULES = [
    (
        "Contact K8S API Server From Container",
        "Notice",
        "Unexpected connection to K8s API Server from container",
    ),
    (
        "Redirect STDOUT/STDIN to Network Connection in Container",
        "Notice",
        "Redirect stdout/stdin to network connection",
    ),
    (
        "Netcat Remote Code Execution in Container",
        "Warning",
        "Netcat runs inside container that allows remote code execution",
    ),
    ("Outbound Connection to C2 Servers", "Warning", "Outbound connection to C2 server"),
]
_TAGS = ["T1059", "container", "maturity_stable", "mitre_execution", "network", "process"]


def alert_line(number: int) -> bytes:
    """A Falco 0.41-shaped JSON alert (sorted keys, container plugin fields), about 1.3 kB."""
    rule, priority, message = _RULES[number % len(_RULES)]
    evt_ns = 1_795_740_000_000_000_000 + number * 1_000_003
    seconds, nanos = divmod(evt_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
    clock = stamp[11:29]
    fields = {
        "container.id": "3f2a1b9c8d7e",
        "container.image.repository": "registry.example.com/voicehive/api-gateway",
        "container.image.tag": "3.8.2",
        "container.name": "api-gateway",
        "evt.time": evt_ns,
        "evt.type": "connect",
        "fd.l4proto": "tcp",
        "fd.lport": 43122,
        "fd.name": f"10.0.3.17:{40000 + number % 20000}->10.96.0.1:443",
        "fd.rport": 443,
        "fd.type": "ipv4",
        "k8s.ns.name": "voicehive",
        "k8s.pod.name": "api-gateway-5d7f9b8c6-h3k2l",
        "proc.cmdline": "curl -sk https://kubernetes.default.svc/api/v1/namespaces/voicehive/secrets",
        "proc.exepath": "/usr/bin/curl",
        "proc.name": "curl",
        "proc.pname": "sh",
        "proc.tty": 0,
        "user.loginuid": -1,
        "user.name": "root",
        "user.uid": 0,
    }
    tail = " ".join(f"{key.replace('.', '_')}={value}" for key, value in fields.items())
    doc = {
        "hostname": "node-a-1",
        "output": f"{clock}: {priority} {message} | {tail}",
        "output_fields": fields,
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": _TAGS,
        "time": stamp,
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def timed(label: str, items: list[Any], work: Callable[[Any], object]) -> float:
    """Apply `work` to every item, dropping results; print the rate, return us per item."""
    started = time.perf_counter()
    for item in items:
        work(item)
    elapsed = time.perf_counter() - started
    per_line = elapsed / len(items) * 1e6
    print(f"{label:<16}{len(items) / elapsed:>12,.0f} lines/s {per_line:8.2f} us/line")
    return per_line


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    lines = [alert_line(number) for number in range(count)]
    texts = [line.decode() for line in lines]
    classifier = Classifier.load()
    alerts = [parse_line(line) for line in lines]
    print(f"{count:,} lines, {sum(map(len, lines)) / count:,.0f} bytes each")
    # The inputs are long-lived: keep the collector from rescanning them in every run.
    gc.collect()
    gc.freeze()

    started = time.perf_counter()
    split = sum(1 for _ in iter_lines(io.BytesIO(b"\n".join(lines) + b"\n")))
    elapsed = time.perf_counter() - started
    print(
        f"{'iter_lines':<16}{split / elapsed:>12,.0f} lines/s {elapsed / split * 1e6:8.2f} us/line"
    )
    # The floor any parser built on json.loads pays; on a loaded machine it rises
    # too, so what parse_line adds on top is the figure to watch.
    floor = timed("json.loads", texts, json.loads)
    timed("parse_line", lines, parse_line)
    timed("classify", alerts, classifier.classify)
    timed("dedupe_key", alerts, lambda alert: alert.dedupe_key)

    def parse_and_classify(line: bytes) -> object:
        alert = parse_line(line)
        return classifier.classify(alert) if isinstance(alert, FalcoAlert) else alert

    both = timed("parse+classify", lines, parse_and_classify)
    print(f"parse+classify beyond json.loads: {both - floor:.2f} us/line")

    # Best of several short runs on one line: robust to other load on the machine.
    line, text = lines[1], texts[1]
    best = {
        label: min(timeit.repeat(work, number=2_000, repeat=15)) / 2_000 * 1e6
        for label, work in (
            ("json.loads", lambda: json.loads(text)),
            ("parse_line", lambda: parse_line(line)),
            ("parse+classify", lambda: parse_and_classify(line)),
        )
    }
    print(
        "best of 15 x 2,000 on one line: " + ", ".join(f"{k} {v:.2f} us" for k, v in best.items())
    )


if __name__ == "__main__":
    main()
