"""`mesh_status`: check-mesh-status.sh as data, from the drill cluster and from real formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actions.drill.apiserver import status as api_status
from actions.drill.server import DrillServerThread
from actions.drill.sim.mesh import SynczModel
from actions.kube.cluster import Cluster
from actions.runbook.status import (
    linkerd_failures,
    mesh_status,
    parse_linkerd_check,
    parse_proxy_status,
    parse_syncz,
)

ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p.voicehive"
TTS = "tts-router-7c9d8e6f5a-q7w3e.voicehive"


@pytest.fixture
def syncz(drill_server: DrillServerThread) -> SynczModel:
    model = SynczModel(
        seed=7, istio_version="1.24.3", clock=lambda: datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    )
    model.add_proxy(ORCHESTRATOR)
    model.add_proxy(TTS)
    drill_server.state.syncz_provider = model.body
    return model


async def test_istio_sync_policies_and_warnings(
    cluster: Cluster, syncz: SynczModel, drill_server: DrillServerThread
) -> None:
    syncz.set_status(TTS, "STALE")
    result = await mesh_status(cluster)
    assert result.mesh == "istio"
    assert [(p.name, p.statuses) for p in result.proxies] == [
        (ORCHESTRATOR, {"CDS": "SYNCED", "LDS": "SYNCED", "EDS": "SYNCED", "RDS": "SYNCED"}),
        (TTS, {"CDS": "STALE", "LDS": "STALE", "EDS": "STALE", "RDS": "STALE"}),
    ]
    assert not result.ok
    assert result.problems == [
        f"proxy {TTS} is out of sync: CDS STALE, LDS STALE, EDS STALE, RDS STALE"
    ]
    assert [p.name for p in result.policies] == ["external-api-segmentation"]
    assert [(w.object, w.reason) for w in result.warnings] == [
        ("pod/tts-router-7c9d8e6f5a-q7w3e", "BackOff"),
        ("pod/orchestrator-6f8d9c7b5d-k2x9p", "Unhealthy"),
    ]
    json.dumps(result.to_dict())

    syncz.set_status(TTS, "SYNCED")
    assert (await mesh_status(cluster)).ok


async def test_istiod_refusing_the_debug_request_is_not_no_proxies(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    def refuse() -> list[dict[str, Any]]:
        raise api_status.error(401, "Unauthorized", "authentication failed")

    drill_server.state.syncz_provider = refuse
    result = await mesh_status(cluster)
    assert result.proxies == []
    assert len(result.problems) == 1
    assert "istiod refused the debug request (not 'no proxies')" in result.problems[0]


async def test_linkerd_without_its_cli_says_the_check_was_skipped(
    cluster: Cluster,
    drill_server: DrillServerThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drill_server.state.delete("v1", "Namespace", None, "istio-system")
    drill_server.state.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "linkerd"}}
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no linkerd CLI
    result = await mesh_status(cluster)
    assert result.mesh == "linkerd"
    assert "`linkerd check` was skipped" in result.mesh_detail


async def test_emergency_policies_are_flagged_with_their_incident(
    cluster: Cluster, drill_server: DrillServerThread, syncz: SynczModel
) -> None:
    drill_server.state.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "emergency-isolation-1",
                "namespace": "voicehive",
                "labels": {
                    "emergency": "true",
                    "created-by": "incident-response",
                    "warroom.io/incident": "NSI-2026-11-27-001",
                },
            },
            "spec": {
                "podSelector": {"matchLabels": {"app": "orchestrator"}},
                "policyTypes": ["Ingress", "Egress"],
            },
        }
    )
    result = await mesh_status(cluster)
    flagged = {p.name: (p.emergency, p.incident) for p in result.policies}
    assert flagged == {
        "emergency-isolation-1": (True, "NSI-2026-11-27-001"),
        "external-api-segmentation": (False, None),
    }


def test_syncz_status_is_derived_as_istioctl_does() -> None:
    body = [
        # <= 1.22 shape: only top-level nonces; ECDS never sent.
        {
            "cluster_id": "Kubernetes",
            "proxy": "a.ns",
            "proxy_type": "sidecar",
            "istio_version": "1.20.3",
            "cluster_sent": "n1",
            "cluster_acked": "n1",
            "listener_sent": "n2",
            "listener_acked": "n1",
            "route_sent": "n3",
            "endpoint_sent": "n4",
            "endpoint_acked": "n4",
        },
        # 1.23+ shape: resources per type URL, one NACKed, ECDS unwatched.
        {
            "cluster_id": "Kubernetes",
            "proxy": "b.ns",
            "proxy_type": "sidecar",
            "istio_version": "1.24.3",
            "resources": {
                "type.googleapis.com/envoy.config.cluster.v3.Cluster": {
                    "sent": "x",
                    "acked": "x",
                    "sentTime": "2025-03-14T09:41:07.1Z",
                },
                "type.googleapis.com/envoy.config.listener.v3.Listener": {
                    "sent": "y",
                    "acked": "w",
                    "lastError": "NACK: bad filter",
                    "sentTime": "2025-03-14T09:41:07Z",
                },
                "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": {
                    "sentTime": "0001-01-01T00:00:00Z"
                },
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": {
                    "sent": "z",
                    "acked": "z",
                    "sentTime": "2025-03-14T09:41:07Z",
                },
            },
        },
        {
            "cluster_id": "Kubernetes",
            "proxy": "ztunnel-x.istio-system",
            "proxy_type": "ztunnel",
            "istio_version": "1.24.3",
        },
    ]
    proxies = {p.name: p.statuses for p in parse_syncz(body)}
    assert proxies["a.ns"] == {
        "CDS": "SYNCED",
        "LDS": "STALE",
        "EDS": "SYNCED",
        "RDS": "STALE (Never Acknowledged)",
        "ECDS": "NOT SENT",
    }
    assert proxies["b.ns"] == {"CDS": "SYNCED", "LDS": "ERROR", "EDS": "SYNCED", "RDS": "NOT SENT"}
    assert set(proxies["ztunnel-x.istio-system"].values()) == {"IGNORED"}
    with pytest.raises(ValueError, match="array"):
        parse_syncz({"error": "not a list"})


LINKERD_OUTPUT = """{
  "success": false,
  "categories": [
    {
      "categoryName": "linkerd-identity",
      "checks": [
        {
          "description": "issuer cert is valid for at least 60 days",
          "hint": "https://linkerd.io/2/checks/#l5d-identity-issuer-cert-not-expiring-soon",
          "error": "issuer certificate will expire on 2025-03-20T09:00:00Z",
          "result": "warning"
        },
        {
          "description": "certificate config is valid",
          "result": "success"
        }
      ]
    }
  ]
}
{
  "success": true,
  "categories": [
    {
      "categoryName": "linkerd-viz",
      "checks": [
        {
          "description": "viz extension pods are running",
          "result": "error",
          "error": "no running pods for \\"metrics-api\\""
        }
      ]
    }
  ]
}
"""


def test_linkerd_check_output_is_a_stream_of_documents() -> None:
    documents = parse_linkerd_check(LINKERD_OUTPUT)
    assert [d["success"] for d in documents] == [False, True]
    assert linkerd_failures(documents) == [
        "linkerd-identity: issuer cert is valid for at least 60 days (warning): issuer "
        "certificate will expire on 2025-03-20T09:00:00Z",
        'linkerd-viz: viz extension pods are running (error): no running pods for "metrics-api"',
    ]
    assert parse_linkerd_check("") == []


def tabwriter(rows: list[list[str]]) -> str:
    """Go's tabwriter as istioctl configures it: each column as wide as its widest cell + 5."""
    widths = [max(len(row[i]) for row in rows) + 5 for i in range(len(rows[0]))]
    return "".join(
        "".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False))
        + row[-1]
        + "\n"
        for row in rows
    )


