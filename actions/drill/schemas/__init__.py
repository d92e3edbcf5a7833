"""The real JSON schemas of the objects warroom creates, shipped as package data.

The `*.json` files beside this module are byte-for-byte copies of
`shared/schemas/` (a test keeps them equal); this module is `validate.py`'s
checking logic as a library: `check_document(obj)` returns the problems with
one manifest, `[]` when it is valid.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema

# No path tricks in schema file names built from client-supplied apiVersion/kind.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(/[A-Za-z0-9]+)?")

# Formats the Kubernetes schemas use that jsonschema does not check on its own.
FORMATS = jsonschema.FormatChecker()

FORMAT_HINTS = {
    "byte": "base64-encoded data",
    "int32": "a 32-bit integer",
    "int64": "a 64-bit integer",
    "date-time": "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
}

RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)")

_validators: dict[str, Any] = {}


@FORMATS.checks("byte", raises=binascii.Error)
def _is_base64(value: object) -> bool:
    # Secret.data values: the API server rejects anything that is not base64.
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


@FORMATS.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _is_int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = RFC3339.fullmatch(value)
    if not match:
        raise ValueError("not an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    datetime.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 (range check only)
    return True


def schema_file_name(api_version: str, kind: str) -> str:
    """The file holding the schema of one apiVersion + kind."""
    return f"{api_version.replace('/', '_')}_{kind}.json"


def schema_text(name: str) -> str | None:
    """The text of one schema file shipped in this package, or None."""
    path = resources.files(__name__) / name
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


def schema_names() -> list[str]:
    """File names of every shipped schema."""
    return sorted(
        entry.name for entry in resources.files(__name__).iterdir() if entry.name.endswith(".json")
    )


def validator_for(api_version: str, kind: str) -> Any | None:
    """A cached Draft 2020-12 validator for apiVersion + kind, None if no schema.

    The files here first; else a built-in kind of the Kubernetes definitions bundle
    (`kubernetes/`, the same source as the files: the drill cluster's Deployments,
    DaemonSets, ConfigMaps and other kinds warroom itself never creates)."""
    if not SAFE_NAME.fullmatch(api_version) or not SAFE_NAME.fullmatch(kind):
        return None
    name = schema_file_name(api_version, kind)
    if name not in _validators:
        text = schema_text(name)
        schema = json.loads(text) if text is not None else bundled_schema(api_version, kind)
        if schema is None:
            return None
        _validators[name] = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    return _validators[name]


KUBERNETES_DEFINITIONS = "definitions-v1.37.0.json"


@functools.cache
def kubernetes_definitions() -> dict[str, Any]:
    """The Kubernetes 1.37 definitions bundled in `kubernetes/`, name -> JSON Schema whose
    refs read `#/$defs/NAME` (kubernetes-validate 1.37.0, v1.37.0-local-strict: the
    definitions of every built-in kind the drill cluster serves and what they refer to)."""
    text = (resources.files(__name__) / "kubernetes" / KUBERNETES_DEFINITIONS).read_text(
        encoding="utf-8")
    return dict(json.loads(text)["$defs"])


def bundled_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """A standalone schema for a built-in kind of the bundle, shaped as the files here
    (apiVersion, kind and metadata required), or None."""
    group, _, version = api_version.rpartition("/")
    definitions = kubernetes_definitions()
    for definition in definitions.values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                    group, version, kind):
                required = sorted({*definition.get("required", []), "apiVersion", "kind",
                                   "metadata"})
                return {**definition, "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "title": f"{api_version} {kind}", "required": required,
                        "$defs": definitions}
    return None


def known_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) pair with a schema here."""
    found = []
    for name in schema_names():
        title = json.loads(schema_text(name) or "{}").get("title", "")
        if " " in title:
            api_version, kind = title.split(" ", 1)
            found.append((api_version, kind))
    return found


def describe_error(error: jsonschema.ValidationError) -> str:
    """The schema's complaint, with a readable hint for format failures."""
    if error.validator == "format" and error.validator_value in FORMAT_HINTS:
        return f"{error.instance!r} is not {FORMAT_HINTS[error.validator_value]}"
    return error.message


def field_path(error: jsonschema.ValidationError) -> str:
    """`spec.egress[0].to[0].ipBlock` for the error's location."""
    return path_text(error.absolute_path)


def path_text(parts: Any) -> str:
    """Join path parts the way Kubernetes names fields: `a.b[0].c`."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """Descend into oneOf/anyOf failures so the message names the real field."""
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and len(best.absolute_path) > len(error.absolute_path):
            yield from leaf_errors(best)
            return
    yield error


def schema_errors(doc: dict[str, Any]) -> list[jsonschema.ValidationError]:
    """The leaf validation errors of one document of a known kind, sorted by field."""
    validator = validator_for(str(doc.get("apiVersion")), str(doc.get("kind")))
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [leaf for error in errors for leaf in leaf_errors(error)]


def check_document(doc: object) -> list[str]:
    """Return problems with one manifest; [] means valid."""
    if not isinstance(doc, dict):
        return [f"expected a mapping (an object), got {type(doc).__name__}"]
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return ["apiVersion and kind must both be set to strings"]
    if kind == "List" and api_version == "v1":
        problems = []
        for i, item in enumerate(doc.get("items") or []):
            problems += [f"items[{i}]: {p}" for p in check_document(item)]
        return problems
    if not SAFE_NAME.fullmatch(api_version) or not SAFE_NAME.fullmatch(kind):
        return [
            f"unknown kind: apiVersion {api_version!r} kind {kind!r} are not names of an API type"
        ]
    validator = validator_for(api_version, kind)
    if validator is None:
        return [
            f"unknown kind: no schema for apiVersion {api_version!r} kind {kind!r} "
            f"(expected {schema_file_name(api_version, kind)})"
        ]
    problems = [f"{field_path(leaf)}: {describe_error(leaf)}" for leaf in schema_errors(doc)]
    metadata = doc.get("metadata")
    if "metadata" in validator.schema.get("required", ()) and isinstance(metadata, dict):
        if not metadata.get("name") and not metadata.get("generateName"):
            problems.append("metadata: name or generateName is required")
    return problems
