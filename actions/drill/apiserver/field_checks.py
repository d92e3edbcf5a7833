"""apimachinery's field validations, with its messages: names, labels, selectors, ports, CIDRs.

Each check returns causes, `(field path, message)` pairs, the message starting as
`field.Error` prints its type ("Invalid value: ...", "Required value: ...",
"Unsupported value: ...", "Forbidden: ..."), which is what kubectl shows and what
`status.invalid` turns into a cause's reason. Sources: k8s.io/apimachinery
pkg/util/validation/validation.go and ip.go, pkg/apis/meta/v1/validation/validation.go.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

Cause = tuple[str, str]

_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+")

QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1123_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_LABEL_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def go_value(value: Any) -> str:
    """A bad value as field.Error prints it: strings quoted, numbers bare."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else json.dumps(value)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return field, f"Invalid value: {go_value(value)}: {detail}"


def required(field: str, detail: str = "") -> Cause:
    return field, "Required value" + (f": {detail}" if detail else "")


def forbidden(field: str, detail: str) -> Cause:
    return field, f"Forbidden: {detail}"


def not_supported(field: str, value: Any, supported: list[str]) -> Cause:
    choices = ", ".join(json.dumps(s) for s in supported)
    return field, f"Unsupported value: {go_value(value)}: supported values: {choices}"


def _max_length(limit: int) -> str:
    return f"must be no more than {limit} characters"


def qualified_name(field: str, value: str) -> list[Cause]:
    """IsQualifiedName: an optional DNS subdomain prefix and `/`, then a name part."""
    parts = value.split("/")
    if len(parts) > 2:
        return [invalid(field, value, f"a qualified name {QUALIFIED_NAME_MESSAGE} with an "
                                      "optional DNS subdomain prefix and '/' (e.g. "
                                      "'example.com/MyName')")]
    found = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            found.append("prefix part must be non-empty")
        else:
            found += ["prefix part " + text for _, text in dns1123_subdomain("", prefix)]
            found = [text.replace(f"Invalid value: {go_value(prefix)}: ", "") for text in found]
    if not name:
        found.append("name part must be non-empty")
    elif len(name) > 63:
        found.append("name part " + _max_length(63))
    if not _QUALIFIED_NAME.fullmatch(name):
        found.append("name part " + QUALIFIED_NAME_MESSAGE)
    return [invalid(field, value, text) for text in found]


def label_value(field: str, value: Any) -> list[Cause]:
    text = str(value)
    causes = []
    if len(text) > 63:
        causes.append(invalid(field, text, _max_length(63)))
    if not _LABEL_VALUE.fullmatch(text):
        causes.append(invalid(field, text, LABEL_VALUE_MESSAGE))
    return causes


def labels(field: str, value: Any) -> list[Cause]:
    """ValidateLabels: every key a qualified name, every value a label value."""
    if not isinstance(value, dict):
        return []
    causes: list[Cause] = []
    for key, item in value.items():
        causes += qualified_name(field, str(key))
        causes += label_value(field, item)
    return causes


def label_selector(field: str, selector: Any) -> list[Cause]:
    """ValidateLabelSelector: matchLabels, and each matchExpression's operator and values."""
    if not isinstance(selector, dict):
        return []
    causes = labels(f"{field}.matchLabels", selector.get("matchLabels"))
    for index, requirement in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(requirement, dict):
            continue
        where = f"{field}.matchExpressions[{index}]"
        operator, values = requirement.get("operator"), requirement.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(required(f"{where}.values",
                                       "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(forbidden(f"{where}.values", "may not be specified when "
                                                           "`operator` is 'Exists' or "
                                                           "'DoesNotExist'"))
        else:
            causes.append(invalid(f"{where}.operator", operator, "not a valid selector operator"))
        causes += qualified_name(f"{where}.key", str(requirement.get("key") or ""))
        for value_index, value in enumerate(values):
            causes += label_value(f"{where}.values[{value_index}]", value)
    return causes


def dns1123_subdomain(field: str, value: str) -> list[Cause]:
    causes = []
    if len(value) > 253:
        causes.append(invalid(field, value, _max_length(253)))
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        causes.append(invalid(field, value, DNS1123_SUBDOMAIN_MESSAGE))
    return causes


def dns1123_label(field: str, value: str) -> list[Cause]:
    causes = []
    if len(value) > 63:
        causes.append(invalid(field, value, _max_length(63)))
    if not _DNS1123_LABEL.fullmatch(value):
        causes.append(invalid(field, value, DNS1123_LABEL_MESSAGE))
    return causes


def dns1035_label(field: str, value: str) -> list[Cause]:
    """A Service's name: a DNS-1035 label (starts with a letter)."""
    causes = []
    if len(value) > 63:
        causes.append(invalid(field, value, _max_length(63)))
    if not _DNS1035_LABEL.fullmatch(value):
        causes.append(invalid(field, value, DNS1035_LABEL_MESSAGE))
    return causes


def port_number(field: str, value: Any) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        return [invalid(field, value, "must be between 1 and 65535, inclusive")]
    return []


def port_name(field: str, value: str) -> list[Cause]:
    """IsValidPortName (an IANA_SVC_NAME)."""
    found = []
    if len(value) > 15:
        found.append(_max_length(15))
    if not _PORT_NAME_CHARSET.fullmatch(value):
        found.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        found.append("must contain at least one letter (a-z)")
    if "--" in value:
        found.append("must not contain consecutive hyphens (--)")
    if value.startswith("-") or value.endswith("-"):
        found.append("must not begin or end with a hyphen (-)")
    return [invalid(field, value, detail) for detail in found]


def parse_cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Go's ParseCIDR: `address/prefix` only (Python would also take a bare address)."""
    text = str(value)
    address, slash, prefix = text.partition("/")
    if not slash or not prefix.isdigit():
        return None
    try:
        return ipaddress.ip_network(f"{address}/{int(prefix)}", strict=False)
    except ValueError:
        return None


def cidr_warnings(field: str, value: Any) -> list[str]:
    """GetWarningsForCIDR: an address with bits beyond the prefix is ambiguous."""
    network = parse_cidr(value)
    if network is None:
        return []
    address = ipaddress.ip_address(str(value).partition("/")[0])
    if address == network.network_address:
        return []
    single = f"{address}/{network.max_prefixlen}"
    return [f'{field}: CIDR value "{value}" is ambiguous in this context (should be '
            f'"{network}" or "{single}"?)']