def test_istioctl_proxy_status_cells_with_spaces_are_cut_at_the_header_offsets() -> None:
    text = tabwriter(
        [
            ["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"],
            [
                ORCHESTRATOR,
                "Kubernetes",
                "SYNCED (2m10s)",
                "SYNCED (2m10s)",
                "SYNCED (2m9s)",
                "SYNCED (2m10s)",
                "IGNORED",
                "istiod-5d7f8c9b6d-h2j4k",
                "1.24.3",
            ],
            [
                TTS,
                "",
                "STALE (Never Acknowledged)",
                "NOT SENT",
                "SYNCED (47m)",
                "ERROR (3m)",
                "",
                "istiod-5d7f8c9b6d-h2j4k",
                "1.17.1-distroless",
            ],
        ]
    )
    first, second = parse_proxy_status(text)
    assert first.statuses == {
        "CDS": "SYNCED (2m10s)",
        "LDS": "SYNCED (2m10s)",
        "EDS": "SYNCED (2m9s)",
        "RDS": "SYNCED (2m10s)",
        "ECDS": "IGNORED",
    }
    assert first.synced
    assert first.version == "1.24.3"
    assert second.cluster == ""
    assert second.version == "1.17.1-distroless"
    assert second.statuses == {
        "CDS": "STALE (Never Acknowledged)",
        "LDS": "NOT SENT",
        "EDS": "SYNCED (47m)",
        "RDS": "ERROR (3m)",
    }
    assert not second.synced


def test_istioctl_127_table_has_no_per_type_status() -> None:
    text = tabwriter(
        [
            ["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"],
            [
                ORCHESTRATOR,
                "Kubernetes",
                "istiod-5d7f8c9b6d-h2j4k",
                "1.28.0",
                "4 (CDS,LDS,EDS,RDS)",
            ],
        ]
    )
    (proxy,) = parse_proxy_status(text)
    assert proxy.statuses == {}
    assert proxy.version == "1.28.0"
    with pytest.raises(ValueError, match="NAME header"):
        parse_proxy_status('Error: no running Istio pods in "istio-system"\n')


def test_status_prints_match_expressions_and_never_none(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The policies table as `warroom status` prints it, for the base cluster's policies."""
    from tui.cli.main import main

    state = drill_server.state
    segmentation = state.get(
        "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "external-api-segmentation"
    )
    assert segmentation is not None
    segmentation["spec"]["podSelector"] = {
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["tts-router", "orchestrator"]},
            {"key": "warroom.io/quarantine", "operator": "DoesNotExist"},
        ]
    }
    state.replace(segmentation)
    state.create(
        {  # as the runbook's emergency-isolate.sh makes it: no warroom incident label
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "emergency-isolation-1764234000",
                "namespace": "voicehive",
                "labels": {"emergency": "true", "created-by": "incident-response"},
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
    )
    code = main(["--db", str(tmp_path / "r.db"), "status", "--kubeconfig", str(drill_kubeconfig)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("ext", "emer"))}
    assert (
        "app in (orchestrator,tts-router),!warroom.io/quarantine"
        in rows["external-api-segmentation"]
    )
    cells = [c.strip() for c in rows["emergency-isolation-1764234000"].split("   ") if c.strip()]
    assert cells[1:] == [
        "<all pods>",
        "Egress,Ingress",
        "yes",
    ]
    assert "None" not in out
