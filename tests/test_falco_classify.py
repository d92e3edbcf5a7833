"""The runbook's Incident Classification of Falco alerts: shipped table, fallback, user file."""

# The tables below keep one real rule, or one broken file, per line.
# ruff: noqa: E501

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from actions.falco.alert import PRIORITIES, FalcoAlert
from actions.falco.classify import CATEGORIES, ClassificationFileError, Classifier
from actions.falco.parse import parse_line

# Falco's network rules (formats.md 1.7: falcosecurity/rules), their priority, tags and
# output message, with the class the runbook gives them (see classification.toml).
NETWORK_RULES = [
    # stable
    ("Contact K8S API Server From Container", "NOTICE", "maturity_stable, container, network, k8s, mitre_discovery, T1565",
     "Unexpected connection to K8s API Server from container", "P3", "monitoring-alert"),
    ("Netcat Remote Code Execution in Container", "WARNING", "maturity_stable, container, network, process, mitre_execution, T1059",
     "Netcat runs inside container that allows remote code execution", "P1", "network-anomaly"),
    ("Packet socket created in container", "NOTICE", "maturity_stable, container, network, mitre_credential_access, T1557.002",
     "Packet socket was created in a container", "P1", "network-anomaly"),
    ("Redirect STDOUT/STDIN to Network Connection in Container", "NOTICE", "maturity_stable, container, network, process, mitre_execution, T1059",
     "Redirect stdout/stdin to network connection", "P1", "network-anomaly"),
    ("Disallowed SSH Connection Non Standard Port", "NOTICE", "maturity_stable, host, container, network, process, mitre_execution, T1059",
     "Disallowed SSH Connection", "P2", "security-rule-violation"),
    # incubating
    ("System procs network activity", "NOTICE", "maturity_incubating, host, network, process, mitre_execution, T1059",
     "Known system binary sent/received network traffic", "P2", "unusual-traffic"),
    ("Unexpected UDP Traffic", "NOTICE", "maturity_incubating, host, container, network, mitre_exfiltration, TA0011",
     "Unexpected UDP Traffic Seen", "P2", "unusual-traffic"),
    ("Contact EC2 Instance Metadata Service From Container", "NOTICE", "maturity_incubating, network, aws, container, mitre_credential_access, T1552.005",
     "Outbound connection to EC2 instance metadata service", "P1", "network-anomaly"),
    ("Contact cloud metadata service from container", "NOTICE", "maturity_incubating, network, container, mitre_discovery, T1565",
     "Outbound connection to cloud instance metadata service", "P1", "network-anomaly"),
    ("Launch Suspicious Network Tool in Container", "NOTICE", "maturity_incubating, container, network, process, mitre_execution, T1059",
     "Network tool launched in container", "P2", "security-rule-violation"),
    ("Launch Suspicious Network Tool on Host", "NOTICE", "maturity_incubating, host, network, process, mitre_execution, T1059",
     "Network tool launched on host", "P2", "security-rule-violation"),
    ("Launch Remote File Copy Tools in Container", "NOTICE", "maturity_incubating, container, network, process, mitre_exfiltration, T1020",
     "Remote file copy tool launched in container", "P2", "security-rule-violation"),
    ("Network Connection outside Local Subnet", "WARNING", "maturity_incubating, container, network, mitre_discovery, T1046, PCI_DSS_6.4.2",
     "Network connection outside local subnet", "P1", "suspicious-external-connection"),
    ("Launch Ingress Remote File Copy Tools in Container", "NOTICE", "maturity_incubating, container, network, process, mitre_command_and_control, TA0011",
     "Ingress remote file copy tool launched in container", "P2", "security-rule-violation"),
    # sandbox
    ("Unexpected inbound connection source", "NOTICE", "maturity_sandbox, host, container, network, mitre_command_and_control, TA0011",
     "Disallowed inbound connection source", "P2", "unusual-traffic"),
    ("Interpreted procs inbound network activity", "NOTICE", "maturity_sandbox, host, container, network, mitre_exfiltration, TA0011",
     "Interpreted program received/listened for network traffic", "P2", "unusual-traffic"),
    ("Interpreted procs outbound network activity", "NOTICE", "maturity_sandbox, host, container, network, mitre_exfiltration, TA0011",
     "Interpreted program performed outgoing network connection", "P2", "unusual-traffic"),
    ("Unexpected K8s NodePort Connection", "NOTICE", "maturity_sandbox, network, k8s, container, mitre_persistence, T1205.001, NIST_800-53_AC-6",
     "Unexpected K8s NodePort Connection", "P2", "unusual-traffic"),
    ("Detect outbound connections to common miner pool ports", "CRITICAL", "maturity_sandbox, host, container, network, mitre_impact, T1496",
     "Outbound connection to IP/Port flagged by https://cryptoioc.ch", "P0", "active-intrusion"),
    ("Detect crypto miners using the Stratum protocol", "CRITICAL", "maturity_sandbox, host, container, process, mitre_impact, T1496",
     "Possible miner running", "P0", "active-intrusion"),
    ("Kubernetes Client Tool Launched in Container", "WARNING", "maturity_sandbox, container, mitre_execution, T1610",
     "Kubernetes Client Tool Launched in Container", "P2", "security-rule-violation"),
    ("Java Process Class File Download", "CRITICAL", "maturity_sandbox, host, container, process, mitre_initial_access, T1190",
     "Java process class file download", "P0", "active-intrusion"),
    ("Netcat/Socat Remote Code Execution on Host", "WARNING", "maturity_sandbox, host, network, process, mitre_execution, T1059",
     "Netcat/Socat runs on host that allows remote code execution", "P1", "network-anomaly"),
    ("Network Tool Executed During NPM Package Install", "WARNING", "maturity_sandbox, container, network, process, mitre_execution, T1195.002",
     "Network tool executed during NPM package installation", "P2", "security-rule-violation"),
    ("Known Cryptominer Process Executed", "CRITICAL", "maturity_sandbox, host, container, process, mitre_impact, T1496",
     "Cryptominer process executed", "P0", "active-intrusion"),
    ("Reverse Shell from Web Server", "CRITICAL", "maturity_sandbox, host, container, process, network, mitre_execution, T1059",
     "Reverse shell spawned from web server", "P0", "active-intrusion"),
    # archived, deprecated
    ("Outbound Connection to C2 Servers", "WARNING", "maturity_deprecated, host, container, network, mitre_command_and_control, TA0011",
     "Outbound connection to C2 server", "P1", "suspicious-external-connection"),
    ("Unexpected outbound connection destination", "NOTICE", "maturity_deprecated, host, container, network, mitre_command_and_control, TA0011",
     "Disallowed outbound connection destination", "P1", "suspicious-external-connection"),
    ("Outbound or Inbound Traffic not to Authorized Server Process and Port", "WARNING",
     "maturity_deprecated, container, network, mitre_discovery, TA0011, NIST_800-53_CM-7",
     "Network connection outside authorized port and binary", "P1", "unauthorized-inter-service"),
    ("Disallowed SSH Connection", "NOTICE", "maturity_deprecated, host, container, network, mitre_lateral_movement, T1021.004",
     "Disallowed SSH Connection", "P2", "security-rule-violation"),
]  # fmt: skip


