"""Kubernetes NetworkPolicy semantics (actions/policy/networkpolicy.py), one rule at a time.

Each test names the rule of docs/policy-semantics.md it checks.
"""

from __future__ import annotations

from typing import Any

from actions.policy import ClusterView, Endpoint
from actions.policy.endpoints import ip_in_block
from actions.policy.networkpolicy import cut_off, network_verdict
from actions.policy.reachability import egress_paths, still_open

NS = "voicehive"


def policy(name: str, spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def pod(
    name: str,
    labels: dict[str, str],
    ip: str,
    namespace: str = NS,
    ports: list[dict[str, Any]] | None = None,
    host_ip: str = "10.0.1.5",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "app", "ports": ports or []}]},
        "status": {"podIP": ip, "hostIP": host_ip},
    }


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


ORCHESTRATOR = pod("orchestrator-1", {"app": "orchestrator"}, "10.42.1.17")
TTS = pod("tts-1", {"app": "tts-router"}, "10.42.2.31")
DNS = pod("coredns-1", {"k8s-app": "kube-dns"}, "10.42.1.3", namespace="kube-system")
OUTSIDE = Endpoint("203.0.113.66")


def view(*objects: dict[str, Any]) -> ClusterView:
    return ClusterView.of([namespace(NS), namespace("kube-system"), *objects])


def end(obj: dict[str, Any]) -> Endpoint:
    return Endpoint.of_pod(obj)


DENY_ALL = policy(
    "emergency-isolation-1",
    {"podSelector": {"matchLabels": {"app": "orchestrator"}}, "policyTypes": ["Ingress", "Egress"]},
)
HTTPS_OUT = policy(
    "external-api-segmentation",
    {
        "podSelector": {
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["orchestrator", "tts-router"]}
            ]
        },
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            },
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}],
            },
        ],
    },
)


def test_a_pod_no_policy_selects_is_not_isolated() -> None:
    assert network_verdict(view(), end(ORCHESTRATOR), OUTSIDE, 25).allowed


def test_policies_add_up_a_deny_all_does_not_override_an_allowing_policy() -> None:
    both = view(ORCHESTRATOR, DENY_ALL, HTTPS_OUT)
    verdict = network_verdict(both, end(ORCHESTRATOR), OUTSIDE, 443)
    assert verdict.allowed
    assert verdict.allowed_by == ("external-api-segmentation",)
    # Only what no policy allows is refused.
    assert not network_verdict(both, end(ORCHESTRATOR), OUTSIDE, 80).allowed
    assert cut_off(both, ORCHESTRATOR) is None
    assert cut_off(view(ORCHESTRATOR, DENY_ALL), ORCHESTRATOR) == "emergency-isolation-1"


def test_dns_to_kube_dns_is_traffic_like_any_other() -> None:
    isolated = view(ORCHESTRATOR, DNS, DENY_ALL)
    assert not network_verdict(isolated, end(ORCHESTRATOR), end(DNS), 53, "UDP").allowed
    allowed = view(ORCHESTRATOR, DNS, DENY_ALL, HTTPS_OUT)
    assert network_verdict(allowed, end(ORCHESTRATOR), end(DNS), 53, "UDP").allowed
    # TCP 53 is another port: not allowed by a UDP rule.
    assert not network_verdict(allowed, end(ORCHESTRATOR), end(DNS), 53, "TCP").allowed


def test_policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() -> None:
    ingress_only = policy("no-types", {"podSelector": {}})
    assert network_verdict(
        view(ORCHESTRATOR, ingress_only), end(ORCHESTRATOR), OUTSIDE, 443
    ).allowed
    with_egress = policy(
        "egress",
        {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]},
    )
    assert not network_verdict(
        view(ORCHESTRATOR, with_egress), end(ORCHESTRATOR), OUTSIDE, 443
    ).allowed


def test_both_ends_must_allow_egress_of_the_client_and_ingress_of_the_server() -> None:
    tts_ingress = policy(
        "tts-router-ingress",
        {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api-gateway"}}}]}],
        },
    )
    verdict = network_verdict(
        view(ORCHESTRATOR, TTS, tts_ingress), end(ORCHESTRATOR), end(TTS), 8080
    )
    assert not verdict.allowed
    assert verdict.why.startswith("Ingress")
    egress_nowhere = policy("out", {"podSelector": {}, "policyTypes": ["Egress"]})
    verdict = network_verdict(
        view(ORCHESTRATOR, TTS, egress_nowhere), end(ORCHESTRATOR), end(TTS), 8080
    )
    assert not verdict.allowed
    assert verdict.why.startswith("Egress")


def test_a_pod_can_always_reach_itself_and_its_node_reaches_it() -> None:
    isolated = view(ORCHESTRATOR, DENY_ALL)
    assert network_verdict(isolated, end(ORCHESTRATOR), end(ORCHESTRATOR), 8080).allowed
    kubelet = Endpoint("10.0.1.5")  # the pod's hostIP
    assert network_verdict(isolated, kubelet, end(ORCHESTRATOR), 8080).allowed
    assert not network_verdict(isolated, Endpoint("10.0.2.9"), end(ORCHESTRATOR), 8080).allowed


def test_peers_pod_selector_alone_means_the_policys_namespace() -> None:
    other_ns_orchestrator = pod("orchestrator-x", {"app": "orchestrator"}, "10.42.9.9", "tools")
    tts_ingress = policy(
        "tts-router-ingress",
        {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "orchestrator"}}}]}],
        },
    )
    cluster = view(namespace("tools"), TTS, tts_ingress)
    assert network_verdict(cluster, end(ORCHESTRATOR), end(TTS), 8080).allowed
    assert not network_verdict(cluster, end(other_ns_orchestrator), end(TTS), 8080).allowed


