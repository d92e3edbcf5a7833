"""The official asyncio client (kubernetes.aio) against the drill cluster."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from pathlib import Path

import pytest
from kubernetes.aio import client as aio_client

from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.server import DrillApiServer, DrillServerThread
from tests.plugins.drill import new_async_client, seed_drill_cluster


async def test_list_patch_and_errors(drill_kubeconfig: Path) -> None:
    api = await new_async_client(drill_kubeconfig)
    async with api:
        networking = aio_client.NetworkingV1Api(api)
        listed = await networking.list_namespaced_network_policy("voicehive")
        # kubernetes.aio has models of its own, every field optional too.
        assert [p.metadata and p.metadata.name for p in listed.items] == [
            "external-api-segmentation"]
        patched = await networking.patch_namespaced_network_policy(
            "external-api-segmentation", "voicehive",
            [{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-",
              "value": "203.0.113.7/32"}])
        egress = patched.spec.egress if patched.spec else None
        assert egress
        peers = egress[0].to
        assert peers
        block = peers[0].ip_block
        assert block
        assert block._except
        assert block._except[-1] == "203.0.113.7/32"
        with pytest.raises(aio_client.ApiException) as caught:
            await networking.read_namespaced_network_policy("missing", "voicehive")
        assert caught.value.status == 404
        assert caught.value.body is not None
        assert json.loads(caught.value.body)["reason"] == "NotFound"


async def test_follow_logs(drill_server: DrillServerThread, drill_kubeconfig: Path) -> None:
    state = drill_server.state
    api = await new_async_client(drill_kubeconfig)
    async with api:
        core = aio_client.CoreV1Api(api)
        response = await core.read_namespaced_pod_log_without_preload_content(
            "falco-x7k2p", "falco-system", follow=True, tail_lines=1)
        lines = [(await response.content.readline()).decode()]
        assert json.loads(lines[0])["rule"] == "Contact K8S API Server From Container"
        threading.Timer(0.2, state.append_log,
                        ("falco-system", "falco-x7k2p", '{"rule": "next"}')).start()
        next_line = await asyncio.wait_for(response.content.readline(), 5)
        assert next_line == b'{"rule": "next"}\n'
        response.release()


async def test_follow_logs_sends_lines_appended_together_in_one_chunk(
        drill_server: DrillServerThread, drill_kubeconfig: Path) -> None:
    """A busy log leaves in chunks of many lines, as the API server's io.Copy sends it: a chunk
    per line would cost the server and the follower a write and a wake-up per line."""
    state = drill_server.state
    api = await new_async_client(drill_kubeconfig)
    async with api:
        core = aio_client.CoreV1Api(api)
        response = await core.read_namespaced_pod_log_without_preload_content(
            "falco-x7k2p", "falco-system", follow=True, timestamps=True, tail_lines=0)
        busy = "\n".join(f'{{"rule": "burst", "n": {n}}}' for n in range(200))
        threading.Timer(0.2, state.append_log, ("falco-system", "falco-x7k2p", busy)).start()
        chunk, end_of_chunk = await asyncio.wait_for(response.content.readchunk(), 5)
        assert end_of_chunk
        lines = chunk.decode().splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == busy.split("\n")
        assert len({line.split(" ", 1)[0] for line in lines}) == 1  # one kubelet time
        response.release()


async def test_follow_logs_ends_after_the_lines_written_before_the_pod_went(
        drill_server: DrillServerThread, drill_kubeconfig: Path) -> None:
    state = drill_server.state
    api = await new_async_client(drill_kubeconfig)
    async with api:
        core = aio_client.CoreV1Api(api)
        response = await core.read_namespaced_pod_log_without_preload_content(
            "falco-x7k2p", "falco-system", follow=True, tail_lines=0)

        def last_words_then_gone() -> None:
            state.append_log("falco-system", "falco-x7k2p", "one\ntwo")
            state.delete("v1", "Pod", "falco-system", "falco-x7k2p")

        threading.Timer(0.2, last_words_then_gone).start()
        body = await asyncio.wait_for(response.content.read(), 5)
        assert body == b"one\ntwo\n"
        response.release()


async def test_server_on_the_callers_loop(tmp_path: Path) -> None:
    server = DrillApiServer(_seeded_state(), port=0)
    await server.start()
    try:
        config_path = server.write_kubeconfig(tmp_path / "config")
        api = await new_async_client(config_path)
        async with api:
            pods = await aio_client.CoreV1Api(api).list_namespaced_pod(
                "falco-system", label_selector="app=falco")
        assert len(pods.items) == 2
    finally:
        await server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url  # stopped servers have no URL to hand out


def _seeded_state() -> ClusterState:
    state = ClusterState()
    seed_drill_cluster(state)
    return state


def test_a_taken_port_is_reported() -> None:
    with DrillServerThread() as first:
        second = DrillServerThread(port=first.server.port)
        with pytest.raises(OSError, match="in use"):
            second.start()
        with urllib.request.urlopen(first.url + "/version",  # the first still serves
                                    context=first.client_ssl_context()) as reply:
            assert json.loads(reply.read())["gitVersion"] == "v1.37.0"
