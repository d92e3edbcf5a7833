"""The configuration file: defaults, the documented example, and clear refusals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from actions.config import (
    RUNBOOK_ESCALATION,
    ConfigError,
    SecretRef,
    Settings,
    default_config_path,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_no_file_at_the_default_place_means_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "absent.toml"))
    settings = load_settings(None)
    assert settings == Settings()
    assert settings.cluster.namespace == "voicehive"
    assert settings.falco.selector == "app=falco"
    assert settings.falco.fallback_selector == "app.kubernetes.io/name=falco"
    assert settings.mesh.provider == "auto"
    assert settings.policies.desired_state_file == Path("infra/k8s/security/network-policies.yaml")
    assert settings.prometheus.url is None
    # No alert channel is on without a file: nothing is paged by surprise.
    assert settings.alerting.pagerduty is None
    assert settings.alerting.slack is None
    assert settings.escalation == RUNBOOK_ESCALATION


def test_the_default_place_follows_warroom_config_then_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WARROOM_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "warroom" / "config.toml"
    path = tmp_path / "xdg" / "warroom" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[cluster]\nnamespace = "payments"\n')
    assert load_settings(None).cluster.namespace == "payments"
    other = write(tmp_path, '[cluster]\nnamespace = "other"\n')
    monkeypatch.setenv("WARROOM_CONFIG", str(other))
    assert load_settings(None).cluster.namespace == "other"
    assert load_settings(None).source == other


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="no such configuration file") as caught:
        load_settings(missing)
    assert str(missing) in str(caught.value)


def test_the_documented_example_loads_with_every_section() -> None:
    settings = load_settings(EXAMPLE)
    alerting = settings.alerting
    assert alerting.pagerduty is not None
    assert alerting.slack is not None
    assert alerting.email is not None
    assert alerting.siem is not None
    assert alerting.pagerduty.events_url == "https://events.pagerduty.com/v2/enqueue"
    assert alerting.pagerduty.routing_key == SecretRef(env="WARROOM_PAGERDUTY_ROUTING_KEY")
    assert alerting.pagerduty.severities == ("P0", "P1")
    assert alerting.slack.webhook_url == SecretRef(env="WARROOM_SLACK_WEBHOOK_URL")
    assert alerting.slack.channel == "#security-alerts"
    assert alerting.slack.severities == ("P0", "P1", "P2", "P3")
    assert (alerting.email.smtp_host, alerting.email.smtp_port) == ("localhost", 587)
    assert alerting.email.starttls is True
    assert alerting.email.password == SecretRef(env="WARROOM_SMTP_PASSWORD")
    assert alerting.email.sender == "warroom@example.com"
    assert alerting.email.to == ("security-team@example.com",)
    assert alerting.siem.hec_url == "https://siem.example.com:8088/services/collector/event"
    assert alerting.siem.token == SecretRef(env="WARROOM_SIEM_TOKEN")
    assert alerting.siem.syslog == "udp://127.0.0.1:514"
    assert [c.role for c in settings.escalation] == [c.role for c in RUNBOOK_ESCALATION]
    engineer = settings.escalation_for("security engineer")
    assert engineer is not None
    assert (engineer.primary, engineer.secondary) == ("John Doe", "Jane Smith")
    assert engineer.methods == ("pagerduty", "slack")
    # Empty strings in the example mean "not set".
    assert settings.cluster.context is None
    assert settings.prometheus.url is None


def test_broken_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[cluster]\nnamespace = "voicehive\n')
    assert "not valid TOML" in message
    assert "line 2" in message


def test_a_value_of_the_wrong_type_names_the_key(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[alerting.email]\nsmtp_port = "587"\n')
    assert "alerting.email.smtp_port" in message
    assert "whole number" in message
    message = refusal(tmp_path, '[alerting.slack]\nseverities = ["P1", "P5"]\n')
    assert "alerting.slack.severities" in message
    assert "'P5'" in message
    message = refusal(tmp_path, '[mesh]\nprovider = "cilium"\n')
    assert "mesh.provider" in message
    assert "auto, istio, linkerd, none" in message
    message = refusal(tmp_path, 'alerting = "on"\n')
    assert "alerting" in message
    assert "table" in message


def test_unknown_keys_are_refused_with_a_suggestion(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[alerting.slack]\nchanel = "#sec"\n')
    assert "alerting.slack.chanel: unknown key (did you mean 'channel'?)" in message
    message = refusal(tmp_path, '[clustre]\nnamespace = "x"\n')
    assert "clustre: unknown key (did you mean 'cluster'?)" in message


def test_a_secret_written_in_clear_is_refused_without_being_echoed(tmp_path: Path) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    message = refusal(tmp_path, f'[alerting.pagerduty]\nrouting_key = "{secret}"\n')
    assert "alerting.pagerduty.routing_key" in message
    assert "routing_key_env" in message
    assert secret not in message
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
    message = refusal(tmp_path, f'[alerting.slack]\nwebhook_url_env = "{url}"\n')
    assert "name of an environment variable" in message
    assert url not in message
    assert "XXXXXXXX" not in message


def test_secret_files_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[alerting.pagerduty]\nrouting_key_file = "secrets/pd"\n')
    settings = load_settings(path)
    assert settings.alerting.pagerduty is not None
    assert settings.alerting.pagerduty.routing_key == SecretRef(file=tmp_path / "secrets" / "pd")
    message = refusal(
        tmp_path,
        '[alerting.pagerduty]\nrouting_key_env = "PD"\nrouting_key_file = "pd"\n',
    )
    assert "not both" in message


def test_channel_addresses_are_checked(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[alerting.siem]\nsyslog = "udp://127.0.0.1"\n')
    assert "alerting.siem.syslog" in message
    assert "needs a port" in message
    message = refusal(tmp_path, '[alerting.siem]\nhec_url = "ftp://siem/x"\n')
    assert "alerting.siem.hec_url" in message
    message = refusal(tmp_path, "[alerting.siem]\n")
    assert "set hec_url, syslog, or both" in message
    message = refusal(tmp_path, '[alerting.email]\nto = ["a@example.com\\r\\nBcc: b@evil"]\n')
    assert "alerting.email.to" in message
    assert "plain e-mail address" in message
    message = refusal(tmp_path, "[alerting.email]\nssl = true\nstarttls = true\n")
    assert "exclude each other" in message


def test_escalation_entries_are_checked(tmp_path: Path) -> None:
    entry = '[[escalation]]\nrole = "{role}"\nprimary = "A"\nsecondary = "B"\ncontact = "{c}"\n'
    message = refusal(tmp_path, entry.format(role="SRE", c="Pager + Slack"))
    assert "escalation[0].contact" in message
    assert "'pager'" in message
    message = refusal(
        tmp_path, entry.format(role="SRE", c="Slack") + entry.format(role="sre", c="Email")
    )
    assert "escalation[1].role" in message
    assert "twice" in message
    message = refusal(tmp_path, entry.format(role="SRE", c="Slack") + "pager = 1\n")
    assert "escalation[0].pager: unknown key" in message
    settings = load_settings(write(tmp_path, entry.format(role="On-call SRE", c="Phone+Email")))
    (only,) = settings.escalation
    assert only.methods == ("phone", "email")
    assert settings.escalation_for("ON-CALL sre") == only
    assert settings.escalation_for("Security Engineer") is None


def test_the_sources_places_and_intervals_default_to_what_the_example_documents() -> None:
    example = load_settings(EXAMPLE)
    defaults = Settings()
    assert (example.coredns, example.hubble) == (defaults.coredns, defaults.hubble)
    assert (example.coredns.namespace, example.coredns.selector, example.coredns.container) == (
        "kube-system", "k8s-app=kube-dns", "coredns")
    assert example.hubble.file is None
    assert (example.mesh.interval_seconds, example.prometheus.interval_seconds,
            example.policies.relist_seconds) == (30, 15, 300)
    assert (defaults.mesh.interval_seconds, defaults.prometheus.interval_seconds,
            defaults.policies.relist_seconds) == (30, 15, 300)


def test_the_sources_places_and_intervals_are_read_and_checked(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, (
        '[coredns]\nnamespace = "dns"\nselector = "app=coredns"\ncontainer = ""\n'
        '[hubble]\nfile = "flows/hubble.jsonl"\n[mesh]\ninterval_seconds = 2.5\n')))
    assert (settings.coredns.namespace, settings.coredns.selector) == ("dns", "app=coredns")
    assert settings.coredns.container is None  # empty: the pod's default container
    assert settings.hubble.file == tmp_path / "flows" / "hubble.jsonl"  # beside the file
    assert settings.mesh.interval_seconds == 2.5
    for text, problem in (
        ("[mesh]\ninterval_seconds = 0\n", "mesh.interval_seconds: must be at least 1"),
        ('[prometheus]\ninterval_seconds = "15"\n',
         "prometheus.interval_seconds: expected a number"),
        ("[policies]\nrelist_seconds = 1.5\n", "policies.relist_seconds: expected a whole number"),
        ("[coredns]\nselecter = \"x\"\n", "coredns.selecter"),
    ):
        with pytest.raises(ConfigError, match=re.escape(problem)):
            load_settings(write(tmp_path, text))


@pytest.mark.parametrize(("text", "said"), [
    ("[prometheus]\nport = 99999\n", "prometheus.port: must be at most 65535, got 99999"),
    ("[prometheus]\nport = 0\n", "prometheus.port: must be at least 1, got 0"),
    ('[cluster]\nnamespace = "Bad NS!"\n',
     "cluster.namespace: a namespace name is an RFC 1123 label: lower-case letters, digits "
     "and '-', starting and ending with a letter or digit, at most 63 characters; "
     "got 'Bad NS!'"),
    ('[cluster]\nnamespace = ""\n', "cluster.namespace: expected non-empty text"),
    ('[coredns]\nnamespace = "' + "a" * 64 + '"\n', "coredns.namespace: a namespace name is"),
    ('[prometheus]\nservice = "9prometheus"\n',
     "prometheus.service: a service name is an RFC 1035 label"),
    ("[alerting.retry]\nbase_seconds = 1e309\n",
     "alerting.retry.base_seconds: expected a finite number, got inf"),
    ("[alerting.retry]\nmax_seconds = nan\n",
     "alerting.retry.max_seconds: expected a finite number, got nan"),
    ("[mesh]\ninterval_seconds = inf\n", "mesh.interval_seconds: expected a finite number"),
    ("[policies]\nrelist_seconds = 100000000000000000\n",
     "policies.relist_seconds: must be at most 86400"),
    ("[alerting]\ntimeout_seconds = 1e12\n", "alerting.timeout_seconds: must be at most 3600"),
])
def test_odd_values_are_refused_naming_the_file_the_key_and_what_is_allowed(
    record_path: Path, tmp_path: Path, text: str, said: str
) -> None:
    path = write(tmp_path, text)
    done = subprocess.run([sys.executable, "-m", "tui.cli", "--config", str(path), "incidents"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(f"warroom incidents: {path}: {said}"), done.stderr
