"""Validation of objects on create and update, as the API server does it.

Three layers: unknown fields (400 under fieldValidation=Strict, dropped with a
warning under Warn, dropped silently under Ignore), the real JSON schemas
(422 Invalid with the schema's complaint in `details.causes`), the Go
validations (field_checks.py: names, labels, NetworkPolicy ports, peers,
policyTypes and ipBlocks), and the CRDs' CEL rules (cel.py).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from .. import schemas
from . import cel, status
from . import field_checks as checks
from .field_checks import Cause
from .resources import ResourceType

FIELD_VALIDATION_VALUES = ("Strict", "Warn", "Ignore")



def _unknown_fields(error: jsonschema.ValidationError) -> list[tuple[list[Any], str]]:
    """For an additionalProperties error: (parent path, key) of each unexpected key."""
    schema = error.schema
    if (error.validator != "additionalProperties" or not isinstance(error.instance, dict)
            or not isinstance(schema, Mapping)):
        return []
    known = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in schema.get("patternProperties") or {}]
    return [(list(error.absolute_path), key) for key in error.instance
            if key not in known and not any(p.search(key) for p in patterns)]


def _drop(obj: dict[str, Any], parent: list[Any], key: str) -> None:
    current: Any = obj
    for part in parent:
        current = current[part]
    current.pop(key, None)


def check_object(resource: ResourceType, obj: dict[str, Any], field_validation: str,
                 warnings: list[str] | None = None) -> dict[str, Any]:
    """Validate obj (already defaulted); return it, possibly without unknown fields.

    Raises ApiError 400 (unknown field under Strict) or 422 (schema or Go validation).
    """
    name = str((obj.get("metadata") or {}).get("name") or "")
    errors = schemas.schema_errors(obj)
    unknown = [found for e in errors for found in _unknown_fields(e)]
    if unknown:
        texts = [f'unknown field "{_join(parent, key)}"' for parent, key in unknown]
        if field_validation == "Strict":
            message = "strict decoding error: " + ", ".join(texts)
            if resource.builtin:
                version = obj.get("apiVersion", "").rpartition("/")[2]
                message = (f'{resource.kind} in version "{version}" cannot be handled as a '
                           f"{resource.kind}: {message}")
            raise status.bad_request(message)
        obj = copy.deepcopy(obj)
        # Drop the deepest first so a parent's removal cannot hide a child's path.
        for parent, key in sorted(unknown, key=lambda found: -len(found[0])):
            _drop(obj, parent, key)
        if field_validation == "Warn" and warnings is not None:
            warnings.extend(texts)
        errors = schemas.schema_errors(obj)
    causes = [(schemas.field_path(e), schemas.describe_error(e)) for e in errors]
    causes += _go_validation(resource, obj, warnings)
    if not resource.builtin and not errors:
        validator = schemas.validator_for(str(obj.get("apiVersion")), resource.kind)
        if validator is not None:
            causes += cel.violations(validator.schema, obj)
    if causes:
        raise status.invalid(resource, name, causes)
    return obj


def _join(parent: list[Any], key: str) -> str:
    return schemas.path_text([*parent, key])


def _go_validation(resource: ResourceType, obj: dict[str, Any],
                   warnings: list[str] | None) -> list[Cause]:
    """The Go-side checks a schema cannot express (pkg/apis/*/validation), same messages."""
    causes: list[Cause] = []
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    if not name:
        causes.append(checks.required("metadata.name", "name or generateName is required"))
    elif resource.kind == "Namespace":
        causes += checks.dns1123_label("metadata.name", str(name))
    elif resource.kind == "Service":
        causes += checks.dns1035_label("metadata.name", str(name))
    else:
        causes += checks.dns1123_subdomain("metadata.name", str(name))
    causes += checks.labels("metadata.labels", metadata.get("labels"))
    if resource.kind == "NetworkPolicy" and resource.builtin:
        causes += _network_policy_spec(obj.get("spec") or {}, warnings)
    return causes


def _network_policy_spec(spec: dict[str, Any], warnings: list[str] | None) -> list[Cause]:
    """ValidateNetworkPolicySpec (k8s.io/kubernetes pkg/apis/networking/validation)."""
    causes = checks.label_selector("spec.podSelector", spec.get("podSelector"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule_index, rule in enumerate(spec.get(direction) or []):
            if not isinstance(rule, dict):
                continue
            where = f"spec.{direction}[{rule_index}]"
            for index, port in enumerate(rule.get("ports") or []):
                if isinstance(port, dict):
                    causes += _policy_port(f"{where}.ports[{index}]", port)
            for index, peer in enumerate(rule.get(peers_key) or []):
                if isinstance(peer, dict):
                    causes += _policy_peer(f"{where}.{peers_key}[{index}]", peer, warnings)
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        causes.append(checks.invalid("spec.policyTypes", types,
                                     "may not specify more than two policyTypes"))
        return causes
    for index, policy_type in enumerate(types):
        if policy_type not in ("Ingress", "Egress"):
            causes.append(checks.not_supported(f"spec.policyTypes[{index}]", policy_type,
                                               ["Ingress", "Egress"]))
    return causes


def _policy_port(where: str, port: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        causes.append(checks.not_supported(f"{where}.protocol", protocol, ["TCP", "UDP", "SCTP"]))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(checks.invalid(f"{where}.endPort", end,
                                         "may not be specified when `port` is not specified"))
    elif isinstance(number, int):
        causes += checks.port_number(f"{where}.port", number)
        if isinstance(end, int):
            if end < number:
                causes.append(checks.invalid(f"{where}.endPort", end,
                                             "must be greater than or equal to `port`"))
            causes += checks.port_number(f"{where}.endPort", end)
    else:
        if end is not None:
            causes.append(checks.invalid(f"{where}.endPort", end,
                                         "may not be specified when `port` is non-numeric"))
        causes += checks.port_name(f"{where}.port", str(number))
    return causes


def _policy_peer(where: str, peer: dict[str, Any], warnings: list[str] | None) -> list[Cause]:
    causes: list[Cause] = []
    present = [key for key in ("podSelector", "namespaceSelector", "ipBlock")
               if peer.get(key) is not None]
    for key in ("podSelector", "namespaceSelector"):
        if key in present:
            causes += checks.label_selector(f"{where}.{key}", peer[key])
    if isinstance(peer.get("ipBlock"), dict):
        causes += _ip_block(f"{where}.ipBlock", peer["ipBlock"], warnings)
    if not present:
        causes.append(checks.required(where, "must specify a peer"))
    elif len(present) > 1 and "ipBlock" in present:
        causes.append(checks.forbidden(where, "may not specify both ipBlock and another peer"))
    return causes


def _ip_block(where: str, block: dict[str, Any], warnings: list[str] | None) -> list[Cause]:
    """ValidateIPBlock with StrictIPCIDRValidation off (its default): an address with bits
    past the prefix is accepted with the apiserver's warning."""
    cidr_text = block.get("cidr")
    if not cidr_text:
        return [checks.required(f"{where}.cidr")]
    cidr = checks.parse_cidr(cidr_text)
    if cidr is None:
        return [checks.invalid(f"{where}.cidr", cidr_text, checks.CIDR_MESSAGE)]
    found_warnings = checks.cidr_warnings(f"{where}.cidr", cidr_text)
    causes: list[Cause] = []
    for index, entry in enumerate(block.get("except") or []):
        path = f"{where}.except[{index}]"
        excluded = checks.parse_cidr(entry)
        if excluded is None:
            causes.append(checks.invalid(path, entry, checks.CIDR_MESSAGE))
            continue
        found_warnings += checks.cidr_warnings(path, entry)
        if (excluded.version != cidr.version
                or not excluded.subnet_of(cidr)  # type: ignore[arg-type]
                or excluded.prefixlen <= cidr.prefixlen):
            causes.append(checks.invalid(path, entry, "must be a strict subset of `cidr`"))
    if warnings is not None and not causes:
        warnings.extend(found_warnings)
    return causes


def deprecation_warning(api_version: str, kind: str) -> str | None:
    """The CRD's deprecation text for a deprecated version (a `Warning:` header), or None."""
    validator = schemas.validator_for(api_version, kind)
    if validator is None or not validator.schema.get("deprecated"):
        return None
    text = validator.schema.get("x-deprecation-warning")
    return str(text) if text else f"{api_version} {kind} is deprecated"
