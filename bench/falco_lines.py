"""Realistic Falco 0.41+ JSON alert lines for benchmarks (deterministic)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

RULES = (
    (
        "Outbound Connection to C2 Servers",
        "Critical",
        ["T1071", "container", "maturity_stable", "mitre_command_and_control", "network"],
    ),
    (
        "Unexpected outbound connection destination",
        "Notice",
        ["container", "maturity_sandbox", "network"],
    ),
    (
        "Redirect STDOUT/STDIN to Network Connection in Container",
        "Notice",
        ["T1059", "container", "maturity_stable", "mitre_execution", "network", "process"],
    ),
    (
        "Contact K8S API Server From Container",
        "Notice",
        ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
    ),
    (
        "Terminal shell in container",
        "Notice",
        ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
    ),
)
PODS = ("orchestrator-7c9d8f6b5-x2k4p", "tts-router-5d7f9b8c6-h3k2l", "api-gateway-6b8c7d9f4-q9w2e")


def falco_lines(
    count: int, *, seed: int = 7, start_ns: int = 1_773_478_800_000_000_000
) -> Iterator[str]:
    rng = random.Random(seed)
    for n in range(count):
        rule, priority, tags = RULES[n % len(RULES)]
        pod = PODS[rng.randrange(len(PODS))]
        ns = start_ns + n * 200_000 + rng.randrange(1000)
        seconds, nanos = divmod(ns, 1_000_000_000)
        hours, minutes, secs = seconds % 86400 // 3600, seconds % 3600 // 60, seconds % 60
        clock = f"{hours:02d}:{minutes:02d}:{secs:02d}.{nanos:09d}"
        ip = f"203.0.113.{rng.randrange(1, 255)}"
        fields = {
            "container.id": "3f2a1b9c8d7e",
            "container.image.repository": "registry.example.com/voicehive/" + pod.split("-")[0],
            "container.image.tag": "3.8.2",
            "container.name": pod.split("-")[0],
            "evt.time": ns,
            "evt.type": "connect",
            "fd.name": f"10.42.0.17:51234->{ip}:443",
            "k8s.ns.name": "voicehive",
            "k8s.pod.name": pod,
            "proc.cmdline": "curl -sk https://" + ip,
            "user.name": "root",
        }
        message = f"{rule} | connection=10.42.0.17:51234->{ip}:443 command=curl -sk https://{ip}"
        day = "2026-03-14"
        yield json.dumps(
            {
                "hostname": "node-a",
                "output": f"{clock}: {priority} {message} k8s_pod_name={pod} k8s_ns_name=voicehive",
                "output_fields": fields,
                "priority": priority,
                "rule": rule,
                "source": "syscall",
                "tags": tags,
                "time": f"{day}T{clock}Z",
            },
            separators=(",", ":"),
        )
