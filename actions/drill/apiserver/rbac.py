"""Role-like rules deciding what the drill's user may do, and the 403 they produce.

`None` rules allow everything. Otherwise a request is allowed when one rule
lists its verb, API group and resource (`"*"` matches anything; a subresource
is named `pods/log`), and, when the rule narrows them, its namespace and name.
"""

from __future__ import annotations

from typing import Any

from . import status

USERNAME = "system:serviceaccount:voicehive:warroom-operator"


def _listed(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str,
                namespace: str | None, name: str | None) -> bool:
    """Whether one rule allows the request (resource already includes `/subresource`)."""
    if not _listed(rule.get("verbs"), verb) or not _listed(rule.get("apiGroups"), group):
        return False
    if not _listed(rule.get("resources"), resource):
        return False
    namespaces = rule.get("namespaces")
    if namespaces is not None and (namespace is None or not _listed(namespaces, namespace)):
        return False
    names = rule.get("resourceNames")
    return not names or (name is not None and _listed(names, name))


def is_allowed(rules: list[dict[str, Any]] | None, verb: str, group: str, resource: str,
               namespace: str | None, name: str | None = None,
               subresource: str | None = None) -> bool:
    """Whether the rules allow verb on group/resource[/subresource] in namespace."""
    if rules is None:
        return True
    full = f"{resource}/{subresource}" if subresource else resource
    return any(rule_allows(rule, verb, group, full, namespace, name) for rule in rules)


def forbidden(verb: str, group: str, resource: str, namespace: str | None,
              name: str | None = None, subresource: str | None = None,
              username: str = USERNAME) -> status.ApiError:
    """The 403 the real authorizer answers, worded as kubectl prints it."""
    full = f"{resource}/{subresource}" if subresource else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    resource_text = f"{resource}.{group}" if group else resource
    reason = (f'User "{username}" cannot {verb} resource "{full}" in API group "{group}" '
              f"{scope}")
    return status.forbidden(resource_text, name, group, resource, reason)


def rules_in(rules: list[dict[str, Any]] | None, namespace: str | None) -> list[dict[str, Any]]:
    """The resource rules that apply in namespace, as a SelfSubjectRulesReview lists them."""
    if rules is None:
        return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    applying = []
    for rule in rules:
        namespaces = rule.get("namespaces")
        if namespaces is not None and (namespace is None or not _listed(namespaces, namespace)):
            continue
        shown = {key: list(rule[key]) for key in ("verbs", "apiGroups", "resources")
                 if isinstance(rule.get(key), list)}
        if rule.get("resourceNames"):
            shown["resourceNames"] = list(rule["resourceNames"])
        applying.append(shown)
    return applying
