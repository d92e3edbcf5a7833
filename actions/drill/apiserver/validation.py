"""Validation of objects on create and update, as the API server does it.

Three layers: unknown fields (400 under fieldValidation=Strict, dropped with a
warning under Warn, dropped silently under Ignore), the real JSON schemas
(422 Invalid with the schema's complaint in `details.causes`), and the few Go
validations the runbook's actions depend on (object names, ipBlock CIDRs).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from ... import schemas
from . import status
from .resources import ResourceType

FIELD_VALIDATION_VALUES = ("Strict", "Warn", "Ignore")

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


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
    causes += _go_validation(resource, obj)
    if causes:
        raise status.invalid(resource, name, causes)
    return obj


def _join(parent: list[Any], key: str) -> str:
    return schemas.path_text([*parent, key])


def _go_validation(resource: ResourceType, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """The Go-side checks a schema cannot express that the runbook's actions meet."""
    causes: list[tuple[str, str]] = []
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    else:
        pattern = _DNS1123_LABEL if resource.kind == "Namespace" else _DNS1123_SUBDOMAIN
        limit = 63 if resource.kind == "Namespace" else 253
        if not pattern.fullmatch(name) or len(name) > limit:
            causes.append((
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 '
                f"{'label' if resource.kind == 'Namespace' else 'subdomain'} must consist of "
                "lower case alphanumeric characters, '-' or '.', and must start and end with "
                "an alphanumeric character"))
    if resource.kind == "NetworkPolicy":
        causes += _ip_blocks(obj.get("spec") or {})
    return causes


def _ip_blocks(spec: dict[str, Any]) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule_index, rule in enumerate(spec.get(direction) or []):
            for peer_index, peer in enumerate((rule or {}).get(peers_key) or []):
                block = (peer or {}).get("ipBlock")
                if not isinstance(block, dict):
                    continue
                where = f"spec.{direction}[{rule_index}].{peers_key}[{peer_index}].ipBlock"
                causes += _ip_block(where, block)
    return causes


def _ip_block(where: str, block: dict[str, Any]) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    cidr_text = block.get("cidr")
    try:
        cidr = ipaddress.ip_network(str(cidr_text), strict=False)
    except ValueError:
        return [(f"{where}.cidr", f'Invalid value: "{cidr_text}": must be a valid CIDR value, '
                                  "(e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    for index, entry in enumerate(block.get("except") or []):
        try:
            excluded = ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            causes.append((f"{where}.except[{index}]",
                           f'Invalid value: "{entry}": must be a valid CIDR value, '
                           "(e.g. 10.9.8.0/24 or 2001:db8::/64)"))
            continue
        if (excluded.version != cidr.version or not excluded.subnet_of(cidr)  # type: ignore[arg-type]
                or excluded.prefixlen <= cidr.prefixlen):
            causes.append((f"{where}.except[{index}]",
                           f'Invalid value: "{entry}": must be a strict subset of `cidr`'))
    return causes


def deprecation_warning(api_version: str, kind: str) -> str | None:
    """The CRD's deprecation text for a deprecated version (a `Warning:` header), or None."""
    validator = schemas.validator_for(api_version, kind)
    if validator is None or not validator.schema.get("deprecated"):
        return None
    text = validator.schema.get("x-deprecation-warning")
    return str(text) if text else f"{api_version} {kind} is deprecated"
