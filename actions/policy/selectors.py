"""Kubernetes label selectors and NetworkPolicy types, evaluated over plain dicts.

Shared by the runbook's actions (which policies already select a pod) and the
drill cluster (which traffic a policy lets through).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]


def labels_of(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def selector_text(selector: Mapping[str, Any] | None) -> str:
    """A label selector as kubectl prints it (`app=web,tier in (a,b)`, `!gone`); `<all pods>`
    when empty (an empty selector selects every pod of the namespace)."""
    if not selector:
        return "<all pods>"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, operator = expr.get("key"), str(expr.get("operator", ""))
        if operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            values = ",".join(str(v) for v in expr.get("values") or [])
            parts.append(f"{key} {operator.lower()} ({values})")
    return ",".join(parts) or "<all pods>"


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); empty or absent selects everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def policy_types(policy: Obj) -> set[str]:
    """A NetworkPolicy's policyTypes, defaulted as the API server does."""
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def format_selector(selector: Obj | None) -> str:
    """A LabelSelector as kubectl prints it (`app in (a,b),!legacy,tier=web`); empty: ``."""
    requirements: list[tuple[str, str]] = []
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        requirements.append((str(key), f"{key}={value}"))
    for expression in (selector or {}).get("matchExpressions") or []:
        key = str(expression.get("key"))
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(str(expression.get("operator")), f"{key} {expression.get('operator')} ({values})")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))
