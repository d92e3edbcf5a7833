"""Containment that works for real, checked on a scenario's drill cluster.

The runbook's own lines run with the real kubectl, warroom's actions through
the official client (kubernetes.aio over HTTP); what contains the attack is
judged by the drill's traffic model, which follows real NetworkPolicy, Istio
and Linkerd semantics.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from actions.drill.session import DrillSession
from actions.kube.cluster import Cluster, ClusterOptions, connect
from actions.policy import Endpoint
from actions.policy.networkpolicy import network_verdict
from actions.runbook import ActionRequest, RunbookActions
from store import Record
from tests.plugins.drill import RUNBOOK_ISOLATION_POLICY, KubectlResult, make_kubectl

NS = "voicehive"
NP = "networking.k8s.io/v1"
ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"
TTS_ROUTER = "tts-router-7c9d8b6f4-x7p2q"


class Drill:
    """A served scenario, the official client on it, the runbook's actions and kubectl."""

    def __init__(
        self,
        session: DrillSession,
        cluster: Cluster,
        runbook: RunbookActions,
        kubectl: Callable[..., KubectlResult],
    ) -> None:
        self.session = session
        self.cluster = cluster
        self.runbook = runbook
        self._kubectl = kubectl

    async def kubectl(self, *args: str, stdin: str | None = None) -> KubectlResult:
        # The drill serves on this test's event loop: kubectl must wait off it.
        return await asyncio.to_thread(self._kubectl, *args, input=stdin)

    async def act(self, request: ActionRequest) -> Any:
        preview = await self.runbook.preview(request)
        assert preview.ok, preview.problems
        outcome = await self.runbook.execute(preview)
        assert outcome.status == "succeeded", outcome.message
        return preview, outcome

    def dns_allowed(self) -> bool:
        engine = self.session.engine
        spec = self.session.scenario.pod(ORCHESTRATOR)
        assert spec is not None
        return engine._dns_verdict(engine._endpoint(spec))[0].allowed

    def can_reach(self, ip: str, port: int, pod: str = ORCHESTRATOR) -> bool:
        engine = self.session.engine
        client = Endpoint.of_pod(engine.view.pod(NS, pod) or {})
        return network_verdict(engine.view, client, Endpoint(ip), port).allowed

    def snapshot(self) -> dict[str, Any]:
        """Every NetworkPolicy's spec and labels, and every pod's labels, in voicehive."""
        state = self.session.state
        return {
            "policies": {
                p["metadata"]["name"]: (p["spec"], p["metadata"].get("labels"))
                for p in state.list(NP, "NetworkPolicy", NS)
            },
            "pods": {
                p["metadata"]["name"]: p["metadata"].get("labels")
                for p in state.list("v1", "Pod", NS)
            },
        }


@pytest.fixture
async def drill(
    drill_factory: Callable[..., Any], record: Record, tmp_path: Path
) -> AsyncIterator[Callable[[str], Any]]:
    made: list[Cluster] = []

    async def make(scenario: str) -> Drill:
        session: DrillSession = await drill_factory(scenario, serve=True)
        assert session.kubeconfig_path is not None
        cluster = await connect(
            ClusterOptions(kubeconfig=str(session.kubeconfig_path), timeout=5.0)
        )
        made.append(cluster)
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        return Drill(
            session,
            cluster,
            RunbookActions(record, cluster, actor="tester"),
            make_kubectl(session.kubeconfig_path, home),
        )

    yield make
    for cluster in made:
        await cluster.close()


