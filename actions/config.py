"""The configuration file: one TOML file read into a frozen tree of settings.

Where it lives: `--config PATH`, else `$WARROOM_CONFIG`, else
`$XDG_CONFIG_HOME/warroom/config.toml` (`~/.config/warroom/config.toml`).
A missing file at the default places means the defaults; a file named with
`--config` must exist. Every problem names the file, the key and what is wrong,
and unknown keys are refused (a typo must not silently switch a pager off).

Secrets are never written here: a secret is given by the *name* of an
environment variable (`routing_key_env`) or of a file (`routing_key_file`)
and read only when a notification is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from actions.strict_input import (
    TABLE,
    choice_problem,
    flag_problem,
    name_problem,
    number_problem,
    text_problem,
    type_name,
    unknown_keys,
)
from store.models import SEVERITIES

NOTIFY_EVENTS = (
    "opened",
    "severity-changed",
    "action-taken",
    "phase-changed",
    "acknowledged",
    "escalated",
    "resolved",
)
MESH_PROVIDERS = ("auto", "istio", "linkerd", "none")
CONTACT_METHODS = ("pagerduty", "slack", "email", "phone")
SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13,
    "alert": 14, "clock": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip

# Keys that would hold a secret in clear: refused with a pointer to *_env / *_file.
_SECRET_KEYS = ("routing_key", "webhook_url", "password", "token")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Upper bounds for waits: past these a value is a typo (or inf), and a sleep that long
# overflows asyncio's timers.
AN_HOUR, A_DAY, A_YEAR_IN_HOURS = 3600.0, 86400.0, 8760.0
# Textual's key names joined by "+" (ctrl+k, shift+f2, question_mark), several by commas.
_KEY = r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*"
_KEYS = re.compile(rf"{_KEY}(?:\s*,\s*{_KEY})*")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names file, key and problem."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret is read from at send time: an environment variable or a file."""

    env: str | None = None
    file: Path | None = None

    def describe(self) -> str:
        if self.file is not None:
            return f"the file {self.file}"
        if self.env:
            return f"the environment variable {self.env}"
        return "nowhere (not configured)"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    namespace: str = "voicehive"
    context: str | None = None
    kubeconfig: Path | None = None


@dataclass(frozen=True, slots=True)
class FalcoSettings:
    namespace: str = "falco-system"
    selector: str = "app=falco"
    fallback_selector: str = "app.kubernetes.io/name=falco"


@dataclass(frozen=True, slots=True)
class CoreDnsSettings:
    """Where the CoreDNS query logs are followed from (DNS tunneling detection)."""

    namespace: str = "kube-system"
    selector: str = "k8s-app=kube-dns"
    container: str | None = "coredns"  # None: the pod's default container


@dataclass(frozen=True, slots=True)
class HubbleSettings:
    file: Path | None = None  # None: `hubble observe` when the CLI is installed


@dataclass(frozen=True, slots=True)
class MeshSettings:
    provider: str = "auto"  # "auto" | "istio" | "linkerd" | "none"
    istio_namespace: str = "istio-system"
    linkerd_namespace: str = "linkerd"
    interval_seconds: float = 30.0  # how often proxy sync and mTLS modes are read again


@dataclass(frozen=True, slots=True)
class PolicySettings:
    desired_state_file: Path = Path("infra/k8s/security/network-policies.yaml")
    relist_seconds: int = 300  # the watch is renewed by a full list this often


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    url: str | None = None  # None: reach it through the API server's service proxy
    namespace: str = "monitoring"
    service: str = "prometheus"
    port: int = 9090
    interval_seconds: float = 15.0  # how often traffic and mTLS failures are queried


