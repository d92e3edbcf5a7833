"""The drill API's door: the kubeconfig's credentials over TLS, loopback Host, no browser."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from actions.drill.kubeconfig import HEADER, KubeconfigRefused, write_kubeconfig
from actions.drill.server import DrillApiServer, DrillServerThread
from tests.plugins.drill import KubectlRunner
from tests.test_drill_cli import TINY, cli_env, warroom_command  # noqa: F401 - a fixture

NP = "/apis/networking.k8s.io/v1/namespaces/voicehive/networkpolicies"
ALLOW_ALL = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "allow-everything", "namespace": "voicehive"},
    "spec": {"podSelector": {}, "ingress": [{}], "egress": [{}],
             "policyTypes": ["Ingress", "Egress"]},
}  # fmt: skip


def request(server: DrillServerThread, method: str, path: str,
            headers: dict[str, str], body: Any = None) -> urllib3.BaseHTTPResponse:
    """A request as anyone on the machine may send it: TLS verified, headers as given."""
    with urllib3.PoolManager(ssl_context=server.client_ssl_context()) as pool:
        return pool.request(method, server.url + path, headers=headers,
                            body=None if body is None else json.dumps(body), retries=False)


def test_without_the_token_nothing_but_the_public_paths_answer(
    drill_server: DrillServerThread,
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"},
                    {"Authorization": f"bearer {drill_server.token}x"}):  # fmt: skip
        refused = request(drill_server, "GET", "/api/v1/namespaces/voicehive/secrets", headers)
        assert refused.status == 401
        assert json.loads(refused.data)["reason"] == "Unauthorized"
    for public in ("/version", "/healthz", "/livez", "/readyz"):
        assert request(drill_server, "GET", public, {}).status == 200
    allowed = request(drill_server, "GET", "/api/v1/namespaces/voicehive/secrets",
                      drill_server.auth_headers)  # fmt: skip
    assert allowed.status == 200


def test_a_browser_page_cannot_open_the_cluster(drill_server: DrillServerThread) -> None:
    """The finding: a cross-origin text/plain POST (no preflight) made an allow-all policy."""
    for headers in (
        {"Origin": "https://evil.example", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "text/plain", **drill_server.auth_headers},
        # Another loopback page (a dev server on another port) is another origin.
        {"Origin": "http://127.0.0.1:1", "Content-Type": "text/plain",
         **drill_server.auth_headers},
        {"Origin": f"http://localhost:{drill_server.server.port}", **drill_server.auth_headers},
        {"Sec-Fetch-Site": "cross-site", **drill_server.auth_headers},
    ):
        refused = request(drill_server, "POST", NP, headers, ALLOW_ALL)
        assert refused.status == 403
        assert "web pages" in json.loads(refused.data)["message"]
    assert drill_server.state.get(
        "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "allow-everything") is None


def test_the_servers_own_origin_is_the_clients_websocket(
    drill_server: DrillServerThread,
) -> None:
    """websocket-client (the official client's exec) sends the server's own origin."""
    origin = f"https://127.0.0.1:{drill_server.server.port}"
    answered = request(drill_server, "GET", "/api/v1/namespaces",
                       {"Origin": origin, **drill_server.auth_headers})
    assert answered.status == 200


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "10.0.0.1:{port}", ""])
def test_a_rebound_or_foreign_host_is_refused(drill_server: DrillServerThread, host: str) -> None:
    headers = {"Host": host.format(port=drill_server.server.port), **drill_server.auth_headers}
    assert request(drill_server, "GET", "/api/v1/namespaces", headers).status == 403


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "LOCALHOST"])
def test_loopback_names_with_the_port_are_this_server(
    drill_server: DrillServerThread, name: str
) -> None:
    headers = {"Host": f"{name}:{drill_server.server.port}", **drill_server.auth_headers}
    assert request(drill_server, "GET", "/api/v1/namespaces", headers).status == 200


def test_plain_http_gets_no_answer(drill_server: DrillServerThread) -> None:
    plain = drill_server.url.replace("https://", "http://") + "/api/v1/namespaces"
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.request("GET", plain, headers=drill_server.auth_headers, retries=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.com"])
def test_the_server_listens_on_loopback_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        DrillApiServer(None, host=host)  # type: ignore[arg-type]


def test_the_kubeconfig_holds_the_token_and_ca_privately(
    drill_server: DrillServerThread, drill_kubeconfig: Path, kubectl: KubectlRunner
) -> None:
    assert stat.S_IMODE(drill_kubeconfig.stat().st_mode) == 0o600
    document = yaml.safe_load(drill_kubeconfig.read_text())
    assert document["users"][0]["user"] == {"token": drill_server.token}
    cluster = document["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster["certificate-authority-data"]) == drill_server.ca_pem
    result = kubectl("get", "networkpolicies", "-n", "voicehive", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert "networkpolicy.networking.k8s.io/external-api-segmentation" in result.stdout


def test_two_servers_have_different_credentials() -> None:
    first, second = DrillApiServer(None), DrillApiServer(None)  # type: ignore[arg-type]
    assert first.token != second.token
    assert first.certificates.ca_pem != second.certificates.ca_pem


# --- --kubeconfig-out ---------------------------------------------------------------


def write(path: Path) -> Path:
    return write_kubeconfig(path, "https://127.0.0.1:6443", token="t", ca_pem=b"ca")


def test_a_new_kubeconfig_is_0600_in_a_0700_folder_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write(tmp_path / "new" / "folder" / "kubeconfig")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().startswith(HEADER)


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("mine")
    link = tmp_path / "kubeconfig"
    link.symlink_to(target)
    with pytest.raises(KubeconfigRefused, match="symbolic link"):
        write(link)
    assert target.read_text() == "mine"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(KubeconfigRefused):
        write(dangling)
    assert not (tmp_path / "nowhere").exists()


def test_a_file_a_drill_did_not_write_is_never_truncated(tmp_path: Path) -> None:
    own = tmp_path / "config"
    own.write_text("apiVersion: v1\nkind: Config\nusers: [{name: me, user: {token: real}}]\n")
    own.chmod(0o644)
    before = own.read_bytes()
    with pytest.raises(KubeconfigRefused, match="not a kubeconfig a drill wrote"):
        write(own)
    assert own.read_bytes() == before
    assert stat.S_IMODE(own.stat().st_mode) == 0o644


def test_a_drill_kubeconfig_is_replaced_by_a_new_file(tmp_path: Path) -> None:
    path = write(tmp_path / "kubeconfig")
    path.chmod(0o644)
    inode = path.stat().st_ino
    write_kubeconfig(path, "https://127.0.0.1:7443", token="new", ca_pem=b"ca")
    assert "7443" in path.read_text()
    assert path.stat().st_ino != inode  # renamed over, the old file never truncated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]


def test_drill_refuses_to_write_over_the_users_kubeconfig(
    tmp_path: Path, cli_env: dict[str, str],  # noqa: F811 - the fixture
) -> None:
    users = tmp_path / "config"
    users.write_text("apiVersion: v1\nkind: Config\n")
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    result = subprocess.run(
        warroom_command("drill", str(scenario), "--no-console", "--kubeconfig-out", str(users)),
        env=cli_env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert f"{users} exists and is not a kubeconfig a drill wrote" in result.stderr
    assert users.read_text() == "apiVersion: v1\nkind: Config\n"