def json_alert(rule: str, priority: str, tags: list[str], source: str = "syscall") -> FalcoAlert:
    """The alert as Falco writes it in JSON: priority capitalised, tags sorted."""
    doc = {
        "hostname": "node-a-1",
        "output": f"03:12:01.004518233: {priority} x",
        "output_fields": {"evt.time": 1795749121004518233},
        "priority": priority,
        "rule": rule,
        "source": source,
        "tags": sorted(tags),
        "time": "2026-11-27T03:12:01.004518233Z",
    }
    result = parse_line(json.dumps(doc).encode())
    assert isinstance(result, FalcoAlert)
    return result


def text_alert(message: str, priority: str) -> FalcoAlert:
    result = parse_line(f"03:12:01.004518233: {priority} {message} | connection=a->b".encode())
    assert isinstance(result, FalcoAlert)
    return result


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load()


@pytest.mark.parametrize(
    ("rule", "priority", "tags", "message", "severity", "category"),
    NETWORK_RULES,
    ids=[row[0] for row in NETWORK_RULES],
)
def test_each_real_network_rule_in_json_and_text_form(
    classifier: Classifier,
    rule: str,
    priority: str,
    tags: str,
    message: str,
    severity: str,
    category: str,
) -> None:
    emitted_priority = priority.capitalize()
    tag_list = [tag.strip() for tag in tags.split(",")]
    by_rule = classifier.classify(json_alert(rule, emitted_priority, tag_list))
    assert (by_rule.severity, by_rule.category) == (severity, category)
    assert by_rule.matched_by == f"rule: {rule}"
    assert CATEGORIES[category][0] == severity

    by_message = classifier.classify(text_alert(message, emitted_priority))
    assert (by_message.severity, by_message.category) == (severity, category)


def test_text_form_match_says_it_matched_the_message(classifier: Classifier) -> None:
    result = classifier.classify(text_alert("Outbound connection to C2 server", "Warning"))
    assert result.matched_by == "message: Outbound connection to C2 server"


@pytest.mark.parametrize(
    ("rule", "severity", "category"),
    [
        ("Falco internal: syscall event drop", "P3", "monitoring-alert"),
        ("Falco internal: timeouts notification", "P3", "monitoring-alert"),
        ("Falco internal: metrics snapshot", "P3", "informational"),
        ("Falco internal: hot restart failure", "P3", "configuration-warning"),
    ],
)
def test_falco_internal_events(
    classifier: Classifier, rule: str, severity: str, category: str
) -> None:
    result = classifier.classify(json_alert(rule, "Debug", [], source="internal"))
    assert (result.severity, result.category) == (severity, category)