async def test_warroom_isolate_cuts_off_what_the_runbooks_deny_all_leaves_open(
    drill: Callable[[str], Any], record: Record
) -> None:
    exfil = await drill("dns-exfiltration")
    record.incidents.open("DNS tunnelling from orchestrator", severity="P0")
    applied = await exfil.kubectl("apply", "-f", "-", stdin=RUNBOOK_ISOLATION_POLICY)
    assert applied.returncode == 0, applied.stderr
    # NetworkPolicies add up: the runbook's policy leaves DNS, HTTPS and the callers open.
    assert exfil.dns_allowed()
    assert exfil.can_reach("203.0.113.66", 443)
    assert exfil.session.engine.traffic.flowing("gateway-to-orchestrator")

    preview, outcome = await exfil.act(ActionRequest("isolate", "orchestrator"))

    assert [(c.verb, c.name) for c in preview.changes] == [
        ("create", preview.changes[0].name),
        ("patch", "external-api-segmentation"),
        ("patch", "orchestrator-ingress"),
        ("patch", ORCHESTRATOR),
    ]
    assert outcome.verified
    assert not exfil.dns_allowed()
    assert not exfil.can_reach("203.0.113.66", 443)
    assert not exfil.session.engine.traffic.flowing("gateway-to-orchestrator")
    assert any(
        o.action == "isolate" and o.target == "orchestrator"
        for o in exfil.session.engine.observations
    )
    # Kept for forensics: the pod runs, its logs are readable, kubectl finds it by the label.
    quarantined = await exfil.kubectl(
        "get", "pods", "-n", NS, "-l", "warroom.io/quarantine", "-o", "name"
    )
    assert quarantined.stdout.split() == [f"pod/{ORCHESTRATOR}"]
    logs = await exfil.kubectl("logs", "-n", NS, ORCHESTRATOR, "--tail=5")
    assert logs.returncode == 0, logs.stderr
    selector = await exfil.kubectl(
        "get",
        "networkpolicy",
        "external-api-segmentation",
        "-n",
        NS,
        "-o",
        "jsonpath={.spec.podSelector.matchExpressions}",
    )
    assert json.loads(selector.stdout)[-1] == {
        "key": "warroom.io/quarantine",
        "operator": "DoesNotExist",
    }


async def test_deleting_an_isolated_pod_brings_back_an_unisolated_poisoned_one(
    drill: Callable[[str], Any], record: Record
) -> None:
    """On a real cluster the ReplicaSet replaces the deleted pod, without the quarantine
    label and from the same image: its traffic and the tunnel are back, nothing restored."""
    exfil = await drill("dns-exfiltration")
    record.incidents.open("DNS tunnelling from orchestrator", severity="P0")
    await exfil.act(ActionRequest("isolate", "orchestrator"))
    engine = exfil.session.engine
    assert not engine.traffic.flowing("gateway-to-orchestrator")

    deleted = await exfil.kubectl("delete", "pod", "-n", NS, ORCHESTRATOR)
    assert deleted.returncode == 0, deleted.stderr

    (replacement,) = exfil.session.state.list("v1", "Pod", NS, label_selector="app=orchestrator")
    name = replacement["metadata"]["name"]
    assert "warroom.io/quarantine" not in replacement["metadata"]["labels"]
    assert engine.traffic.flowing("gateway-to-orchestrator")
    assert exfil.dns_allowed()  # the tunnel's queries reach kube-dns again, from the new pod
    assert exfil.can_reach("203.0.113.66", 443, pod=name)
    assert engine.attack.alive("poisoned-dependency")
    summaries = [e.summary for e in exfil.session.player.history]
    assert any(
        s.startswith(f"{ORCHESTRATOR}, cut off by emergency-isolation-") and "was deleted" in s
        for s in summaries
    )
    assert not any(o.action == "restore" for o in engine.observations)  # nothing was restored


async def test_restore_puts_back_exactly_what_was_there(
    drill: Callable[[str], Any], record: Record
) -> None:
    exfil = await drill("dns-exfiltration")
    record.incidents.open("DNS tunnelling from orchestrator", severity="P0")
    before = exfil.snapshot()
    await exfil.act(ActionRequest("isolate", "orchestrator"))
    # Someone edits an isolated policy meanwhile: restore keeps their edit.
    patched = await exfil.kubectl(
        "patch",
        "networkpolicy",
        "external-api-segmentation",
        "-n",
        NS,
        "--type=json",
        '-p=[{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", '
        '"value": "203.0.113.66/32"}]',
    )
    assert patched.returncode == 0, patched.stderr

    preview, _ = await exfil.act(ActionRequest("restore"))

    assert [c.verb for c in preview.changes] == ["patch", "patch", "patch", "delete"]
    after = exfil.snapshot()
    expected = copy.deepcopy(before)
    segmentation = expected["policies"]["external-api-segmentation"][0]
    segmentation["egress"][0]["to"][0]["ipBlock"]["except"].append("203.0.113.66/32")
    assert after == expected
    assert exfil.dns_allowed()
    assert exfil.session.engine.traffic.flowing("gateway-to-orchestrator")