@dataclass(frozen=True, slots=True)
class PagerDutySettings:
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key: SecretRef = SecretRef(env="WARROOM_PAGERDUTY_ROUTING_KEY")
    severities: tuple[str, ...] = ("P0", "P1")
    source: str = "warroom"
    # Paging the on-call engineer for a tabletop drill is off unless asked for.
    drills: bool = False
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class SlackSettings:
    webhook_url: SecretRef = SecretRef(env="WARROOM_SLACK_WEBHOOK_URL")
    channel: str = "#security-alerts"
    severities: tuple[str, ...] = SEVERITIES
    events: tuple[str, ...] = NOTIFY_EVENTS
    drills: bool = True
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class EmailSettings:
    smtp_host: str = "localhost"
    smtp_port: int = 587
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465); excludes starttls
    username: str | None = None
    password: SecretRef = SecretRef(env="WARROOM_SMTP_PASSWORD")
    sender: str = "warroom@example.com"
    to: tuple[str, ...] = ("security-team@example.com",)
    ca_file: Path | None = None
    severities: tuple[str, ...] = SEVERITIES
    events: tuple[str, ...] = ("opened", "severity-changed", "escalated", "resolved")
    drills: bool = True
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class SiemSettings:
    hec_url: str | None = None
    token: SecretRef = SecretRef(env="WARROOM_SIEM_TOKEN")
    hec_source: str = "warroom"
    hec_sourcetype: str = "warroom:incident"
    hec_index: str | None = None
    host: str | None = None  # None: this machine's name
    ca_file: Path | None = None
    syslog: str | None = None  # "udp://host:port" or "tcp://host:port"
    syslog_facility: str = "local0"
    syslog_app_name: str = "warroom"
    syslog_sd_id: str = "warroom@32473"  # 32473: the documentation enterprise number (RFC 5612)
    record_entries: bool = True  # also forward every timeline entry of the record
    severities: tuple[str, ...] = SEVERITIES
    events: tuple[str, ...] = NOTIFY_EVENTS
    drills: bool = True
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RetrySettings:
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    give_up_after_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """The alert channels; a channel is on when its section is in the file."""

    pagerduty: PagerDutySettings | None = None
    slack: SlackSettings | None = None
    email: EmailSettings | None = None
    siem: SiemSettings | None = None
    timeout_seconds: float = 10.0
    retry: RetrySettings = RetrySettings()


@dataclass(frozen=True, slots=True)
class EscalationContact:
    role: str
    primary: str
    secondary: str
    contact: str  # as written, e.g. "PagerDuty + Slack"
    methods: tuple[str, ...]  # parsed: ("pagerduty", "slack")


def _method_list(contact: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in contact.split("+") if part.strip())


RUNBOOK_ESCALATION: tuple[EscalationContact, ...] = tuple(
    EscalationContact(role, primary, secondary, contact, _method_list(contact))
    for role, primary, secondary, contact in (
        ("Security Engineer", "John Doe", "Jane Smith", "PagerDuty + Slack"),
        ("Network Engineer", "Bob Johnson", "Alice Brown", "PagerDuty + Phone"),
        ("Platform Engineer", "Charlie Wilson", "Diana Davis", "Slack + Email"),
        ("Security Manager", "Eve Anderson", "Frank Miller", "Phone + Email"),
    )
)


NO_KEYMAP: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    cluster: ClusterSettings = ClusterSettings()
    falco: FalcoSettings = FalcoSettings()
    mesh: MeshSettings = MeshSettings()
    policies: PolicySettings = PolicySettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    coredns: CoreDnsSettings = CoreDnsSettings()
    hubble: HubbleSettings = HubbleSettings()
    alerting: AlertingSettings = AlertingSettings()
    escalation: tuple[EscalationContact, ...] = RUNBOOK_ESCALATION
    # [keymap]: a binding id -> the keys that replace its own (the console applies it).
    keymap: tuple[tuple[str, str], ...] = NO_KEYMAP
    # Where these settings came from, for messages: a path, or None for the defaults.
    source: Path | None = field(default=None, compare=False)

    def escalation_for(self, role: str) -> EscalationContact | None:
        wanted = role.strip().casefold()
        return next((c for c in self.escalation if c.role.casefold() == wanted), None)


