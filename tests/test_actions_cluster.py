"""Connecting like kubectl: --kubeconfig, $KUBECONFIG, ~/.kube/config; context, namespace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.drill.kubeconfig import build_kubeconfig
from actions.drill.server import DrillServerThread
from actions.kube.cluster import NAMESPACE, ClusterError, ClusterOptions, connect
from tests.plugins.actions import closed_port


def drill_config(server: DrillServerThread, **options: str) -> dict[str, Any]:
    """A kubeconfig for the drill server, with its token."""
    return build_kubeconfig(server.url, token=server.token, ca_pem=server.ca_pem, **options)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No KUBECONFIG, an empty HOME, not in a cluster: only what the test writes counts."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return home


async def names_of_namespaces(options: ClusterOptions) -> tuple[list[str], str, str | None]:
    cluster = await connect(options)
    async with cluster:
        found = await cluster.list(NAMESPACE)
        return [n["metadata"]["name"] for n in found], cluster.namespace, cluster.context


async def test_home_kubeconfig_is_the_default(
    isolated_env: Path, drill_server: DrillServerThread
) -> None:
    write(isolated_env / ".kube" / "config", drill_config(drill_server, namespace="ops"))
    names, namespace, context = await names_of_namespaces(ClusterOptions())
    assert "voicehive" in names
    assert namespace == "ops"
    assert context == "warroom-drill"


async def test_kubeconfig_env_beats_home_and_the_flag_beats_both(
    isolated_env: Path,
    tmp_path: Path,
    drill_server: DrillServerThread,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    write(isolated_env / ".kube" / "config", build_kubeconfig(dead, token="unused", context="home"))
    env_file = write(tmp_path / "env.yaml", drill_config(drill_server, context="env"))
    monkeypatch.setenv("KUBECONFIG", str(env_file))
    assert (await names_of_namespaces(ClusterOptions()))[2] == "env"
    flag_file = write(tmp_path / "flag.yaml", drill_config(drill_server, context="flag"))
    assert (await names_of_namespaces(ClusterOptions(kubeconfig=str(flag_file))))[2] == "flag"


async def test_kubeconfig_list_is_merged_and_the_first_current_context_wins(
    isolated_env: Path,
    tmp_path: Path,
    drill_server: DrillServerThread,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    first = write(tmp_path / "a.yaml", drill_config(drill_server, context="live"))
    second = write(tmp_path / "b.yaml", build_kubeconfig(dead, token="unused", context="stale"))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing.yaml'}:{second}")
    names, _, context = await names_of_namespaces(ClusterOptions())
    assert context == "live"
    assert "voicehive" in names
    cluster = await connect(ClusterOptions(context="stale"))
    async with cluster:
        with pytest.raises(ClusterError) as refused:
            await cluster.list(NAMESPACE)
    assert refused.value.cause == "refused"


async def test_namespace_flag_beats_the_context_which_beats_voicehive(
    isolated_env: Path, tmp_path: Path, drill_server: DrillServerThread
) -> None:
    with_ns = write(tmp_path / "ns.yaml", drill_config(drill_server, namespace="ops"))
    document = drill_config(drill_server)
    del document["contexts"][0]["context"]["namespace"]
    without = write(tmp_path / "plain.yaml", document)
    assert (await names_of_namespaces(ClusterOptions(kubeconfig=str(with_ns))))[1] == "ops"
    flagged = ClusterOptions(kubeconfig=str(with_ns), namespace="falco-system")
    assert (await names_of_namespaces(flagged))[1] == "falco-system"
    assert (await names_of_namespaces(ClusterOptions(kubeconfig=str(without))))[1] == "voicehive"


async def test_configuration_problems_say_what_to_do(isolated_env: Path, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="pass --kubeconfig or set KUBECONFIG") as nothing:
        await connect(ClusterOptions())
    assert nothing.value.cause == "config"
    with pytest.raises(ClusterError, match="does not exist"):
        await connect(ClusterOptions(kubeconfig=str(tmp_path / "nope.yaml")))
    good = write(tmp_path / "k.yaml", build_kubeconfig("http://127.0.0.1:1", token="unused"))
    with pytest.raises(ClusterError, match="cannot use kubeconfig") as unknown:
        await connect(ClusterOptions(kubeconfig=str(good), context="no-such-context"))
    assert unknown.value.cause == "config"
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [\n")
    with pytest.raises(ClusterError, match="cannot use kubeconfig"):
        await connect(ClusterOptions(kubeconfig=str(broken)))


@pytest.mark.parametrize("answer", [["a", "list"], "a string", 42])
async def test_an_object_answered_with_anything_else_is_the_servers_error(
    isolated_env: Path, tmp_path: Path, answer: object
) -> None:
    """A GET, create or patch of one object answered with other JSON is a server error said
    as one (ClusterError), never a value the caller takes for an object and trips over later."""
    from aiohttp import web

    from actions.kube.cluster import NETWORK_POLICY

    async def wrong_shape(request: web.Request) -> web.Response:
        return web.json_response(answer)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", wrong_shape)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        config = write(tmp_path / "k.yaml", build_kubeconfig(f"http://127.0.0.1:{port}", token="t"))
        cluster = await connect(ClusterOptions(kubeconfig=str(config)))
        async with cluster:
            policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                      "metadata": {"name": "p"}}
            merge = "application/merge-patch+json"
            calls: tuple[Callable[[], Awaitable[object]], ...] = (
                lambda: cluster.get(NETWORK_POLICY, "default-deny"),
                lambda: cluster.create(policy),
                lambda: cluster.patch(NETWORK_POLICY, "p", {}, patch_type=merge),
            )
            for call in calls:
                with pytest.raises(ClusterError, match="answer is not a Kubernetes object") as bad:
                    await call()
                assert bad.value.cause == "server-error"
    finally:
        await runner.cleanup()
