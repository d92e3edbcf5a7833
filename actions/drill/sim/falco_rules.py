"""Falco's network rules as they ship, and alerts rendered exactly as Falco 0.41+ writes them.

Rule names, priorities, tags and output templates are those of
falcosecurity/rules (stable, incubating, sandbox and the archived deprecated
file), as recorded in shared/notes/formats.md section 1.7. `render_alert`
produces the JSON line of `json_output: true` with the default options:
top-level keys sorted (nlohmann::json over a std::map), compact, `time` with
nine fractional digits, `output` prefixed with `%evt.time` and the priority,
the container plugin's six suggested fields appended, `tags` sorted byte-wise
and `output_fields` holding one key per `%field` plus `evt.time` in integer
nanoseconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from actions.falco.alert import PRIORITIES

# The common tails of network and process rules (formats.md 1.7, "NET" and "PROC").
NET = (
    "connection=%fd.name lport=%fd.lport rport=%fd.rport fd_type=%fd.type fd_proto=%fd.l4proto "
    "evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid "
    "process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline "
    "terminal=%proc.tty"
)
# The deprecated rules still carry rules 2.0.0's typo: a literal `fd.l4proto`, no field.
NET_TYPO = NET.replace("fd_proto=%fd.l4proto", "fd_proto=fd.l4proto")
PROC = (
    "evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid "
    "process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline "
    "terminal=%proc.tty exe_flags=%evt.arg.flags"
)

# Falco 0.41+ container plugin: fields appended to every syscall alert, in this order.
SUGGESTED_FIELDS = (
    "container.id",
    "container.name",
    "container.image.repository",
    "container.image.tag",
    "k8s.pod.name",
    "k8s.ns.name",
)

PRIORITY_NAMES = PRIORITIES

# Field types Falco serialises as JSON numbers (formats.md 1.2).
NUMERIC_FIELDS = frozenset(
    {"fd.lport", "fd.rport", "fd.sport", "fd.cport", "user.uid", "user.loginuid", "proc.tty"}
)

FIELD_PATTERN = re.compile(r"%([a-z0-9_]+(?:\.[a-z0-9_]+)*(?:\[\d+\])?)")


@dataclass(frozen=True)
class FalcoRule:
    name: str
    priority: str
    tags: tuple[str, ...]
    output: str
    file: str


def _rule(name: str, priority: str, tags: str, output: str, file: str) -> FalcoRule:
    return FalcoRule(name, priority, tuple(t.strip() for t in tags.split(",")), output, file)


_STABLE = "falco_rules.yaml"
_INCUBATING = "falco-incubating_rules.yaml"
_SANDBOX = "falco-sandbox_rules.yaml"
_DEPRECATED = "archive/falco-deprecated_rules.yaml"

RULES: dict[str, FalcoRule] = {
    r.name: r
    for r in (
        _rule(
            "Contact K8S API Server From Container",
            "NOTICE",
            "maturity_stable, container, network, k8s, mitre_discovery, T1565",
            "Unexpected connection to K8s API Server from container | " + NET,
            _STABLE,
        ),
        _rule(
            "Netcat Remote Code Execution in Container",
            "WARNING",
            "maturity_stable, container, network, process, mitre_execution, T1059",
            "Netcat runs inside container that allows remote code execution | " + PROC,
            _STABLE,
        ),
        _rule(
            "Packet socket created in container",
            "NOTICE",
            "maturity_stable, container, network, mitre_credential_access, T1557.002",
            "Packet socket was created in a container | socket_info=%evt.args " + NET,
            _STABLE,
        ),
        _rule(
            "Redirect STDOUT/STDIN to Network Connection in Container",
            "NOTICE",
            "maturity_stable, container, network, process, mitre_execution, T1059",
            "Redirect stdout/stdin to network connection | gparent=%proc.aname[2] "
            "ggparent=%proc.aname[3] gggparent=%proc.aname[4] fd.sip=%fd.sip " + NET,
            _STABLE,
        ),
        _rule(
            "Disallowed SSH Connection Non Standard Port",
            "NOTICE",
            "maturity_stable, host, container, network, process, mitre_execution, T1059",
            "Disallowed SSH Connection | " + NET,
            _STABLE,
        ),
        _rule(
            "Unexpected UDP Traffic",
            "NOTICE",
            "maturity_incubating, host, container, network, mitre_exfiltration, TA0011",
            "Unexpected UDP Traffic Seen | " + NET,
            _INCUBATING,
        ),
        _rule(
            "Contact cloud metadata service from container",
            "NOTICE",
            "maturity_incubating, network, container, mitre_discovery, T1565",
            "Outbound connection to cloud instance metadata service | " + NET,
            _INCUBATING,
        ),
        _rule(
            "Launch Suspicious Network Tool in Container",
            "NOTICE",
            "maturity_incubating, container, network, process, mitre_execution, T1059",
            "Network tool launched in container | " + PROC,
            _INCUBATING,
        ),
        _rule(
            "Launch Remote File Copy Tools in Container",
            "NOTICE",
            "maturity_incubating, container, network, process, mitre_exfiltration, T1020",
            "Remote file copy tool launched in container | " + PROC,
            _INCUBATING,
        ),
        _rule(
            "Network Connection outside Local Subnet",
            "WARNING",
            "maturity_incubating, container, network, mitre_discovery, T1046, PCI_DSS_6.4.2",
            "Network connection outside local subnet | fd_rip_name=%fd.rip.name "
            "fd_lip_name=%fd.lip.name fd_cip_name=%fd.cip.name fd_sip_name=%fd.sip.name " + NET,
            _INCUBATING,
        ),
        _rule(
            "Launch Ingress Remote File Copy Tools in Container",
            "NOTICE",
            "maturity_incubating, container, network, process, mitre_command_and_control, TA0011",
            "Ingress remote file copy tool launched in container | " + PROC,
            _INCUBATING,
        ),
        _rule(
            "Detect outbound connections to common miner pool ports",
            "CRITICAL",
            "maturity_sandbox, host, container, network, mitre_impact, T1496",
            "Outbound connection to IP/Port flagged by https://cryptoioc.ch | ip=%fd.rip " + NET,
            _SANDBOX,
        ),
        _rule(
            "Kubernetes Client Tool Launched in Container",
            "WARNING",
            "maturity_sandbox, container, mitre_execution, T1610",
            "Kubernetes Client Tool Launched in Container | " + PROC,
            _SANDBOX,
        ),
        _rule(
            "Outbound Connection to C2 Servers",
            "WARNING",
            "maturity_deprecated, host, container, network, mitre_command_and_control, TA0011",
            "Outbound connection to C2 server | c2_domain=%fd.sip.name c2_addr=%fd.sip " + NET_TYPO,
            _DEPRECATED,
        ),
        _rule(
            "Unexpected outbound connection destination",
            "NOTICE",
            "maturity_deprecated, host, container, network, mitre_command_and_control, TA0011",
            "Disallowed outbound connection destination | " + NET_TYPO,
            _DEPRECATED,
        ),
        _rule(
            "Outbound or Inbound Traffic not to Authorized Server Process and Port",
            "WARNING",
            "maturity_deprecated, container, network, mitre_discovery, TA0011, NIST_800-53_CM-7",
            "Network connection outside authorized port and binary | " + NET_TYPO,
            _DEPRECATED,
        ),
    )
}


def priority_spelling(priority: str) -> str | None:
    """Falco's emitted spelling ("Warning") of a priority written in any case, else None."""
    folded = priority.casefold()
    if folded == "info":
        return "Informational"
    return next((name for name in PRIORITY_NAMES if name.casefold() == folded), None)


