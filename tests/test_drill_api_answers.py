"""Right answers or honest errors: what the drill API server answers where a real 1.37
server answers something precise (logs options, field selectors, paging, Go validation,
whoami, server-side apply), checked with the real kubectl 1.37 and the official client."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config

from actions.drill.server import DrillServerThread
from tests.plugins.drill import SEED_TIME, KubectlRunner

NP = "networking.k8s.io/v1"


@pytest.fixture
def core(drill_kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(drill_kubeconfig)))


def _get(server: DrillServerThread, path: str, **fields: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", server.url + path, fields=fields or None)


# ----- logs ---------------------------------------------------------------------------------


def test_tail_longer_than_half_the_log_returns_the_whole_log(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    # The Falco pod has 1 line; 20 more make 21, and --tail=25 must show all 21
    # (the old slice lines[len - tail:] started at -4 and returned 4 lines).
    for n in range(20):
        drill_server.state.append_log("falco-system", "falco-m4n8q", f"alert {n}")
    result = kubectl("logs", "-n", "falco-system", "falco-m4n8q", "--tail=25")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 21
    assert lines[0] == "Falco initialized with configuration files:"
    assert kubectl("logs", "-n", "falco-system", "falco-m4n8q",
                   "--tail=3").stdout.splitlines() == ["alert 17", "alert 18", "alert 19"]


def test_previous_log_of_a_container_that_never_restarted_is_400(
        kubectl: KubectlRunner) -> None:
    result = kubectl("logs", "-n", "falco-system", "falco-m4n8q", "--previous")
    assert result.returncode == 1
    assert result.stdout == ""
    assert ('Error from server (BadRequest): previous terminated container "falco" in pod '
            '"falco-m4n8q" not found') in result.stderr


def test_since_keeps_only_recent_lines(kubectl: KubectlRunner,
                                       drill_server: DrillServerThread) -> None:
    state = drill_server.state
    now = state.clock()
    state.append_log("falco-system", "falco-m4n8q", "two hours ago", at=now - timedelta(hours=2))
    state.append_log("falco-system", "falco-m4n8q", "ten minutes ago",
                     at=now - timedelta(minutes=10))
    assert kubectl("logs", "-n", "falco-system", "falco-m4n8q",
                   "--since=1h").stdout.splitlines() == ["ten minutes ago"]
    since_time = (SEED_TIME - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = kubectl("logs", "-n", "falco-system", "falco-x7k2p", f"--since-time={since_time}")
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == [
        "Contact K8S API Server From Container"]


def test_log_options_are_validated_as_the_server_does(drill_server: DrillServerThread) -> None:
    path = "/api/v1/namespaces/falco-system/pods/falco-m4n8q/log"
    zero = _get(drill_server, path, sinceSeconds="0")
    assert zero.status == 422
    assert json.loads(zero.data)["message"] == (
        'PodLogOptions "falco-m4n8q" is invalid: sinceSeconds: Invalid value: 0: must be '
        "greater than 0")
    both = _get(drill_server, path, sinceSeconds="5", sinceTime="2026-11-01T08:00:00Z")
    assert both.status == 422
    assert json.loads(both.data)["details"]["causes"][0]["reason"] == "FieldValueForbidden"