# --- where the file is -------------------------------------------------------------


def default_config_path() -> Path:
    """`$WARROOM_CONFIG`, else `$XDG_CONFIG_HOME/warroom/config.toml`."""
    if env := os.environ.get("WARROOM_CONFIG"):
        return Path(env)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "warroom" / "config.toml"


def load_settings(path: Path | None = None) -> Settings:
    """Read the configuration file.

    `path` is what `--config` named (it must exist); None looks at the default
    places, where a missing file means the defaults.
    """
    explicit = path is not None
    target = Path(path) if path is not None else default_config_path()
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{target}: no such configuration file") from None
        return Settings()
    except IsADirectoryError:
        raise ConfigError(f"{target}: is a folder, not a configuration file") from None
    except OSError as error:
        raise ConfigError(f"{target}: cannot read it ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{target}: not UTF-8 text (byte {error.start})") from None
    import tomllib  # only with a file to read (~4 ms of a start without one)

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{target}: not valid TOML: {error}") from None
    return _Reader(target).settings(document)


# --- reading -----------------------------------------------------------------------

T = TypeVar("T")


class _Table:
    """One TOML table being read: typed getters, and unknown keys refused at the end."""

    def __init__(self, file: Path, prefix: str, data: dict[str, Any]) -> None:
        self.file = file
        self.prefix = prefix
        self.data = data
        self.seen: set[str] = set()

    def key_name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.key_name(key)}: {problem}")

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, default: T, *, choices: Iterable[str] = ()) -> str | T:
        value = self._get(key)
        if value is None:
            return default
        if problem := text_problem(value, choices=choices, mapping=TABLE):
            raise self.fail(key, problem)
        return str(value)

    def name(self, key: str, default: str, kind: str = "namespace") -> str:
        """A Kubernetes name (a namespace, a Service), refused as the API server would."""
        value = self._get(key)
        if value is None:
            return default
        if problem := name_problem(value, kind, mapping=TABLE):
            raise self.fail(key, problem)
        return str(value)

    def optional_string(self, key: str, default: str | None = None) -> str | None:
        """Text where an empty string means "not set"."""
        value = self.string(key, default)
        return value or None

    def path(self, key: str, default: Path | None) -> Path | None:
        value = self.optional_string(key)
        if value is None:
            return default
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else self.file.parent / candidate

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if problem := flag_problem(value, mapping=TABLE):
            raise self.fail(key, problem)
        return bool(value)

    def number(self, key: str, default: float, *, minimum: float, maximum: float,
               integer: bool = False) -> Any:
        value: Any = self._get(key)
        if value is None:
            return default
        if problem := number_problem(value, minimum=minimum, maximum=maximum, integer=integer,
                                     mapping=TABLE):
            raise self.fail(key, problem)
        return value

    def string_list(
        self, key: str, default: tuple[str, ...], *, choices: Iterable[str] = ()
    ) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a list of text, got {type_name(value, mapping=TABLE)}")
        for item in value:
            if problem := choice_problem(item, choices):
                raise self.fail(key, problem)
        return tuple(dict.fromkeys(value))

    def secret(self, base: str, default: SecretRef) -> SecretRef:
        """`<base>_env` or `<base>_file`; `<base>` itself (the secret in clear) is refused."""
        env = self.optional_string(f"{base}_env")
        file = self.path(f"{base}_file", None)
        if env and file:
            raise self.fail(f"{base}_file", f"give either {base}_env or {base}_file, not both")
        if env and not _ENV_NAME.fullmatch(env):
            # Not echoed: a value that is no variable name may well be the secret itself.
            raise self.fail(
                f"{base}_env",
                "must be the name of an environment variable (letters, digits, _), "
                "not the secret itself",
            )
        if env or file:
            return SecretRef(env=env, file=file)
        return default

    def table(self, key: str) -> _Table | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(
                key,
                f"expected a table ([{self.key_name(key)}]), got {type_name(value, mapping=TABLE)}",
            )
        return _Table(self.file, self.key_name(key), value)

    def finish(self) -> None:
        for key, problem in unknown_keys(self.data, self.seen):
            if key in _SECRET_KEYS:
                # Never echo the value: it is a secret written where it must not be.
                raise self.fail(
                    key,
                    "secrets are not written in the configuration file; put it in an "
                    f"environment variable named by {key}_env, or a file named by {key}_file",
                )
            raise self.fail(key, problem)


