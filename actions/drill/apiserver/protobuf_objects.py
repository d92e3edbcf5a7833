"""Decode the protobuf bodies kubectl POSTs: `create namespace|serviceaccount|secret`, and
the Pods of `kubectl debug node/...` and `kubectl debug --copy-to`.

kubectl's typed clients POST objects as protobuf. Only the fields those commands
set are read (k8s.io/api core/v1 generated.proto numbers); a Pod carrying a field
this reader does not know is refused (ProtobufError, a 415 naming the limit) rather
than stored without it.
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


# A message's fields: number -> (JSON name, kind, repeated); kind is "string", "bool",
# "int", "map" (map<string, string>), "quantities" (map<string, Quantity>) or a message
# spec. Go's gogo encoding writes false/0/"" of non-pointer fields; JSON omits them, so
# the reader drops them too.
Spec = dict[int, tuple[str, Any, bool]]
_TIME: Spec = {1: ("seconds", "int", False), 2: ("nanos", "int", False)}
_META: Spec = {1: ("name", "string", False), 2: ("generateName", "string", False),
               3: ("namespace", "string", False), 11: ("labels", "map", False),
               12: ("annotations", "map", False)}
_CAPABILITIES: Spec = {1: ("add", "string", True), 2: ("drop", "string", True)}
_SECCOMP: Spec = {1: ("type", "string", False), 2: ("localhostProfile", "string", False)}
_SECURITY: Spec = {1: ("capabilities", _CAPABILITIES, False), 2: ("privileged", "bool", False),
                   4: ("runAsUser", "int", False), 5: ("runAsNonRoot", "bool", False),
                   6: ("readOnlyRootFilesystem", "bool", False),
                   7: ("allowPrivilegeEscalation", "bool", False),
                   8: ("runAsGroup", "int", False), 11: ("seccompProfile", _SECCOMP, False)}
_POD_SECURITY: Spec = {2: ("runAsUser", "int", False), 3: ("runAsNonRoot", "bool", False),
                       4: ("supplementalGroups", "int", True), 5: ("fsGroup", "int", False),
                       6: ("runAsGroup", "int", False), 10: ("seccompProfile", _SECCOMP, False)}
_PORT: Spec = {1: ("name", "string", False), 2: ("hostPort", "int", False),
               3: ("containerPort", "int", False), 4: ("protocol", "string", False),
               5: ("hostIP", "string", False)}
_RESOURCES: Spec = {1: ("limits", "quantities", False), 2: ("requests", "quantities", False)}
_ENV: Spec = {1: ("name", "string", False), 2: ("value", "string", False)}
_MOUNT: Spec = {1: ("name", "string", False), 2: ("readOnly", "bool", False),
                3: ("mountPath", "string", False), 4: ("subPath", "string", False)}
_CONTAINER: Spec = {1: ("name", "string", False), 2: ("image", "string", False),
                    3: ("command", "string", True), 4: ("args", "string", True),
                    5: ("workingDir", "string", False), 6: ("ports", _PORT, True),
                    7: ("env", _ENV, True), 8: ("resources", _RESOURCES, False),
                    9: ("volumeMounts", _MOUNT, True),
                    13: ("terminationMessagePath", "string", False),
                    14: ("imagePullPolicy", "string", False),
                    15: ("securityContext", _SECURITY, False), 16: ("stdin", "bool", False),
                    17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False),
                    20: ("terminationMessagePolicy", "string", False)}
_HOST_PATH: Spec = {1: ("path", "string", False), 2: ("type", "string", False)}
_EMPTY_DIR: Spec = {1: ("medium", "string", False)}
_VOLUME: Spec = {1: ("name", "string", False),
                 2: ("", {1: ("hostPath", _HOST_PATH, False),
                          2: ("emptyDir", _EMPTY_DIR, False)}, False)}  # inlined VolumeSource
_TOLERATION: Spec = {1: ("key", "string", False), 2: ("operator", "string", False),
                     3: ("value", "string", False), 4: ("effect", "string", False),
                     5: ("tolerationSeconds", "int", False)}
_POD_SPEC: Spec = {1: ("volumes", _VOLUME, True), 2: ("containers", _CONTAINER, True),
                   3: ("restartPolicy", "string", False),
                   4: ("terminationGracePeriodSeconds", "int", False),
                   6: ("dnsPolicy", "string", False), 7: ("nodeSelector", "map", False),
                   8: ("serviceAccountName", "string", False),
                   9: ("serviceAccount", "string", False), 10: ("nodeName", "string", False),
                   11: ("hostNetwork", "bool", False), 12: ("hostPID", "bool", False),
                   13: ("hostIPC", "bool", False), 14: ("securityContext", _POD_SECURITY, False),
                   19: ("schedulerName", "string", False),
                   22: ("tolerations", _TOLERATION, True), 25: ("priority", "int", False),
                   27: ("shareProcessNamespace", "bool", False),
                   30: ("enableServiceLinks", "bool", False),
                   31: ("preemptionPolicy", "string", False)}
_POD: Spec = {1: ("metadata", _META, False), 2: ("spec", _POD_SPEC, False)}
_EMPTY_TIME = b"\x08\x00\x10\x00"  # metav1.Time{} as gogo writes it: seconds 0, nanos 0
# Fields kubectl sets with a value that the reader need not keep (status of a copied pod).
_IGNORED = {(id(_POD), 3)}


def _decode(raw: bytes, spec: Spec, where: str) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in field_list(raw):
        if (id(spec), number) in _IGNORED:
            continue
        if number not in spec:
            if value in (b"", 0) or value == _EMPTY_TIME:
                continue  # a zero value Go wrote for a field it had no value for
            raise ProtobufError(f"field {number} of {where} is not read by the drill cluster")
        name, kind, repeated = spec[number]
        if kind == "string":
            item: Any = _text(value)
        elif kind == "bool":
            item = bool(value)
        elif kind == "int":
            if isinstance(value, bytes):  # a packed repeated field
                item = _packed(value)
            else:
                item = value - (1 << 64) if value >= 1 << 63 else value
        elif kind in ("map", "quantities"):
            key, entry = _map_entry(value)
            if kind == "quantities":  # resource.Quantity: field 1 is its string form
                entry = _text(dict(field_list(entry)).get(1, b"")).encode()
            obj.setdefault(name, {})[key] = entry.decode("utf-8", "replace")
            continue
        else:
            if not isinstance(value, bytes):
                raise ProtobufError(f"field {number} of {where} is not a message")
            item = _decode(value, kind, f"{where}.{name or number}")
            if not name:  # an inlined message (VolumeSource): its fields join the parent
                obj.update(item)
                continue
        if repeated:
            obj.setdefault(name, []).extend(item if isinstance(item, list) else [item])
        elif item not in (False, "", 0):
            obj[name] = item
    return obj


def _packed(data: bytes) -> list[int]:
    values, position = [], 0
    while position < len(data):
        value, shift = 0, 0
        while True:
            if position >= len(data) or shift > 63:
                raise ProtobufError("truncated packed field")
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        values.append(value)
    return values


def _pod(raw: bytes) -> dict[str, Any]:
    return _decode(raw, _POD, "Pod")


DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ServiceAccount"): _service_account,
    ("v1", "Secret"): _secret,
    ("v1", "Pod"): _pod,
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
