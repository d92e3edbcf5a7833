"""Decode the protobuf bodies of `kubectl create namespace|serviceaccount|secret`.

kubectl's create generators POST typed objects as protobuf. Only the fields
those commands set are read (k8s.io/api core/v1 generated.proto numbers);
anything else gets a clear 415 from the caller.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .protobuf import ProtobufError, field_list, unwrap

_OBJECT_META = {1: "name", 2: "generateName", 3: "namespace"}
_OBJECT_REFERENCE = {1: "kind", 2: "namespace", 3: "name", 4: "uid", 5: "apiVersion"}


def _text(value: bytes | int) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string field")
    return value.decode("utf-8", "replace")


def _message(value: bytes | int) -> list[tuple[int, bytes | int]]:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a message field")
    return field_list(value)


def _map_entry(value: bytes | int) -> tuple[str, bytes]:
    entry = dict(_message(value))
    key, item = entry.get(1, b""), entry.get(2, b"")
    if not isinstance(key, bytes) or not isinstance(item, bytes):
        raise ProtobufError("malformed map entry")
    return key.decode("utf-8", "replace"), item


def _strings(value: bytes | int, names: dict[int, str]) -> dict[str, str]:
    return {names[number]: _text(item) for number, item in _message(value)
            if number in names and _text(item)}


def _metadata(value: bytes | int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for number, item in _message(value):
        if number in _OBJECT_META and _text(item):  # Go omits empty strings from JSON
            metadata[_OBJECT_META[number]] = _text(item)
        elif number in (11, 12):
            key, text = _map_entry(item)
            metadata.setdefault("labels" if number == 11 else "annotations", {})[key] = \
                text.decode("utf-8", "replace")
    return metadata


def _namespace(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, item in field_list(raw):
        if number == 1:
            obj["metadata"] = _metadata(item)
        elif number == 2:
            finalizers = [_text(v) for n, v in _message(item) if n == 1]
            obj["spec"] = {"finalizers": finalizers} if finalizers else {}
    return obj


def _service_account(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, item in field_list(raw):
        if number == 1:
            obj["metadata"] = _metadata(item)
        elif number == 2:
            obj.setdefault("secrets", []).append(_strings(item, _OBJECT_REFERENCE))
        elif number == 3:
            obj.setdefault("imagePullSecrets", []).append(_strings(item, {1: "name"}))
        elif number == 4:
            obj["automountServiceAccountToken"] = bool(item)
    return obj


def _secret(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, item in field_list(raw):
        if number == 1:
            obj["metadata"] = _metadata(item)
        elif number == 2:
            key, data = _map_entry(item)
            obj.setdefault("data", {})[key] = base64.b64encode(data).decode()
        elif number == 3:
            obj["type"] = _text(item)
        elif number == 4:
            key, text = _map_entry(item)
            obj.setdefault("stringData", {})[key] = text.decode("utf-8", "replace")
        elif number == 5:
            obj["immutable"] = bool(item)
    return obj


DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ServiceAccount"): _service_account,
    ("v1", "Secret"): _secret,
}


def decode_object(body: bytes) -> dict[str, Any] | None:
    """The JSON form of a protobuf Namespace, ServiceAccount or Secret; None for other kinds."""
    api_version, kind, raw = unwrap(body)
    decoder = DECODERS.get((api_version, kind))
    if decoder is None:
        return None
    obj = decoder(raw)
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    obj.setdefault("metadata", {})
    return obj
