"""Label and field selectors, parsed and matched as the API server does.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
Field selectors: `path=value`, `path==value`, `path!=value` over the fields
each kind lets a selector use (`FIELD_LABELS`); any other field is a 400
`field label not supported: ...`, as the real server answers instead of
silently matching nothing. Parse errors raise ApiError 400 with the server's
wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from actions.policy.selectors import labels_of, selector_matches

from . import status

Matcher = Callable[[dict[str, Any]], bool]

_SET_REQUIREMENT = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9A-Z]([a-z0-9A-Z.-]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([\w.-]*[a-z0-9A-Z])?$")


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _check_value(key: str, value: str) -> None:
    if not _LABEL_VALUE.match(value) or len(value) > 63:
        raise status.bad_request(
            f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": a valid '
            "label must be an empty string or consist of alphanumeric characters, '-', '_' or "
            "'.', and must start and end with an alphanumeric character")


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in (p.strip() for p in parts) if part]


def _check_key(key: str, selector: str) -> None:
    if not _LABEL_KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise status.bad_request(
            f"unable to parse requirement: invalid label key \"{key}\": name part must consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            f"alphanumeric character (selector {selector!r})")


def parse_label_selector(text: str | None) -> Matcher:
    """A predicate over objects for one label selector string ('' matches all)."""
    if not text or not text.strip():
        return lambda obj: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split_requirements(text):
        tests.append(_label_requirement(requirement, text))

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return match


def _label_requirement(requirement: str, selector: str) -> Callable[[dict[str, str]], bool]:
    for operator in ("!=", "==", "="):
        if operator in requirement and "(" not in requirement:
            key, _, value = (part.strip() for part in requirement.partition(operator))
            _check_key(key, selector)
            _check_value(key, value)
            if operator == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: key in labels and labels[key] == value
    match = _SET_REQUIREMENT.match(requirement)
    if not match:
        raise status.bad_request(f"unable to parse requirement: found '{requirement}', "
                                 "expected: in, notin, =, ==, !=, gt, lt")
    negated, key, operator, values_text = match.groups()
    _check_key(key, selector)
    if operator:
        if negated:
            raise status.bad_request(f"unable to parse requirement: found '{requirement}'")
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        for value in values:
            _check_value(key, value)
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


_META_FIELDS = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}
# The field labels each kind's selector accepts, label -> the field it reads. From the
# AddFieldLabelConversionFunc calls of k8s.io/kubernetes pkg/apis/core/v1/conversion.go and
# pkg/apis/apps/v1/conversion.go; every other kind (custom resources too) has only the
# metadata ones (runtime.DefaultMetaV1FieldSelectorConversion).
FIELD_LABELS: dict[tuple[str, str], dict[str, str]] = {
    ("", "Pod"): _META_FIELDS | {label: label for label in (
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")}
        | {"status.podIPs": "status.podIP", "spec.host": "spec.nodeName"},
    ("", "Event"): _META_FIELDS | {label: label for label in (
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "type")}
        | {"source": "source.component"},
    ("", "Namespace"): {"metadata.name": "metadata.name", "status.phase": "status.phase"},
    ("", "Node"): {"metadata.name": "metadata.name",
                   "spec.unschedulable": "spec.unschedulable"},
    ("", "Secret"): _META_FIELDS | {"type": "type"},
    ("", "Service"): _META_FIELDS | {"spec.clusterIP": "spec.clusterIP", "spec.type": "spec.type"},
    ("apps", "ReplicaSet"): _META_FIELDS | {"status.replicas": "status.replicas"},
}


def field_labels(group: str, kind: str) -> dict[str, str]:
    """The field labels a selector over group/kind may use, label -> field path."""
    return FIELD_LABELS.get((group, kind), _META_FIELDS)


def field_value(obj: dict[str, Any], path: str) -> str | None:
    """The value at a dotted field path as a selector compares it, None if absent."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    if current is None or isinstance(current, dict | list):
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None,
                         labels: dict[str, str] | None = None) -> Matcher:
    """A predicate over objects for one field selector string ('' matches all).

    labels: the kind's field labels (`field_labels()`); a label outside them is a 400, as
    on the real server. None accepts any dotted path (the scenarios' own look-ups).
    """
    if not text or not text.strip():
        return lambda obj: True
    tests: list[Matcher] = []
    for requirement in _split_requirements(text):
        for operator in ("!=", "==", "="):
            if operator in requirement:
                path, _, value = (part.strip() for part in requirement.partition(operator))
                break
        else:
            raise status.bad_request(f"invalid selector: '{text}'; can't understand "
                                     f"'{requirement}'")
        if not path:
            raise status.bad_request(f"invalid selector: '{text}'")
        if labels is not None:
            if path not in labels:
                raise status.bad_request(f"field label not supported: {path}")
            path = labels[path]
        tests.append(_field_test(path, value, operator == "!="))

    def match(obj: dict[str, Any]) -> bool:
        return all(test(obj) for test in tests)

    return match


def _field_test(path: str, value: str, negated: bool) -> Matcher:
    def test(obj: dict[str, Any]) -> bool:
        # An absent field compares as the empty string, as the real field sets do.
        actual = field_value(obj, path) or ""
        return (actual != value) if negated else (actual == value)

    return test


def label_selector_from_spec(selector: dict[str, Any] | None) -> Matcher:
    """A predicate over a labels dict for a LabelSelector object (matchLabels/Expressions).

    Scenario reactions use it to decide which pods a NetworkPolicy selects.
    """
    def match(obj: dict[str, Any]) -> bool:
        return selector_matches(selector, labels_of(obj))

    return match