async def test_block_ip_preview_says_who_still_reaches_the_address(
    drill: Callable[[str], Any], record: Record
) -> None:
    beacon = await drill("suspicious-external-ip")
    record.incidents.open("beacon", severity="P1")
    preview = await beacon.runbook.preview(ActionRequest("block-ip", "203.0.113.66"))
    assert "after this, no pod in voicehive can open a connection to 203.0.113.66/32" in (
        preview.notes
    )
    assert any(n.startswith("cannot stop:") and "DNS tunnel" in n for n in preview.notes)
    # A debugging policy someone left behind allows that range: the preview names it.
    debug = {
        "apiVersion": NP,
        "kind": "NetworkPolicy",
        "metadata": {"name": "debug-egress", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}],
        },
    }
    created = await beacon.kubectl("apply", "-f", "-", stdin=json.dumps(debug))
    assert created.returncode == 0, created.stderr
    preview = await beacon.runbook.preview(ActionRequest("block-ip", "203.0.113.66"))
    assert (
        "after this, 203.0.113.66/32 is still reachable from "
        "tts-router-7c9d8b6f4-x7p2q: NetworkPolicy debug-egress (any port)"
    ) in preview.notes
    await beacon.runbook.execute(preview)
    assert beacon.can_reach("203.0.113.66", 8443, TTS_ROUTER)  # as the preview said


async def test_block_ip_emergency_egress_preview_says_the_segmentation_still_allows(
    drill: Callable[[str], Any], record: Record
) -> None:
    beacon = await drill("suspicious-external-ip")
    record.incidents.open("beacon", severity="P1")
    preview = await beacon.runbook.preview(
        ActionRequest("block-ip", "203.0.113.66", emergency_egress=True, service="tts-router")
    )
    assert any(
        n.startswith("after this, 203.0.113.66/32 is still reachable from ")
        and f"{TTS_ROUTER}: NetworkPolicy external-api-segmentation (TCP 443, TCP 8443)" in n
        for n in preview.notes
    )
    await beacon.runbook.execute(preview)
    assert beacon.can_reach("203.0.113.66", 8443, TTS_ROUTER)


async def test_mesh_deny_preview_computes_who_still_gets_through(
    drill: Callable[[str], Any], record: Record
) -> None:
    istio = await drill("unauthorized-service-traffic")
    record.incidents.open("pms probing", severity="P1")
    preview = await istio.runbook.preview(ActionRequest("mesh-deny", "booking-service"))
    through = next(n for n in preview.notes if n.startswith("after this, still gets through: "))
    assert "api-gateway-5d7f9b8c6-h3k2l -> booking-service-84c6d5f7b-m9w4t:8080" in through
    assert "voicehive/booking-service-allow" in through
    assert "pms-connector" not in through
    assert any("own outbound traffic" in n for n in preview.notes)
    await istio.runbook.execute(preview)
    assert istio.session.engine.traffic.flowing("gateway-to-booking")  # as the preview said

    orchestrator = await istio.runbook.preview(ActionRequest("mesh-deny", "orchestrator"))
    assert "after this, no pod the preview can see reaches app=orchestrator on 8080" in (
        orchestrator.notes
    )


async def test_mesh_deny_on_linkerd_names_the_authorization_still_admitting(
    drill: Callable[[str], Any], record: Record
) -> None:
    linkerd = await drill("network-policy-drift")
    record.incidents.open("drift", severity="P2")
    preview = await linkerd.runbook.preview(ActionRequest("mesh-deny", "booking-service"))
    assert any("mesh: linkerd (detected" in n for n in preview.notes)
    through = next(n for n in preview.notes if n.startswith("after this, still gets through: "))
    assert "ServerAuthorization booking-service-clients" in through
    await linkerd.runbook.execute(preview)
    assert linkerd.session.engine.traffic.flowing("gateway-to-booking")


async def test_disabling_the_account_revokes_its_tokens_but_the_implant_lives_on(
    drill: Callable[[str], Any], record: Record
) -> None:
    probing = await drill("unauthorized-service-traffic")
    record.incidents.open("pms probing", severity="P1")
    await probing.act(ActionRequest("disable-sa", "pms-connector"))
    engine = probing.session.engine
    observed = {(o.action, o.target) for o in engine.observations}
    assert ("disable-sa", "pms-connector") in observed
    assert ("eradicated", "pms-connector") in observed  # its credentials are gone
    assert engine.attack.alive("implant")  # the shell and tools in the pod are not
    deleted = await probing.kubectl("delete", "pod", "-n", NS, "pms-connector-5b8c9d7f6-q2r8s")
    assert deleted.returncode == 0, deleted.stderr
    engine.tick(15)  # the cluster has settled
    assert not engine.attack.alive("implant")
    assert ("attack-ended", "implant") in {(o.action, o.target) for o in engine.observations}