class _Reader:
    def __init__(self, file: Path) -> None:
        self.file = file

    def settings(self, document: dict[str, Any]) -> Settings:
        top = _Table(self.file, "", document)
        settings = Settings(
            cluster=self._section(top, "cluster", self._cluster, ClusterSettings()),
            falco=self._section(top, "falco", self._falco, FalcoSettings()),
            mesh=self._section(top, "mesh", self._mesh, MeshSettings()),
            policies=self._section(top, "policies", self._policies, PolicySettings()),
            prometheus=self._section(top, "prometheus", self._prometheus, PrometheusSettings()),
            coredns=self._section(top, "coredns", self._coredns, CoreDnsSettings()),
            hubble=self._section(top, "hubble", self._hubble, HubbleSettings()),
            alerting=self._section(top, "alerting", self._alerting, AlertingSettings()),
            escalation=self._escalation(top),
            keymap=self._section(top, "keymap", self._keymap, NO_KEYMAP),
            source=self.file,
        )
        top.finish()
        return settings

    def _section(self, top: _Table, key: str, read: Callable[[_Table], T], default: T) -> T:
        table = top.table(key)
        if table is None:
            return default
        result = read(table)
        table.finish()
        return result

    def _cluster(self, t: _Table) -> ClusterSettings:
        d = ClusterSettings()
        return ClusterSettings(
            namespace=t.name("namespace", d.namespace),
            context=t.optional_string("context"),
            kubeconfig=t.path("kubeconfig", None),
        )

    def _falco(self, t: _Table) -> FalcoSettings:
        d = FalcoSettings()
        return FalcoSettings(
            namespace=t.name("namespace", d.namespace),
            selector=t.string("selector", d.selector),
            fallback_selector=t.string("fallback_selector", d.fallback_selector),
        )

    def _mesh(self, t: _Table) -> MeshSettings:
        d = MeshSettings()
        return MeshSettings(
            provider=t.string("provider", d.provider, choices=MESH_PROVIDERS),
            istio_namespace=t.name("istio_namespace", d.istio_namespace),
            linkerd_namespace=t.name("linkerd_namespace", d.linkerd_namespace),
            interval_seconds=t.number("interval_seconds", d.interval_seconds, minimum=1,
                                      maximum=A_DAY),
        )

    def _policies(self, t: _Table) -> PolicySettings:
        d = PolicySettings()
        value = t.optional_string("desired_state_file")
        return PolicySettings(
            desired_state_file=Path(value) if value else d.desired_state_file,
            relist_seconds=t.number("relist_seconds", d.relist_seconds, minimum=10,
                                    maximum=A_DAY, integer=True),
        )

    def _coredns(self, t: _Table) -> CoreDnsSettings:
        d = CoreDnsSettings()
        return CoreDnsSettings(
            namespace=t.name("namespace", d.namespace),
            selector=t.string("selector", d.selector),
            # An empty container means the pod's default one, as kubectl logs picks it.
            container=t.string("container", d.container) or None,
        )

    def _hubble(self, t: _Table) -> HubbleSettings:
        return HubbleSettings(file=t.path("file", None))

    def _prometheus(self, t: _Table) -> PrometheusSettings:
        d = PrometheusSettings()
        url = t.optional_string("url")
        if url is not None:
            _check_url(t, "url", url, ("http", "https"))
        return PrometheusSettings(
            url=url,
            namespace=t.name("namespace", d.namespace),
            service=t.name("service", d.service, "service"),
            port=t.number("port", d.port, minimum=1, maximum=65535, integer=True),
            interval_seconds=t.number("interval_seconds", d.interval_seconds, minimum=1,
                                      maximum=A_DAY),
        )

    def _alerting(self, t: _Table) -> AlertingSettings:
        d = AlertingSettings()
        return AlertingSettings(
            pagerduty=self._optional(t, "pagerduty", self._pagerduty),
            slack=self._optional(t, "slack", self._slack),
            email=self._optional(t, "email", self._email),
            siem=self._optional(t, "siem", self._siem),
            timeout_seconds=t.number("timeout_seconds", d.timeout_seconds, minimum=0.01,
                                     maximum=AN_HOUR),
            retry=self._section(t, "retry", self._retry, RetrySettings()),
        )

    def _optional(self, t: _Table, key: str, read: Callable[[_Table], T]) -> T | None:
        table = t.table(key)
        if table is None:
            return None
        result = read(table)
        table.finish()
        return result

    def _keymap(self, t: _Table) -> tuple[tuple[str, str], ...]:
        """Binding ids to keys; a dotted id may be quoted or written as TOML's dotted key."""
        entries: list[tuple[str, str]] = []
        for key, value in list(t.data.items()):
            if isinstance(value, dict):  # `checklist.close = "k"` is TOML for a nested table
                nested = self._section(t, key, self._keymap, NO_KEYMAP)
                entries += [(f"{key}.{name}", keys) for name, keys in nested]
                continue
            keys = t.string(key, "")
            if not _KEYS.fullmatch(keys):
                raise t.fail(key, "expected Textual key names, like \"ctrl+k\" or \"f2,k\"")
            entries.append((key, keys))
        return tuple(entries)

    def _retry(self, t: _Table) -> RetrySettings:
        d = RetrySettings()
        return RetrySettings(
            base_seconds=t.number("base_seconds", d.base_seconds, minimum=0.001, maximum=A_DAY),
            max_seconds=t.number("max_seconds", d.max_seconds, minimum=0.001, maximum=A_DAY),
            give_up_after_hours=t.number("give_up_after_hours", d.give_up_after_hours, minimum=0,
                                         maximum=A_YEAR_IN_HOURS),
        )

    def _pagerduty(self, t: _Table) -> PagerDutySettings:
        d = PagerDutySettings()
        events_url = t.string("events_url", d.events_url)
        _check_url(t, "events_url", events_url, ("http", "https"))
        return PagerDutySettings(
            events_url=events_url,
            routing_key=t.secret("routing_key", d.routing_key),
            severities=t.string_list("severities", d.severities, choices=SEVERITIES),
            source=t.string("source", d.source),
            drills=t.boolean("drills", d.drills),
            enabled=t.boolean("enabled", d.enabled),
        )

    def _slack(self, t: _Table) -> SlackSettings:
        d = SlackSettings()
        return SlackSettings(
            webhook_url=t.secret("webhook_url", d.webhook_url),
            channel=t.string("channel", d.channel),
            severities=t.string_list("severities", d.severities, choices=SEVERITIES),
            events=t.string_list("events", d.events, choices=NOTIFY_EVENTS),
            drills=t.boolean("drills", d.drills),
            enabled=t.boolean("enabled", d.enabled),
        )

    def _email(self, t: _Table) -> EmailSettings:
        d = EmailSettings()
        to = t.string_list("to", d.to)
        if not to:
            raise t.fail("to", "needs at least one address")
        sender = t.string("from", d.sender)
        for key, address in [("from", sender), *(("to", a) for a in to)]:
            if "@" not in address or any(c in address for c in "\r\n,;<> "):
                raise t.fail(key, f"{address!r} is not a plain e-mail address")
        ssl = t.boolean("ssl", d.ssl)
        starttls = t.boolean("starttls", d.starttls and not ssl)
        if ssl and starttls:
            raise t.fail("starttls", "ssl (implicit TLS) and starttls exclude each other")
        return EmailSettings(
            smtp_host=t.string("smtp_host", d.smtp_host),
            smtp_port=t.number("smtp_port", 465 if ssl else d.smtp_port, minimum=1, maximum=65535,
                               integer=True),
            starttls=starttls,
            ssl=ssl,
            username=t.optional_string("username"),
            password=t.secret("password", d.password),
            sender=sender,
            to=to,
            ca_file=t.path("ca_file", None),
            severities=t.string_list("severities", d.severities, choices=SEVERITIES),
            events=t.string_list("events", d.events, choices=NOTIFY_EVENTS),
            drills=t.boolean("drills", d.drills),
            enabled=t.boolean("enabled", d.enabled),
        )

    def _siem(self, t: _Table) -> SiemSettings:
        d = SiemSettings()
        hec_url = t.optional_string("hec_url")
        if hec_url is not None:
            _check_url(t, "hec_url", hec_url, ("http", "https"))
        syslog = t.optional_string("syslog")
        if syslog is not None:
            _check_url(t, "syslog", syslog, ("udp", "tcp"), need_port=True)
        if hec_url is None and syslog is None:
            raise t.fail("hec_url", "set hec_url, syslog, or both (or remove [alerting.siem])")
        return SiemSettings(
            hec_url=hec_url,
            token=t.secret("token", d.token),
            hec_source=t.string("hec_source", d.hec_source),
            hec_sourcetype=t.string("hec_sourcetype", d.hec_sourcetype),
            hec_index=t.optional_string("hec_index"),
            host=t.optional_string("host"),
            ca_file=t.path("ca_file", None),
            syslog=syslog,
            syslog_facility=t.string(
                "syslog_facility", d.syslog_facility, choices=tuple(SYSLOG_FACILITIES)
            ),
            syslog_app_name=t.string("syslog_app_name", d.syslog_app_name),
            syslog_sd_id=t.string("syslog_sd_id", d.syslog_sd_id),
            record_entries=t.boolean("record_entries", d.record_entries),
            severities=t.string_list("severities", d.severities, choices=SEVERITIES),
            events=t.string_list("events", d.events, choices=NOTIFY_EVENTS),
            drills=t.boolean("drills", d.drills),
            enabled=t.boolean("enabled", d.enabled),
        )

    def _escalation(self, top: _Table) -> tuple[EscalationContact, ...]:
        value = top._get("escalation")
        if value is None:
            return RUNBOOK_ESCALATION
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise top.fail("escalation", "expected [[escalation]] tables")
        contacts = []
        roles: set[str] = set()
        for index, entry in enumerate(value):
            t = _Table(self.file, f"escalation[{index}]", entry)
            role = t.string("role", "")
            if not role.strip():
                raise t.fail("role", "every escalation entry needs a role")
            if role.casefold() in roles:
                raise t.fail("role", f"{role!r} is listed twice")
            roles.add(role.casefold())
            contact = t.string("contact", "")
            methods = _method_list(contact)
            if not methods:
                raise t.fail("contact", f"name one or more of {', '.join(CONTACT_METHODS)}")
            for method in methods:
                if method not in CONTACT_METHODS:
                    raise t.fail(
                        "contact",
                        f"{method!r} is not a contact method; use {', '.join(CONTACT_METHODS)} "
                        "joined with +",
                    )
            contacts.append(
                EscalationContact(
                    role=role.strip(),
                    primary=t.string("primary", ""),
                    secondary=t.string("secondary", ""),
                    contact=contact,
                    methods=methods,
                )
            )
            t.finish()
        return tuple(contacts)


def _check_url(
    t: _Table, key: str, url: str, schemes: tuple[str, ...], *, need_port: bool = False
) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        shapes = " or ".join(f"{s}://host" + (":port" if need_port else "/...") for s in schemes)
        raise t.fail(key, f"expected {shapes}, got {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise t.fail(key, f"bad port in {url!r}") from None
    if need_port and port is None:
        raise t.fail(key, f"needs a port, e.g. {parts.scheme}://{parts.hostname}:514")