def test_internal_text_event_is_classified_like_its_json_form(classifier: Classifier) -> None:
    line = b'03:14:00.000000017: Debug Falco internal: syscall event drop. 132 system calls dropped in last second. (n_drops="132")'
    result = parse_line(line)
    assert isinstance(result, FalcoAlert)
    assert classifier.classify(result).category == "monitoring-alert"


@pytest.mark.parametrize(
    ("priority", "severity", "category"),
    [
        ("Emergency", "P0", "active-intrusion"),
        ("Alert", "P0", "active-intrusion"),
        ("Critical", "P1", "network-anomaly"),
        ("Error", "P1", "network-anomaly"),
        ("Warning", "P2", "security-rule-violation"),
        ("Notice", "P3", "informational"),
        ("Informational", "P3", "informational"),
        ("Debug", "P3", "informational"),
        ("info", "P3", "informational"),
        ("CRITICAL", "P1", "network-anomaly"),
    ],
)
def test_priority_fallback_for_a_rule_not_in_the_table(
    classifier: Classifier, priority: str, severity: str, category: str
) -> None:
    result = classifier.classify(json_alert("Write below etc", priority, ["filesystem"]))
    assert (result.severity, result.category) == (severity, category)
    assert result.matched_by == f"priority: {priority}"


def test_every_falco_priority_has_a_fallback(classifier: Classifier) -> None:
    for priority in PRIORITIES:
        assert classifier.classify(json_alert("Some custom rule", priority, [])).severity in {
            "P0",
            "P1",
            "P2",
            "P3",
        }


def test_unknown_priority_falls_back_and_says_so(classifier: Classifier) -> None:
    result = classifier.classify(json_alert("Some custom rule", "Urgent", []))
    assert (result.severity, result.category) == ("P2", "security-rule-violation")
    assert result.matched_by == "priority: unknown 'Urgent'"


def test_tags_classify_unknown_network_rules_without_lowering_severity(
    classifier: Classifier,
) -> None:
    c2_tags = ["network", "mitre_command_and_control"]
    notice = classifier.classify(json_alert("Custom beacon", "Notice", c2_tags))
    assert (notice.severity, notice.category) == ("P1", "suspicious-external-connection")
    assert notice.matched_by == "tags: network, mitre_command_and_control"
    assert classifier.classify(json_alert("Custom beacon", "Emergency", c2_tags)).severity == "P0"
    plain = classifier.classify(json_alert("Custom network rule", "Notice", ["network"]))
    assert (plain.severity, plain.category, plain.matched_by) == (
        "P3",
        "monitoring-alert",
        "tag: network",
    )
    assert (
        classifier.classify(json_alert("Custom network rule", "Critical", ["network"])).severity
        == "P1"
    )


def test_dns_tunneling_and_exfiltration_rules_by_name(classifier: Classifier) -> None:
    for rule in (
        "DNS Tunneling Detected",
        "Possible dns tunnel via TXT",
        "Data Exfiltration over HTTPS",
    ):
        result = classifier.classify(json_alert(rule, "Warning", ["network"]))
        assert (result.severity, result.category) == ("P0", "dns-exfiltration"), rule
        assert result.matched_by.startswith("rule glob: ")


def test_classification_is_cached_but_per_classifier(
    tmp_path: Path, classifier: Classifier
) -> None:
    alert = json_alert("Contact K8S API Server From Container", "Notice", ["network"])
    assert classifier.classify(alert) is classifier.classify(alert)
    user_file = tmp_path / "mine.toml"
    user_file.write_text(
        '[[match]]\nrule = "Contact K8S API Server From Container"\ncategory = "unauthorized-access"\n'
    )
    assert Classifier.load(user_file).classify(alert).severity == "P0"
    assert classifier.classify(alert).severity == "P3"