def template_fields(template: str) -> list[str]:
    """The `%field` names of an output template, in order, without repeats."""
    return list(dict.fromkeys(FIELD_PATTERN.findall(template)))


def _text_value(value: Any) -> str:
    return "<NA>" if value is None else str(value)


def falco_time(moment: datetime, nanos: int) -> tuple[str, str, int]:
    """(`time` key, `%evt.time` text, evt.time ns) for a moment plus extra nanoseconds."""
    moment = moment.astimezone(UTC)
    epoch_ns = (
        int(moment.replace(microsecond=0).timestamp()) * 1_000_000_000
        + moment.microsecond * 1000
        + nanos % 1000
    )
    fraction = epoch_ns % 1_000_000_000
    iso = f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction:09d}Z"
    clock = f"{moment.strftime('%H:%M:%S')}.{fraction:09d}"
    return iso, clock, epoch_ns


def render_alert(
    *,
    rule: str,
    moment: datetime,
    hostname: str,
    fields: dict[str, Any],
    priority: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    output: str | None = None,
    source: str = "syscall",
    nanos: int = 0,
) -> str:
    """One Falco 0.41+ JSON alert line (no trailing newline).

    `fields` holds values for the template's `%fields` and the container
    fields; missing ones are null in `output_fields` and `<NA>` in the text,
    as Falco writes them. Values are data: nothing in them is interpreted.
    """
    known = RULES.get(rule)
    template = output if output is not None else (known.output if known else "")
    spelled = priority_spelling(priority or (known.priority if known else "Notice")) or "Notice"
    tag_set = sorted(set(tags if tags is not None else (known.tags if known else ())))
    time_iso, time_clock, time_ns = falco_time(moment, nanos)

    used = template_fields(template)
    message = FIELD_PATTERN.sub(lambda m: _text_value(fields.get(m.group(1))), template)
    if source == "syscall":
        suffix = " ".join(
            f"{name.replace('.', '_')}={_text_value(fields.get(name))}" for name in SUGGESTED_FIELDS
        )
        message = f"{message.rstrip()} {suffix}"
        used += [name for name in SUGGESTED_FIELDS if name not in used]
    output_fields: dict[str, Any] = {name: _typed(name, fields.get(name)) for name in used}
    output_fields["evt.time"] = time_ns
    document = {
        "hostname": hostname,
        "output": f"{time_clock}: {spelled} {message}",
        "output_fields": output_fields,
        "priority": spelled,
        "rule": rule,
        "source": source,
        "tags": tag_set,
        "time": time_iso,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _typed(name: str, value: Any) -> Any:
    if value is None or name not in NUMERIC_FIELDS:
        return value if value is None or isinstance(value, str) else str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def startup_lines(moment: datetime, node: str, version: str = "0.41.3") -> list[str]:
    """What a Falco pod prints on stderr before its first alert (formats.md 1.6)."""
    stamp = moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y")
    return [
        f"{stamp}: Falco version: {version} (x86_64)",
        f"{stamp}: Falco initialized with configuration files:",
        f"{stamp}:    /etc/falco/falco.yaml | schema validation: ok",
        f"{stamp}: System info: Linux version 6.8.0-1021-aws (buildd@lcy02-amd64-042) "
        "(x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for "
        "Ubuntu) 2.42) #23-Ubuntu SMP Mon Dec  9 23:59:34 UTC 2024",
        f"{stamp}: Hostname value has been overridden via environment variable to: {node}",
        f"{stamp}: Loading rules from:",
        f"{stamp}:    /etc/falco/falco_rules.yaml | schema validation: ok",
        f"{stamp}:    /etc/falco/falco-incubating_rules.yaml | schema validation: ok",
        f"{stamp}: Loaded plugin 'container@0.2.4' from file "
        "/usr/share/falco/plugins/libcontainer.so",
        f"{stamp}: The chosen syscall buffer dimension is: 8388608 bytes (8 MBs)",
        f"{stamp}: Starting health webserver with threadiness 2, listening on 0.0.0.0:8765",
        f"{stamp}: Loaded event sources: syscall",
        f"{stamp}: Enabled event sources: syscall",
        f"{stamp}: Opening 'syscall' source with modern BPF probe.",
        f"{stamp}: One ring buffer every '2' CPUs.",
    ]