def test_namespace_and_pod_selector_in_one_peer_are_anded_in_two_peers_ored() -> None:
    prober = pod("prober", {"app": "prober"}, "10.42.7.7", "tools")
    other = pod("other", {"app": "other"}, "10.42.7.8", "tools")
    anded = policy(
        "and",
        {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "sre"}},
                            "podSelector": {"matchLabels": {"app": "prober"}},
                        }
                    ]
                }
            ],
        },
    )
    ored = policy(
        "or",
        {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"team": "sre"}}},
                        {"podSelector": {"matchLabels": {"app": "prober"}}},
                    ]
                }
            ],
        },
    )
    tools = namespace("tools", team="sre")
    assert network_verdict(view(tools, TTS, anded), end(prober), end(TTS), 8080).allowed
    assert not network_verdict(view(tools, TTS, anded), end(other), end(TTS), 8080).allowed
    assert network_verdict(view(tools, TTS, ored), end(other), end(TTS), 8080).allowed


def test_match_expressions_select_pods() -> None:
    for operator, values, labels, selected in [
        ("In", ["orchestrator"], {"app": "orchestrator"}, True),
        ("In", ["orchestrator"], {"app": "tts"}, False),
        ("NotIn", ["orchestrator"], {"app": "tts"}, True),
        ("NotIn", ["orchestrator"], {}, True),
        ("Exists", None, {"app": "x"}, True),
        ("DoesNotExist", None, {"app": "x"}, False),
        ("DoesNotExist", None, {}, True),
    ]:
        expression: dict[str, Any] = {"key": "app", "operator": operator}
        if values is not None:
            expression["values"] = values
        deny = policy(
            "p", {"podSelector": {"matchExpressions": [expression]}, "policyTypes": ["Egress"]}
        )
        subject = pod("s", labels, "10.42.0.9")
        isolated = not network_verdict(view(deny), end(subject), OUTSIDE, 443).allowed
        assert isolated == selected, (operator, values, labels)


def test_ip_block_is_cidr_minus_except_and_never_matches_a_pod() -> None:
    block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "203.0.113.66/32"]}
    assert ip_in_block("198.51.100.20", block)
    assert not ip_in_block("203.0.113.66", block)
    assert not ip_in_block("2001:db8::1", block)  # an IPv4 cidr never admits IPv6
    assert not ip_in_block("not-an-ip", block)
    everywhere = policy(
        "all-ips",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        },
    )
    cluster = view(ORCHESTRATOR, TTS, everywhere)
    assert network_verdict(cluster, end(ORCHESTRATOR), OUTSIDE, 443).allowed
    # Cilium's CIDR rules match only peers outside the cluster: pods are selected by labels.
    assert not network_verdict(cluster, end(ORCHESTRATOR), end(TTS), 8080).allowed


def test_ports_protocols_end_port_and_named_ports() -> None:
    def allowed(
        port_spec: dict[str, Any], port: int, protocol: str = "TCP", target: dict[str, Any] = TTS
    ) -> bool:
        rule = policy(
            "p",
            {
                "podSelector": {"matchLabels": {"app": "tts-router"}},
                "ingress": [{"ports": [port_spec]}],
            },
        )
        return network_verdict(
            view(target, rule), end(ORCHESTRATOR), end(target), port, protocol
        ).allowed

    assert allowed({"port": 8080}, 8080)  # protocol defaults to TCP
    assert not allowed({"port": 8080}, 8080, "UDP")
    assert allowed({"protocol": "TCP", "port": 8000, "endPort": 8100}, 8080)
    assert not allowed({"protocol": "TCP", "port": 8000, "endPort": 8100}, 8101)
    assert allowed({"protocol": "UDP"}, 5353, "UDP")  # no port: every port of the protocol
    named = pod(
        "tts-2",
        {"app": "tts-router"},
        "10.42.2.32",
        ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
    )
    assert allowed({"port": "http"}, 8080, target=named)
    assert not allowed({"port": "http"}, 9090, target=named)
    assert not allowed({"port": "metrics"}, 8080, target=named)


def test_egress_paths_name_the_policy_that_still_allows_an_address() -> None:
    except_it = policy(
        "external-api-segmentation",
        {
            "podSelector": {"matchLabels": {"app": "orchestrator"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["203.0.113.66/32"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    )
    loose = policy(
        "debug-egress",
        {
            "podSelector": {"matchLabels": {"app": "orchestrator"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}],
        },
    )
    assert egress_paths(view(except_it), [ORCHESTRATOR], "203.0.113.66") == []
    paths = egress_paths(view(except_it, loose), [ORCHESTRATOR, TTS], "203.0.113.66")
    assert [p.describe() for p in paths] == [
        "orchestrator-1: NetworkPolicy debug-egress (any port)",
        "tts-1: no egress NetworkPolicy selects it (any port)",
    ]


def test_still_open_names_what_keeps_a_pod_from_being_cut_off() -> None:
    assert still_open(view(DENY_ALL, HTTPS_OUT), [ORCHESTRATOR]) == [
        "orchestrator-1: NetworkPolicy external-api-segmentation still allows egress"
    ]
    assert still_open(view(DENY_ALL), [ORCHESTRATOR]) == []
