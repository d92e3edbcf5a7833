"""Decode the protobuf SelfSubjectAccessReview that `kubectl auth can-i` POSTs.

kubectl 1.37 sends `application/vnd.kubernetes.protobuf` and does not retry
with JSON, so the request must be read from the wire format: the `k8s\\x00`
magic, then a runtime.Unknown whose field 2 is the raw SSAR; SSAR field 2 is
its spec; spec field 1 is resourceAttributes (1 namespace, 2 verb, 3 group,
4 version, 5 resource, 6 subresource, 7 name) and field 2 nonResourceAttributes
(1 path, 2 verb). The answer may be JSON: kubectl accepts it.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
RESOURCE_FIELDS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                   6: "subresource", 7: "name"}
NON_RESOURCE_FIELDS = {1: "path", 2: "verb"}


class ProtobufError(ValueError):
    """The body is not a protobuf message we can read."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def field_list(data: bytes) -> list[tuple[int, bytes | int]]:
    """Every top-level field of one message in wire order (repeated fields repeat)."""
    found: list[tuple[int, bytes | int]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            found.append((number, value))
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError("truncated field")
            found.append((number, data[position:position + length]))
            position += length
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
            if position > len(data):
                raise ProtobufError("truncated field")
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")
    return found


def fields(data: bytes) -> dict[int, bytes | int]:
    """The top-level fields of one message (last value wins, as protobuf merges them)."""
    return dict(field_list(data))


def unwrap(body: bytes) -> tuple[str, str, bytes]:
    """Strip the `k8s\\x00` envelope: (apiVersion, kind, raw object bytes)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    envelope = fields(body[len(MAGIC):])
    raw = envelope.get(2)
    if not isinstance(raw, bytes):
        raise ProtobufError("the envelope holds no object")
    type_meta = envelope.get(1)
    names = _strings(type_meta, {1: "apiVersion", 2: "kind"}) \
        if isinstance(type_meta, bytes) else {}
    return names.get("apiVersion", ""), names.get("kind", ""), raw


def _strings(message: bytes, names: dict[int, str]) -> dict[str, str]:
    parsed = fields(message)
    return {name: parsed[number].decode("utf-8", "replace")  # type: ignore[union-attr]
            for number, name in names.items() if isinstance(parsed.get(number), bytes)}


def decode_ssar(body: bytes) -> dict[str, Any]:
    """The SSAR as the JSON dict the client would have sent."""
    _, _, raw = unwrap(body)
    spec_bytes = fields(raw).get(2)
    spec: dict[str, Any] = {}
    if isinstance(spec_bytes, bytes):
        spec_fields = fields(spec_bytes)
        if isinstance(spec_fields.get(1), bytes):
            spec["resourceAttributes"] = _strings(spec_fields[1], RESOURCE_FIELDS)  # type: ignore[arg-type]
        if isinstance(spec_fields.get(2), bytes):
            spec["nonResourceAttributes"] = _strings(spec_fields[2], NON_RESOURCE_FIELDS)  # type: ignore[arg-type]
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {}, "spec": spec}


def decode_ssrr(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectRulesReview (spec field 2, its namespace field 1) as JSON."""
    _, _, raw = unwrap(body)
    spec_bytes = fields(raw).get(2)
    spec = _strings(spec_bytes, {1: "namespace"}) if isinstance(spec_bytes, bytes) else {}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "metadata": {}, "spec": spec}
