"""The API server's pure parts: patches, selectors, the protobuf SSAR reader, Prometheus values."""

from __future__ import annotations

import pytest

from actions.drill.apiserver import patch, prometheus, protobuf, protobuf_objects, status
from actions.drill.apiserver.selectors import (
    label_selector_from_spec,
    parse_field_selector,
    parse_label_selector,
)

DOC = {"spec": {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["a"]}}]}]}}


def test_json_patch_operations() -> None:
    result = patch.apply_json_patch(DOC, [
        {"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", "value": "b"},
        {"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/0", "value": "z"},
        {"op": "copy", "from": "/spec/egress/0/to/0/ipBlock/cidr", "path": "/spec/cidr"},
        {"op": "move", "from": "/spec/cidr", "path": "/spec/moved"},
        {"op": "replace", "path": "/spec/moved", "value": "r"},
        {"op": "remove", "path": "/spec/egress/0/to/0/ipBlock/except/1"},
        {"op": "test", "path": "/spec/moved", "value": "r"},
        {"op": "add", "path": "/metadata~1x", "value": {"a~b": 1}},
    ])
    assert result["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] == ["z", "b"]
    assert result["spec"]["moved"] == "r"
    assert result["metadata/x"] == {"a~b": 1}
    assert DOC["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] == ["a"]  # input untouched


@pytest.mark.parametrize(("operations", "bad_request"), [
    ([{"op": "test", "path": "/spec/egress/0/to/0/ipBlock/cidr", "value": "x"}], False),
    ([{"op": "remove", "path": "/spec/ingress"}], False),
    ([{"op": "add", "path": "/spec/egress/5/to", "value": []}], False),
    ([{"op": "launch", "path": "/spec"}], True),
    ({"op": "add"}, True),
])
def test_json_patch_failures(operations: object, bad_request: bool) -> None:
    with pytest.raises(patch.PatchFailed) as caught:
        patch.apply_json_patch(DOC, operations)
    assert caught.value.bad_request is bad_request


def test_merge_patch() -> None:
    target = {"metadata": {"annotations": {"a": "1", "b": "2"}}, "spec": {"list": [1, 2]}}
    result = patch.apply_merge_patch(target, {"metadata": {"annotations": {"a": None, "c": "3"}},
                                              "spec": {"list": [3]}})
    assert result == {"metadata": {"annotations": {"b": "2", "c": "3"}}, "spec": {"list": [3]}}


def test_strategic_merge_by_key_and_directives() -> None:
    pod = {"spec": {"containers": [{"name": "app", "image": "a:1"},
                                   {"name": "istio-proxy", "image": "p:1"}],
                    "tolerations": [{"key": "k", "effect": "NoSchedule"}]}}
    result = patch.apply_strategic_merge_patch(pod, {"spec": {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "istio-proxy"}],
        "containers": [{"name": "app", "image": "a:2"},
                       {"name": "istio-proxy", "$patch": "delete"}]}})
    assert result["spec"]["containers"] == [{"name": "app", "image": "a:2"}]
    assert result["spec"]["tolerations"] == pod["spec"]["tolerations"]


def test_label_selectors() -> None:
    obj = {"metadata": {"labels": {"app": "falco", "tier": "security"}}}
    assert parse_label_selector("app=falco,tier")(obj)
    assert parse_label_selector("app in (falco, cilium), !missing")(obj)
    assert not parse_label_selector("app notin (falco)")(obj)
    assert not parse_label_selector("app!=falco")(obj)
    assert parse_label_selector("")(obj)
    with pytest.raises(status.ApiError) as caught:
        parse_label_selector("app===x")
    assert caught.value.code == 400


def test_field_selectors() -> None:
    event = {"type": "Warning", "reason": "BackOff", "involvedObject": {"name": "p"},
             "metadata": {"name": "e", "namespace": "voicehive"}}
    assert parse_field_selector("type=Warning,involvedObject.name=p")(event)
    assert parse_field_selector("metadata.namespace==voicehive,reason!=Started")(event)
    assert not parse_field_selector("involvedObject.kind=Pod")(event)


