"""capture: the runbook's evidence bundle, piece by piece, each stored verbatim with its sha256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml

from actions.drill.server import DrillServerThread
from actions.runbook import ActionRequest, CaptureProgress, InvalidRequest, RunbookActions
from store import Record

COREDNS = ("kube-system", "coredns-6d4b75cb6d-z9x8c")
HOSTILE = (
    '[INFO] 10.42.0.12:41234 - 7 "A IN [bold]x\x1b]52;c;AAAA\x07.evil.example. udp 45 '
    'false 512" NOERROR qr,rd,ra 98 0.000311s'
)


@pytest.fixture
def traffic(drill_server: DrillServerThread) -> list[str]:
    """Prometheus answers the runbook's query with one series; records the queries asked."""
    asked: list[str] = []

    def provider(promql: str, at: float) -> dict[str, Any]:
        asked.append(promql)
        return {
            "resultType": "vector",
            "result": [
                {
                    "metric": {"destination_workload": "orchestrator", "reporter": "destination"},
                    "value": [at, 1234.5],
                }
            ],
        }

    drill_server.state.metrics_provider = provider
    return asked


async def test_capture_stores_every_piece_with_progress(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread, traffic: list[str]
) -> None:
    state = drill_server.state
    incident = record.incidents.open("dns tunnelling")
    state.append_log(*COREDNS, HOSTILE)
    state.append_log(
        *COREDNS,
        '[INFO] 10.42.0.9:5353 - 8 "A IN api.stripe.com. udp 40 false '
        '512" NOERROR qr,rd,ra 64 0.0004s',
    )
    state.append_log("voicehive", "orchestrator-6f8d9c7b5d-k2x9p", "GET /healthz 200")
    seen: list[CaptureProgress] = []

    async def progress(step: CaptureProgress) -> None:
        seen.append(step)

    preview = await runbook.preview(
        ActionRequest("capture", service="orchestrator", domain="evil.example")
    )
    assert preview.ok, preview.problems
    assert not preview.changes
    assert len(preview.pieces) == 7
    assert all(p.allowed for p in preview.permissions)

    outcome = await runbook.execute(preview, progress=progress)

    assert outcome.status == "succeeded", outcome.message
    assert traffic == ["rate(istio_tcp_received_bytes_total[5m])"]
    assert [(s.piece, s.state) for s in seen] == [
        (name, state_) for name in preview.pieces for state_ in ("started", "stored")
    ]
    items = record.evidence.for_incident(incident.id)
    assert [item.name for item in items] == preview.pieces
    for item in items:
        content = record.evidence.content(item.id)
        assert hashlib.sha256(content).hexdigest() == item.sha256
        assert item.action_id == outcome.action_id
    by_name = {item.name: record.evidence.content(item.id) for item in items}
    # Evidence is kept verbatim, hostile bytes included; only the domain's lines are kept.
    dns = by_name["coredns-logs.txt"].decode()
    assert HOSTILE in dns
    assert "stripe" not in dns
    falco = by_name["falco-logs.txt"].decode()
    assert "Contact K8S API Server From Container" in falco
    assert "==> falco-system/" in falco
    policies = yaml.safe_load(by_name["networkpolicies-voicehive.yaml"])
    assert [p["metadata"]["name"] for p in policies["items"]] == ["external-api-segmentation"]
    mesh = yaml.safe_load(by_name["mesh-policies-voicehive.yaml"])
    assert {p["kind"] for p in mesh["items"]} == {"PeerAuthentication", "AuthorizationPolicy"}
    answer = json.loads(by_name["prometheus-tcp-received-rate.json"])
    assert answer["data"]["result"][0]["value"][1] == "1234.5"
    assert "GET /healthz 200" in by_name["logs-orchestrator.txt"].decode()
    events = yaml.safe_load(by_name["events-voicehive.yaml"])
    assert {e["reason"] for e in events["items"]} >= {"Unhealthy", "BackOff"}


async def test_capture_keeps_what_it_may_read_and_names_what_is_missing(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread, traffic: list[str]
) -> None:
    incident = record.incidents.open("partial")
    drill_server.state.set_rbac(
        [
            # Everything a capture reads except pods/log.
            {
                "verbs": ["get", "list"],
                "apiGroups": ["*"],
                "resources": [
                    "events",
                    "pods",
                    "networkpolicies",
                    "peerauthentications",
                    "authorizationpolicies",
                    "services",
                    "services/proxy",
                ],
            },
            {
                "verbs": ["create"],
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews"],
            },
        ]
    )
    preview = await runbook.preview(ActionRequest("capture"))
    assert preview.ok
    assert any("may not get pods/log in falco-system" in note for note in preview.notes)
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "partial"
    assert "captured 4 of 6 pieces" in outcome.message
    assert "falco-logs.txt: " in outcome.message
    assert "forbidden" in outcome.message
    names = [item.name for item in record.evidence.for_incident(incident.id)]
    assert names == [
        "events-voicehive.yaml",
        "networkpolicies-voicehive.yaml",
        "mesh-policies-voicehive.yaml",
        "prometheus-tcp-received-rate.json",
    ]


@pytest.mark.parametrize("domain", ["evil example", "x\x1b[2J.com", "a" * 254, ""])
async def test_a_domain_that_is_not_a_dns_name_is_refused(
    runbook: RunbookActions, record: Record, domain: str
) -> None:
    with pytest.raises(InvalidRequest, match="not a DNS name"):
        await runbook.preview(ActionRequest("capture", domain=domain))
    assert record.query("SELECT count(*) FROM actions")[0][0] == 0
