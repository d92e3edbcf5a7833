"""istiod /debug/syncz and Prometheus through the drill API server's service proxy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from actions.drill.apiserver import status
from actions.drill.apiserver.cluster_state import ApiError
from actions.drill.server import DrillServerThread
from tests.plugins.drill import new_sync_client


def get(server: DrillServerThread, url: str, **options: Any) -> httpx.Response:
    """A GET with the drill's credentials (its kubeconfig's bearer token)."""
    return httpx.get(url, headers=server.auth_headers, verify=server.client_ssl_context(),
                     **options)


def post(server: DrillServerThread, url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, headers=server.auth_headers, verify=server.client_ssl_context(),
                      **options)


SYNCZ = [
    {"cluster_id": "Kubernetes", "proxy": "orchestrator-6f8d9c7b5d-k2x9p.voicehive",
     "proxy_type": "sidecar", "istio_version": "1.24.3",
     "cluster_sent": "2026-11-01T09:00:00Z/1a", "cluster_acked": "2026-11-01T09:00:00Z/1a",
     "listener_sent": "2026-11-01T09:00:00Z/1b"},
    {"cluster_id": "Kubernetes", "proxy": "istio-ingressgateway-5c8d.istio-system",
     "proxy_type": "router", "istio_version": "1.24.3"},
]


def test_syncz_through_the_service_proxy(drill_server: DrillServerThread,
                                         drill_kubeconfig: Path) -> None:
    drill_server.state.syncz_provider = lambda: SYNCZ
    response = get(drill_server, drill_server.syncz_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == SYNCZ
    assert '"proxy_type":"sidecar"' in response.text  # compact, as istiod writes it
    filtered = get(drill_server, drill_server.syncz_url, params={"namespace": "voicehive"})
    assert [p["proxy"] for p in filtered.json()] == ["orchestrator-6f8d9c7b5d-k2x9p.voicehive"]

    with new_sync_client(drill_kubeconfig) as api:
        body = client.CoreV1Api(api).connect_get_namespaced_service_proxy_with_path(
            "istiod:15014", "istio-system", "debug/syncz")
    assert "orchestrator-6f8d9c7b5d-k2x9p.voicehive" in str(body)


def test_syncz_without_istiod_endpoints_is_503(drill_server: DrillServerThread) -> None:
    response = get(drill_server, drill_server.syncz_url)
    assert response.status_code == 503
    assert response.json()["message"] == 'no endpoints available for service "istiod"'


def test_syncz_can_play_istiod_refusing_the_proxy(drill_server: DrillServerThread) -> None:
    def refuse() -> list[dict[str, Any]]:
        raise ApiError(status.status_failure(401, "Unauthorized", "Unauthorized"))

    drill_server.state.syncz_provider = refuse
    assert get(drill_server, drill_server.syncz_url).status_code == 401


def test_proxy_to_a_missing_service_is_404(drill_server: DrillServerThread) -> None:
    drill_server.state.delete("v1", "Service", "istio-system", "istiod")
    drill_server.state.syncz_provider = lambda: SYNCZ
    response = get(drill_server, drill_server.syncz_url)
    assert response.status_code == 404
    assert response.json()["message"] == 'services "istiod" not found'


def _metrics(query: str, at: float) -> dict[str, Any]:
    if query == "bad(":
        raise ValueError('1:5: parse error: unclosed left parenthesis')
    if query.startswith("sum(rate(istio_tcp_sent_bytes_total"):
        return {"resultType": "vector", "result": [
            {"metric": {"destination_service": "api.openai.com"}, "value": at % 1000 / 4},
            {"metric": {"destination_service": "tts-router.voicehive.svc.cluster.local"},
             "value": [at, "NaN"]}]}
    return {"resultType": "vector", "result": []}


def test_prometheus_instant_query(drill_server: DrillServerThread) -> None:
    drill_server.state.metrics_provider = _metrics
    response = get(drill_server, drill_server.prometheus_url + "/api/v1/query",
                         params={"query": "sum(rate(istio_tcp_sent_bytes_total[5m]))",
                                 "time": "1764234010.5"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    values = {s["metric"]["destination_service"]: s["value"] for s in body["data"]["result"]}
    assert values["api.openai.com"] == [1764234010.5, "2.625"]
    assert values["tts-router.voicehive.svc.cluster.local"] == [1764234010.5, "NaN"]


def test_prometheus_range_query_by_post(drill_server: DrillServerThread) -> None:
    drill_server.state.metrics_provider = _metrics
    response = post(drill_server, drill_server.prometheus_url + "/api/v1/query_range",
                          data={"query": "sum(rate(istio_tcp_sent_bytes_total[1m]))",
                                "start": "1764234000", "end": "1764234060", "step": "30s"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["resultType"] == "matrix"
    series = {s["metric"]["destination_service"]: s["values"] for s in data["result"]}
    assert series["api.openai.com"] == [[1764234000, "0"], [1764234030, "7.5"],
                                        [1764234060, "15"]]


@pytest.mark.parametrize(("params", "message"), [
    ({}, 'invalid parameter "query"'),
    ({"query": "bad("}, "unclosed left parenthesis"),
])
def test_prometheus_errors(drill_server: DrillServerThread, params: dict[str, str],
                           message: str) -> None:
    drill_server.state.metrics_provider = _metrics
    response = get(drill_server, drill_server.prometheus_url + "/api/v1/query", params=params)
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "bad_data")
    assert message in body["error"]


def test_prometheus_range_limits(drill_server: DrillServerThread) -> None:
    drill_server.state.metrics_provider = _metrics
    url = drill_server.prometheus_url + "/api/v1/query_range"
    too_many = get(drill_server, url, params={"query": "up", "start": "0", "end": "100000",
                                      "step": "1"})
    assert too_many.status_code == 400
    assert "11,000 points" in too_many.json()["error"]
    backwards = get(drill_server, url,
                    params={"query": "up", "start": "10", "end": "0", "step": "1"})
    assert "end timestamp must not be before start time" in backwards.json()["error"]


def test_prometheus_without_provider_is_503(drill_server: DrillServerThread) -> None:
    response = get(drill_server, drill_server.prometheus_url + "/api/v1/query",
                   params={"query": "up"})
    assert response.status_code == 503
    assert json.loads(response.text)["reason"] == "ServiceUnavailable"


def test_proxy_obeys_rbac(drill_server: DrillServerThread) -> None:
    drill_server.state.syncz_provider = lambda: SYNCZ
    drill_server.state.set_rbac([{"verbs": ["get"], "apiGroups": [""],
                                  "resources": ["services"]}])
    response = get(drill_server, drill_server.syncz_url)
    assert response.status_code == 403
    assert 'cannot get resource "services/proxy"' in response.json()["message"]