def test_user_file_adds_overrides_and_defines_categories(tmp_path: Path) -> None:
    user_file = tmp_path / "classification.toml"
    user_file.write_text(
        """
[categories.crown-jewels]
severity = "P0"
wording = "Access to the payment vault"

[fallback]
Warning = "policy-drift"
notice = "monitoring-alert"

[[match]]
rule = "Contact K8S API Server From Container"
category = "unauthorized-access"

[[match]]
rule_glob = "Vault *"
category = "crown-jewels"

[[match]]
rule = "Outbound Connection to C2 Servers"
category = "suspicious-external-connection"
severity = "P0"
""",
        encoding="utf-8",
    )
    classifier = Classifier.load(user_file)
    k8s = classifier.classify(
        json_alert("Contact K8S API Server From Container", "Notice", ["network"])
    )
    assert (k8s.severity, k8s.category) == ("P0", "unauthorized-access")
    vault = classifier.classify(json_alert("Vault secret read", "Notice", []))
    assert (vault.severity, vault.category) == ("P0", "crown-jewels")
    assert classifier.wording("crown-jewels") == "Access to the payment vault"
    c2 = classifier.classify(
        json_alert("Outbound Connection to C2 Servers", "Warning", ["network"])
    )
    assert (c2.severity, c2.category) == ("P0", "suspicious-external-connection")
    assert classifier.classify(json_alert("Custom", "Warning", [])).category == "policy-drift"
    assert classifier.classify(json_alert("Custom", "Notice", [])).category == "monitoring-alert"
    # Entries the user did not touch still come from the shipped file.
    miner = classifier.classify(
        json_alert("Known Cryptominer Process Executed", "Critical", ["process"])
    )
    assert miner.category == "active-intrusion"
    assert classifier.classify(json_alert("Custom", "Emergency", [])).severity == "P0"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[[match]\nrule = 'x'\n", "not valid TOML"),
        ("[[match]]\nrule = 'x'\ncategory = 'nope'\n", "[[match]] entry 1: category 'nope' does not exist"),
        ("[[match]]\nrule = 'a'\ncategory = 'informational'\n[[match]]\nrul = 'x'\ncategory = 'informational'\n",
         "[[match]] entry 2: unknown key 'rul'"),
        ("[[match]]\ncategory = 'informational'\n", "[[match]] entry 1: has no condition"),
        ("[[match]]\nrule = 'x'\n", "[[match]] entry 1: needs `category`"),
        ("[[match]]\nrule = 'x'\ncategory = 'informational'\nseverity = 'P5'\n", "severity must be one of P0, P1, P2, P3"),
        ("[[match]]\ntags = 'network'\npriority = 3\ncategory = 'informational'\n", "`priority` must be a string or a list"),
        ("[[match]]\nrule = ''\ncategory = 'informational'\n", "`rule` must be a non-empty string"),
        ("[fallback]\nUrgent = 'informational'\n", "[fallback] key 'Urgent' is not a Falco priority"),
        ("[categories.x]\nseverity = 'P9'\n", "category 'x': severity must be one of P0, P1, P2, P3"),
        ("match = 'x'\n", "`match` must be an array of tables"),
        ("[rules]\nx = 1\n", "unknown top-level key 'rules'"),
    ],
)  # fmt: skip
def test_malformed_user_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    user_file = tmp_path / "broken.toml"
    user_file.write_text(content, encoding="utf-8")
    with pytest.raises(ClassificationFileError) as raised:
        Classifier.load(user_file)
    assert str(raised.value).startswith(f"{user_file}: ")
    assert problem in str(raised.value)


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    user_file = tmp_path / "broken.toml"
    user_file.write_text('[[match]]\nrule = "x"\ncategory = informational\n', encoding="utf-8")
    with pytest.raises(ClassificationFileError, match=r"line 3"):
        Classifier.load(user_file)


def test_missing_and_binary_user_files(tmp_path: Path) -> None:
    with pytest.raises(ClassificationFileError, match="no such file"):
        Classifier.load(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[[match]]")
    with pytest.raises(ClassificationFileError, match="not UTF-8 text"):
        Classifier.load(binary)


def test_categories_follow_the_runbook_severity_levels() -> None:
    per_severity = {severity: 0 for severity in ("P0", "P1", "P2", "P3")}
    for severity, wording in CATEGORIES.values():
        per_severity[severity] += 1
        assert wording
    # runbook.md lists five Critical, four High, four Medium and three Low bullets.
    assert per_severity == {"P0": 5, "P1": 4, "P2": 4, "P3": 3}


def test_the_readmes_classification_table_names_each_rule_in_its_shipped_class(
    classifier: Classifier,
) -> None:
    """A rule the README lists under one class and the shipped table puts in another would
    teach the wrong severity: every rule the table names by its exact name agrees."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    row = re.compile(r"^\| ([a-z-]+) \| (P[0-3]) \| [^|]+ \| ([^|]+) \|$", re.MULTILINE)
    named = 0
    for category, severity, rules in row.findall(readme):
        assert CATEGORIES[category][0] == severity, category
        for rule in (name.split(" (")[0].strip() for name in rules.split(";")):
            internal = rule.startswith("Falco internal:")
            alert = json_alert(rule, "Debug" if internal else "Warning", [],
                               source="internal" if internal else "syscall")  # fmt: skip
            result = classifier.classify(alert)
            if result.matched_by != f"rule: {rule}":
                continue  # a family in words ("any rule at priority Warning"), not a name
            assert result.category == category, f"README: {rule} in {category}"
            named += 1
    assert named >= 20