def test_label_selector_objects_for_scenarios() -> None:
    pod = {"metadata": {"labels": {"app": "orchestrator"}}}
    assert label_selector_from_spec({"matchLabels": {"app": "orchestrator"}})(pod)
    assert label_selector_from_spec({})(pod)
    assert not label_selector_from_spec({"matchExpressions": [
        {"key": "app", "operator": "NotIn", "values": ["orchestrator"]}]})(pod)


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_ssar_reader() -> None:
    attributes = (_field(1, b"voicehive") + _field(2, b"delete") + _field(3, b"networking.k8s.io")
                  + _field(5, b"networkpolicies") + _field(7, b"p"))
    ssar = _field(2, _field(1, attributes))
    envelope = protobuf.MAGIC + _field(1, _field(1, b"authorization.k8s.io/v1")) + _field(2, ssar)
    review = protobuf.decode_ssar(envelope)
    assert review["spec"]["resourceAttributes"] == {
        "namespace": "voicehive", "verb": "delete", "group": "networking.k8s.io",
        "resource": "networkpolicies", "name": "p"}
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode_ssar(b'{"kind": "SelfSubjectAccessReview"}')
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode_ssar(protobuf.MAGIC + b"\x12\x50abc")


def test_protobuf_objects_of_other_kinds_are_not_read() -> None:
    type_meta = _field(1, b"v1") + _field(2, b"ConfigMap")
    body = protobuf.MAGIC + _field(1, type_meta) + _field(2, _field(1, _field(1, b"p")))
    assert protobuf_objects.decode_object(body) is None
    # A Pod is read field by field: one the reader does not know is refused, not dropped.
    pod = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Pod")) \
        + _field(2, _field(1, _field(1, b"p")) + _field(2, _field(5, b"x")))
    with pytest.raises(protobuf.ProtobufError, match="field 5 of Pod.spec"):
        protobuf_objects.decode_object(pod)
    namespace = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Namespace")) \
        + _field(2, _field(1, _field(1, b"scratch") + _field(2, b"")))
    assert protobuf_objects.decode_object(namespace) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}}


@pytest.mark.parametrize(("value", "text"), [
    (1234.5, "1234.5"), (0, "0"), (3.0, "3"), (float("nan"), "NaN"), (float("inf"), "+Inf"),
    (float("-inf"), "-Inf"), (1e-7, "1e-07"), (2.5e21, "2.5e+21"), (0.000123, "0.000123"),
    (1e20, "100000000000000000000"), ("42", "42"),
])
def test_prometheus_value_format(value: object, text: str) -> None:
    assert prometheus.format_value(value) == text


def test_prometheus_time_format() -> None:
    assert prometheus.format_time(1764234000.0) == 1764234000
    assert prometheus.format_time(1764234000.7814) == 1764234000.781
    assert prometheus.parse_duration("1m30s", "step") == 90
    assert prometheus.parse_time("2026-11-01T09:00:00Z", "time") == 1793523600


def test_cel_rules_of_the_crds() -> None:
    from actions.drill.apiserver import cel

    rule = cel.compile_rule
    assert rule("(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1") is not None
    check = rule("(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1")
    assert check is not None
    assert check({"self": {"a": 1}}) is True
    assert check({"self": {"a": 1, "b": 2}}) is False
    keys = rule('self.all(key, !key.contains("*") && key.size() != 0)')
    assert keys is not None
    assert keys({"self": {"app": "x"}}) is True
    assert keys({"self": {"app*": "x"}}) is False
    ports = rule("self.all(key, 0 < int(key) && int(key) <= 65535)")
    assert ports is not None
    with pytest.raises(cel.CelError):
        ports({"self": {"http": {}}})
    # CEL this interpreter cannot read is skipped, never guessed.
    assert rule("self.map(x, x * 2).size() > 0") is None
    schema = {"properties": {"spec": {"x-kubernetes-validations": [
        {"rule": "self.size() == 0", "message": "must be empty"}]}}}
    assert cel.violations(schema, {"spec": {"a": 1}}) == [
        ("spec", 'Invalid value: "object": must be empty')]


def test_every_test_the_conformance_table_names_exists() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "drill-conformance.md").read_text(encoding="utf-8")
    named = re.findall(r"`(kubectl|answers|workloads|client|units|async)::(test_\w+)`", doc)
    assert len(named) > 60
    for short, name in named:
        source = (root / "tests" / f"test_drill_api_{short}.py").read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{short}::{name}"
