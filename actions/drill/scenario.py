"""Drill scenarios: the YAML format, loading and validation.

A scenario file describes the starting cluster, the traffic flowing in it, a
timeline of injects, and the answer key the drill is scored against. The
format is documented in docs/scenarios.md. Loading checks everything up front
and raises `ScenarioError` naming the file, the place in it (`injects[2].falco.rule`,
line 41) and the problem, so a facilitator never finds a typo mid-drill.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from actions.drill.scenarios import builtin_names as builtin_names  # where it was first
from actions.drill.sim.attack import Driver, parse_attack, with_drivers
from actions.drill.sim.falco_rules import RULES, priority_spelling
from actions.strict_input import (
    choice_problem,
    flag_problem,
    number_problem,
    text_problem,
    type_name,
    unknown_keys,
)
from store.models import DECISIONS, SEVERITIES
from store.response_times import TARGETS

MESHES = ("istio", "linkerd", "none")
INJECT_KINDS = ("falco", "event", "dns", "log", "apply", "delete", "syncz", "traffic")
CONTAINMENT_ACTIONS = (
    "isolate",
    "block-ip",
    "disable-sa",
    "mesh-deny",
    "rotate-sa",
    "capture",
    "restore",
    "fix-config",
)
SYNC_STATES = ("SYNCED", "STALE", "NOT SENT", "NEVER ACKNOWLEDGED")
RUNBOOK_TARGETS = {key: target.total_seconds() for key, target in TARGETS.items()}
BUILTIN_PACKAGE = "actions.drill.scenarios"

Path_ = tuple[str | int, ...]


class ScenarioError(ValueError):
    """A scenario file that cannot be played; `problems` lists every one found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid scenario {source}:\n{lines}")


@dataclass(frozen=True)
class PodSpec:
    name: str
    namespace: str
    labels: dict[str, str]
    node: str
    ip: str
    image: str
    service_account: str
    sidecar: bool
    container: str
    owner_kind: str
    owner_name: str
    tls_mode_label: bool = True


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    namespace: str
    selector: dict[str, str]
    ports: tuple[dict[str, Any], ...]
    cluster_ip: str


@dataclass(frozen=True)
class ServiceAccountSpec:
    name: str
    namespace: str
    token_secret: str


@dataclass(frozen=True)
class Flow:
    """Traffic between a pod and a pod or an external address, with its rates."""

    id: str
    source_pod: str
    source_namespace: str
    dest_pod: str | None
    dest_namespace: str | None
    dest_ip: str | None
    dest_host: str | None
    port: int
    protocol: str
    requests_per_second: float
    sent_bytes_per_second: float
    received_bytes_per_second: float
    active: bool
    malicious: bool
    driver: str | None = None  # the attack driver a malicious flow belongs to
    log_ok: str | None = None  # a line the source pod logs each tick while the flow passes
    log_failed: str | None = None  # ... and while it is refused or dropped


@dataclass(frozen=True)
class Inject:
    """One timed change: `kind` names which of INJECT_KINDS, `spec` holds its fields."""

    index: int
    id: str
    at: float
    kind: str
    spec: dict[str, Any]
    malicious: bool
    every: float | None
    times: int | None
    note: str | None
    driver: str | None = None  # the attack driver a malicious inject belongs to


@dataclass(frozen=True)
class Containment:
    action: str
    target: str


@dataclass(frozen=True)
class AnswerKey:
    severity: str
    decision: str
    containment: tuple[Containment, ...]
    targets: dict[str, float]
    steps: tuple[str, ...]
    clock_starts: str | None
    explanation: str


@dataclass(frozen=True)
class ExecScript:
    """What one command prints in the pods it names (the scenario's `exec:` section)."""

    namespace: str
    pod: str | None  # one pod by name, or
    pods: dict[str, str] | None  # the pods with these labels (replacements included)
    container: str | None
    command: str | None  # the argv joined by spaces, or
    match: str | None  # a regular expression the joined argv must match in full
    stdout: str
    stderr: str
    exit_code: int
    driver: str | None = None  # shows the attack: answers only where this driver runs


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    incident_class: str
    severity: str
    description: str
    length: float
    seed: int
    mesh: str
    namespaces: tuple[str, ...]
    pods: tuple[PodSpec, ...]
    services: tuple[ServiceSpec, ...]
    service_accounts: tuple[ServiceAccountSpec, ...]
    objects: tuple[dict[str, Any], ...]
    rbac: tuple[dict[str, Any], ...] | None
    flows: tuple[Flow, ...]
    drivers: tuple[Driver, ...]
    injects: tuple[Inject, ...]
    answer_key: AnswerKey
    source: str = ""
    istio_version: str = "1.24.3"
    extra: dict[str, Any] = field(default_factory=dict)
    exec_scripts: tuple[ExecScript, ...] = ()

    def pod(self, name: str) -> PodSpec | None:
        return next((pod for pod in self.pods if pod.name == name), None)

    def driver(self, driver_id: str | None) -> Driver | None:
        return next((d for d in self.drivers if d.id == driver_id), None)

    def first_clock_inject(self) -> Inject | None:
        """The inject MTTD runs from: the answer key's choice, else the first malicious one."""
        if self.answer_key.clock_starts:
            return next(i for i in self.injects if i.id == self.answer_key.clock_starts)
        malicious = [i for i in self.injects if i.malicious]
        candidates = malicious or list(self.injects)
        return min(candidates, key=lambda i: (i.at, i.index)) if candidates else None

    def summary(self) -> dict[str, Any]:
        """What `warroom scenarios` lists."""
        return {
            "name": self.name,
            "title": self.title,
            "class": self.incident_class,
            "severity": self.severity,
            "length_seconds": self.length,
            "mesh": self.mesh,
            "injects": len(self.injects),
            "description": self.description.strip(),
        }


# --- locating problems in the file ------------------------------------------------


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


# libyaml when present: the pure-Python parser takes a second per built-in scenario.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A scenario or base file is a few kilobytes; these bound a hostile one before it costs
# anything: its size, and the values it holds once its aliases are expanded (a
# 752-byte "billion laughs" file otherwise grows to gigabytes as it is checked).
MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_VALUES = 200_000


class UnsafeYaml(yaml.YAMLError):
    """A YAML document refused before it is built: too big once its aliases are expanded."""


def _safe_load(text: str) -> Any:
    """The document, after checking its node graph: no recursive alias, bounded expansion."""
    if len(text) > MAX_FILE_BYTES:
        raise UnsafeYaml(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:  # the pure-Python parser on deep nesting (libyaml bounds it)
            raise UnsafeYaml("the document nests too deeply") from None
        if root is None:
            return None
        _check_expansion(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases loop or expand past MAX_EXPANDED_VALUES.

    Aliases make the composed graph share nodes; everything after loading walks
    the values as a tree, so what counts is the expanded size, computed here over
    the shared graph (each node once) without expanding anything.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the ancestors of the node being visited
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_EXPANDED_VALUES:
                raise UnsafeYaml(
                    f"its aliases expand it to more than {MAX_EXPANDED_VALUES:,} values "
                    "(an alias bomb?): write the values out instead"
                )
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise UnsafeYaml("an alias refers to a value that contains it (a recursive alias)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _read_limited(path: Path) -> str:
    """A scenario or base file's text; OSError/UnicodeDecodeError, or ValueError when too big."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    return data.decode("utf-8")


class _Locator:
    """Maps a path in the document to its line in the file (parsed again only on a problem)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._parsed = False
        self._root: yaml.Node | None = None

    def line(self, path: Path_) -> int | None:
        if not self._parsed:
            self._parsed = True
            try:
                self._root = yaml.compose(self._text, Loader=_Loader)
            except yaml.YAMLError:
                self._root = None
        node = self._root
        best = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                node = None
            if node is None:
                break
            best = node.start_mark.line + 1
        return best


class _Checker:
    """Collects problems with their place in the file."""

    def __init__(self, locator: _Locator | None, *, schemas: bool = True) -> None:
        self.locator = locator
        self.problems: list[str] = []
        self.schemas = schemas  # check manifests against the API schemas

    def problem(self, path: Path_, message: str) -> None:
        line = self.locator.line(path) if self.locator else None
        where = f"{format_path(path)} (line {line})" if line else format_path(path)
        self.problems.append(f"{where}: {message}")

    def mapping(self, value: Any, path: Path_, *, required: bool = True) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type_name(value)}")
            return {}
        return value

    def sequence(self, value: Any, path: Path_, *, required: bool = False) -> list[Any]:
        if value is None and not required:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {type_name(value)}")
            return []
        return value

    def text(
        self,
        parent: dict[str, Any],
        key: str,
        path: Path_,
        *,
        default: str | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str:
        value = parent.get(key, default)
        if value is None:
            self.problem((*path, key), "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem((*path, key), text_problem(value, non_empty=True) or "")
            return ""
        if problem := choice_problem(value, choices or ()):
            self.problem((*path, key), problem)
        return value

    def number(
        self,
        parent: dict[str, Any],
        key: str,
        path: Path_,
        *,
        default: float | None = None,
        minimum: float = 0.0,
        positive: bool = False,
    ) -> float:
        value = parent.get(key, default)
        if value is None:
            self.problem((*path, key), "is required")
            return 0.0
        if problem := number_problem(value, minimum=minimum, positive=positive):
            self.problem((*path, key), problem)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return float(value)

    def flag(self, parent: dict[str, Any], key: str, path: Path_, *, default: bool) -> bool:
        value = parent.get(key, default)
        if problem := flag_problem(value):
            self.problem((*path, key), problem)
            return default
        return bool(value)

    def labels(self, value: Any, path: Path_) -> dict[str, str]:
        labels = self.mapping(value, path, required=False)
        for key, item in labels.items():
            if not isinstance(key, str) or not isinstance(item, str):
                self.problem(
                    path,
                    f'labels must map text to text ({key!r}: {item!r}); quote values like "true"',
                )
        return {str(k): str(v) for k, v in labels.items()}

    def unknown_keys(self, mapping: dict[str, Any], allowed: set[str], path: Path_) -> None:
        for key, problem in unknown_keys(mapping, allowed):
            self.problem((*path, key), problem)


# --- loading ----------------------------------------------------------------------


def load_builtin(name: str, *, schemas: bool = True) -> Scenario:
    """A built-in scenario. `schemas=False` skips checking its manifests against the API
    schemas (jsonschema and the checks take 0.15 s): the test suite checks every built-in,
    and the drill cluster checks them again as it seeds."""
    if name not in builtin_names():
        raise ScenarioError(
            name, [f"no built-in scenario {name!r} (built-ins: {', '.join(builtin_names())})"]
        )
    text = resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_scenario(text, source=f"built-in scenario {name}", schemas=schemas)


def load_builtins() -> list[Scenario]:
    return [load_builtin(name) for name in builtin_names()]


def load_scenario(name_or_path: str | Path, *, trust_builtins: bool = False) -> Scenario:
    """A built-in by name, else a YAML file by path (always checked in full).

    `trust_builtins`: a built-in skips the schema checks (see `load_builtin`).
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in builtin_names():
        return load_builtin(text_name, schemas=not trust_builtins)
    path = Path(name_or_path)
    if not path.exists():
        raise ScenarioError(
            text_name,
            [
                "no such file, and no built-in scenario of that name "
                f"(built-ins: {', '.join(builtin_names())})"
            ],
        )
    if not path.is_file():  # a folder, /dev/zero, a FIFO: nothing a scenario is read from
        raise ScenarioError(str(path), ["not a regular file"])
    try:
        text = _read_limited(path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ScenarioError(str(path), [f"cannot read the file: {error}"]) from error
    return parse_scenario(text, source=str(path), base_dir=path.parent)


def _load_base(
    name: str, base_dir: Path | None, checker: _Checker, path: Path_, depth: int = 0
) -> dict[str, Any]:
    bases = resources.files(BUILTIN_PACKAGE).joinpath("bases")
    available = sorted(
        e.name.removesuffix(".yaml") for e in bases.iterdir() if e.name.endswith(".yaml")
    )
    if not _BASE_NAME.fullmatch(name):
        # Not a path: `base: /etc/x` or `../../x` would read (and quote) any file.
        checker.problem(
            path,
            f"base {name!r} must be a built-in base ({', '.join(available)}) or the name "
            "of a file in the scenario's own folder, without a folder part",
        )
        return {}
    text: str | None = None
    if name in available:
        text = bases.joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    elif base_dir is not None and _beside(base_dir, name):
        try:
            text = _read_limited(base_dir / name)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            checker.problem(path, f"cannot read the base cluster {name!r}: {error}")
            return {}
    if text is None:
        checker.problem(
            path,
            f"no base cluster {name!r} (built-in bases: {', '.join(available)}, "
            "or a file next to the scenario)",
        )
        return {}
    try:
        loaded = _safe_load(text)
    except UnsafeYaml as error:
        checker.problem(path, f"base cluster {name!r} refused before loading: {error}")
        return {}
    except yaml.YAMLError as error:
        checker.problem(path, f"base cluster {name!r} is not valid YAML: {error}")
        return {}
    if not isinstance(loaded, dict):
        checker.problem(path, f"base cluster {name!r} must be a mapping")
        return {}
    if "base" in loaded:
        if depth >= 4:
            checker.problem(path, f"base cluster {name!r}: bases nest too deep (a loop?)")
            return {}
        return _merge_cluster(
            _load_base(str(loaded["base"]), base_dir, checker, path, depth + 1), loaded
        )
    return loaded


_BASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
# An inject's or a flow's id: shown in the drill strip, toasts, the score and the timeline, so
# plain words only (an id holding ESC[2J cleared the facilitator's terminal).
_ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}")
ITEM_ID_RULE = "letters, digits and _ . : - (up to 63, a letter or digit first)"


def _beside(folder: Path, name: str) -> bool:
    """Whether `name` is a regular file in `folder` itself (a symlink out of it is not)."""
    candidate = folder / name
    try:
        return candidate.is_file() and candidate.resolve().parent == folder.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _object_key(obj: Any) -> tuple[str, str, str, str]:
    if not isinstance(obj, dict):
        return ("", "", "", repr(obj))
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace", "")),
        str(meta.get("name")),
    )


def _merge_cluster(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The scenario's cluster on top of its base: lists add up, same-named entries replace."""
    merged = copy.deepcopy(base)
    for key, value in own.items():
        if key == "base":
            continue
        if key in ("pods", "services", "serviceAccounts") and isinstance(value, list):
            names = {item.get("name") for item in value if isinstance(item, dict)}
            kept = [
                i
                for i in merged.get(key, [])
                if not (isinstance(i, dict) and i.get("name") in names)
            ]
            merged[key] = kept + value
        elif key == "objects" and isinstance(value, list):
            keys = {_object_key(obj) for obj in value}
            kept = [obj for obj in merged.get(key, []) if _object_key(obj) not in keys]
            merged[key] = kept + value
        elif key == "traffic" and isinstance(value, list):
            ids = {item.get("id") for item in value if isinstance(item, dict)}
            kept = [
                i for i in merged.get(key, []) if not (isinstance(i, dict) and i.get("id") in ids)
            ]
            merged[key] = kept + value
        elif key == "namespaces" and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))
        else:
            merged[key] = value
    return merged


def parse_scenario(
    text: str, *, source: str = "<scenario>", base_dir: Path | None = None, schemas: bool = True
) -> Scenario:
    """Parse and validate a scenario document; raises ScenarioError listing every problem."""
    try:
        document = _safe_load(text)
    except UnsafeYaml as error:
        raise ScenarioError(source, [f"refused before loading: {error}"]) from error
    except yaml.YAMLError as error:
        raise ScenarioError(source, [f"not valid YAML: {error}"]) from error
    checker = _Checker(_Locator(text), schemas=schemas)
    if not isinstance(document, dict):
        raise ScenarioError(source, [f"the document must be a mapping, got {type_name(document)}"])
    scenario = _build(document, checker, base_dir)
    if checker.problems or scenario is None:
        raise ScenarioError(source, checker.problems)
    return _with_source(scenario, source)


def _with_source(scenario: Scenario, source: str) -> Scenario:
    from dataclasses import replace

    return replace(scenario, source=source)


TOP_KEYS = {
    "exec",
    "name",
    "title",
    "class",
    "severity",
    "description",
    "length",
    "seed",
    "cluster",
    "traffic",
    "attack",
    "injects",
    "answer_key",
}


def _build(doc: dict[str, Any], c: _Checker, base_dir: Path | None) -> Scenario | None:
    c.unknown_keys(doc, TOP_KEYS, ())
    name = c.text(doc, "name", ())
    title = c.text(doc, "title", ())
    incident_class = c.text(doc, "class", (), choices=SEVERITIES)
    default_severity = incident_class if incident_class in SEVERITIES else "P3"
    severity = c.text(doc, "severity", (), default=default_severity, choices=SEVERITIES)
    description = doc.get("description", "")
    if not isinstance(description, str):
        c.problem(("description",), "expected text")
        description = ""
    length = c.number(doc, "length", (), positive=True)
    seed_value = doc.get("seed")
    if seed_value is None:
        seed = int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:4], "big")
    elif isinstance(seed_value, int) and not isinstance(seed_value, bool):
        seed = seed_value
    else:
        c.problem(("seed",), f"expected a whole number, got {type_name(seed_value)}")
        seed = 0

    cluster_doc = c.mapping(doc.get("cluster"), ("cluster",))
    if "base" in cluster_doc:
        base = _load_base(str(cluster_doc["base"]), base_dir, c, ("cluster", "base"))
        own = cluster_doc
        cluster_doc = _merge_cluster(base, cluster_doc)
        # Entries of the scenario's own lists come last after the merge; name
        # the base's entries by the base so line numbers point at the right file.
        offsets = {
            section: len(cluster_doc.get(section) or []) - len(own.get(section) or [])
            for section in ("pods", "services", "serviceAccounts", "objects")
        }

        def place(section: str, index: int) -> Path_:
            offset = offsets[section]
            if index >= offset:
                return ("cluster", section, index - offset)
            return ("cluster", f"base:{own['base']}", section, index)

    else:

        def place(section: str, index: int) -> Path_:
            return ("cluster", section, index)

    cluster = _cluster(cluster_doc, c, place)
    if cluster is None:
        return None
    mesh, namespaces, pods, services, accounts, objects, rbac, istio_version = cluster
    pods_by_name = {(p.namespace, p.name): p for p in pods}
    base_flows = c.sequence(cluster_doc.get("traffic"), ("cluster", "traffic"))
    own_flows = c.sequence(doc.get("traffic"), ("traffic",))
    own_ids = {f.get("id") for f in own_flows if isinstance(f, dict)}
    kept = [f for f in base_flows if not (isinstance(f, dict) and f.get("id") in own_ids)]
    flows = _flows(own_flows, c, pods_by_name, ("traffic",)) + _flows(
        kept, c, pods_by_name, ("cluster", "traffic")
    )
    drivers = parse_attack(doc.get("attack"), c, pods)
    flows = with_drivers(flows, drivers, c)
    injects = _injects(doc.get("injects"), c, pods, flows, length, mesh, drivers)
    answer_key = _answer_key(doc.get("answer_key"), c, injects)
    # The scenario's own scripts first: they answer before the base cluster's.
    exec_scripts = _exec_scripts(
        doc.get("exec"), c, namespaces, ("exec",), drivers
    ) + _exec_scripts(cluster_doc.get("exec"), c, namespaces, ("cluster", "exec"), drivers)
    if c.problems:
        return None
    return Scenario(
        name=name,
        title=title,
        incident_class=incident_class,
        severity=severity,
        description=description,
        length=length,
        seed=seed,
        mesh=mesh,
        namespaces=namespaces,
        pods=pods,
        services=services,
        service_accounts=accounts,
        objects=objects,
        rbac=rbac,
        flows=flows,
        drivers=drivers,
        injects=injects,
        answer_key=answer_key,
        istio_version=istio_version,
        exec_scripts=exec_scripts,
    )


CLUSTER_KEYS = {
    "exec",
    "base",
    "mesh",
    "istio_version",
    "namespaces",
    "pods",
    "services",
    "serviceAccounts",
    "objects",
    "rbac",
    "traffic",
}
POD_KEYS = {
    "name",
    "namespace",
    "labels",
    "node",
    "ip",
    "image",
    "serviceAccount",
    "sidecar",
    "tlsModeLabel",
    "container",
    "owner",
}


# The cluster section, checked: mesh, namespaces, pods, services, service accounts, objects,
# RBAC rules (None: the default) and the Istio version.
_ClusterParts = tuple[
    str,
    tuple[str, ...],
    tuple[PodSpec, ...],
    tuple[ServiceSpec, ...],
    tuple[ServiceAccountSpec, ...],
    tuple[dict[str, Any], ...],
    tuple[dict[str, Any], ...] | None,
    str,
]


def _cluster(
    doc: dict[str, Any], c: _Checker, place: Callable[[str, int], Path_]
) -> _ClusterParts:
    c.unknown_keys(doc, CLUSTER_KEYS, ("cluster",))
    mesh = c.text(doc, "mesh", ("cluster",), default="istio", choices=MESHES)
    istio_version = str(doc.get("istio_version", "1.24.3"))
    namespaces = tuple(
        str(n) for n in c.sequence(doc.get("namespaces"), ("cluster", "namespaces"), required=True)
    )
    pods: list[PodSpec] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(c.sequence(doc.get("pods"), ("cluster", "pods"))):
        path: Path_ = place("pods", i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, POD_KEYS, path)
        name = c.text(item, "name", path)
        namespace = c.text(item, "namespace", path, default="voicehive")
        if namespace and namespace not in namespaces:
            c.problem((*path, "namespace"), f"namespace {namespace!r} is not in cluster.namespaces")
        if (namespace, name) in seen:
            c.problem((*path, "name"), f"pod {namespace}/{name} is declared twice")
        seen.add((namespace, name))
        labels = c.labels(item.get("labels"), (*path, "labels"))
        if not labels:
            c.problem(
                (*path, "labels"),
                "a pod needs labels (e.g. app: orchestrator) so policies can select it",
            )
        ip = c.text(item, "ip", path)
        _check_ip(c, ip, (*path, "ip"))
        owner = c.mapping(item.get("owner"), (*path, "owner"), required=False)
        # A Deployment's pod is owned by ReplicaSet <deployment>-<pod-template-hash>.
        default_owner = (
            f"{name.rsplit('-', 2)[0]}-{labels['pod-template-hash']}"
            if "pod-template-hash" in labels
            else labels.get("app", name.rsplit("-", 1)[0])
        )
        pods.append(
            PodSpec(
                name=name,
                namespace=namespace,
                labels=labels,
                node=c.text(item, "node", path, default="worker-1"),
                ip=ip,
                image=c.text(item, "image", path),
                service_account=c.text(item, "serviceAccount", path, default="default"),
                sidecar=c.flag(
                    item, "sidecar", path, default=mesh != "none" and namespace == "voicehive"
                ),
                container=c.text(item, "container", path, default=labels.get("app", "app")),
                owner_kind=str(owner.get("kind", "ReplicaSet")),
                owner_name=str(owner.get("name", default_owner)),
                tls_mode_label=c.flag(item, "tlsModeLabel", path, default=True),
            )
        )
    services: list[ServiceSpec] = []
    for i, raw in enumerate(c.sequence(doc.get("services"), ("cluster", "services"))):
        path = place("services", i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, {"name", "namespace", "selector", "ports", "clusterIP"}, path)
        ports = c.sequence(item.get("ports"), (*path, "ports"), required=True)
        cluster_ip = c.text(item, "clusterIP", path)
        _check_ip(c, cluster_ip, (*path, "clusterIP"))
        services.append(
            ServiceSpec(
                name=c.text(item, "name", path),
                namespace=c.text(item, "namespace", path, default="voicehive"),
                selector=c.labels(item.get("selector"), (*path, "selector")),
                ports=tuple(p for p in ports if isinstance(p, dict)),
                cluster_ip=cluster_ip,
            )
        )
    accounts: list[ServiceAccountSpec] = []
    for i, raw in enumerate(c.sequence(doc.get("serviceAccounts"), ("cluster", "serviceAccounts"))):
        path = place("serviceAccounts", i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, {"name", "namespace", "tokenSecret"}, path)
        name = c.text(item, "name", path)
        accounts.append(
            ServiceAccountSpec(
                name=name,
                namespace=c.text(item, "namespace", path, default="voicehive"),
                token_secret=c.text(item, "tokenSecret", path, default=f"{name}-token"),
            )
        )
    objects: list[dict[str, Any]] = []
    for i, raw in enumerate(c.sequence(doc.get("objects"), ("cluster", "objects"))):
        obj = c.mapping(raw, place("objects", i))
        if obj:
            _check_manifest(c, obj, place("objects", i), namespaces)
            objects.append(obj)
    rbac_doc = doc.get("rbac")
    rbac: tuple[dict[str, Any], ...] | None = None
    if rbac_doc is not None:
        rules = c.sequence(rbac_doc, ("cluster", "rbac"), required=True)
        for i, rule in enumerate(rules):
            rule_map = c.mapping(rule, ("cluster", "rbac", i))
            if rule_map and not rule_map.get("verbs"):
                c.problem(("cluster", "rbac", i, "verbs"), "an RBAC rule needs verbs")
        rbac = tuple(r for r in rules if isinstance(r, dict))
    return (
        mesh,
        namespaces,
        tuple(pods),
        tuple(services),
        tuple(accounts),
        tuple(objects),
        rbac,
        istio_version,
    )


def _check_ip(c: _Checker, value: str, path: Path_) -> None:
    if not value:
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        c.problem(path, f"{value!r} is not an IP address")


def _check_manifest(
    c: _Checker, obj: dict[str, Any], path: Path_, namespaces: tuple[str, ...]
) -> None:
    """Schema-check a manifest as the drill API server will (its 422 is a bad scenario here)."""
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str):
            c.problem((*path, key), "is required")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        c.problem((*path, "metadata", "name"), "is required")
        return
    namespace = meta.get("namespace")
    if namespace is not None and namespace not in namespaces:
        c.problem(
            (*path, "metadata", "namespace"),
            f"namespace {namespace!r} is not in cluster.namespaces",
        )
    if not c.schemas:
        return
    try:
        from actions.drill.schemas import check_document
    except ImportError:  # the schema package arrives with the drill API server
        return
    for complaint in check_document(obj):
        c.problem(path, f"{obj.get('kind')} {meta.get('name')}: {complaint}")


FLOW_KEYS = {
    "id",
    "from",
    "to",
    "port",
    "protocol",
    "requests_per_second",
    "sent_bytes_per_second",
    "received_bytes_per_second",
    "active",
    "malicious",
    "driver",
    "log",
}


def _flows(
    value: list[Any], c: _Checker, pods: dict[tuple[str, str], PodSpec], where: Path_
) -> tuple[Flow, ...]:
    flows: list[Flow] = []
    ids: set[str] = set()
    for i, raw in enumerate(value):
        path: Path_ = (*where, i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, FLOW_KEYS, path)
        flow_id = c.text(item, "id", path)
        if flow_id and not _ITEM_ID.fullmatch(flow_id):
            c.problem((*path, "id"), f"flow id {flow_id!r}: {ITEM_ID_RULE}")
        elif flow_id in ids:
            c.problem((*path, "id"), f"flow id {flow_id!r} is used twice")
        ids.add(flow_id)
        source = c.mapping(item.get("from"), (*path, "from"))
        src_ns = str(source.get("namespace", "voicehive"))
        src_pod = str(source.get("pod", ""))
        if (src_ns, src_pod) not in pods:
            c.problem((*path, "from", "pod"), f"no pod {src_ns}/{src_pod} in cluster.pods")
        dest = c.mapping(item.get("to"), (*path, "to"))
        dest_pod = dest.get("pod")
        dest_ns = str(dest.get("namespace", "voicehive")) if dest_pod else None
        dest_ip = dest.get("ip")
        if bool(dest_pod) == bool(dest_ip):
            c.problem((*path, "to"), "give exactly one of pod (in the cluster) or ip (outside it)")
        if dest_pod and (dest_ns, dest_pod) not in pods:
            c.problem((*path, "to", "pod"), f"no pod {dest_ns}/{dest_pod} in cluster.pods")
        if dest_ip:
            _check_ip(c, str(dest_ip), (*path, "to", "ip"))
        protocol = c.text(item, "protocol", path, default="http", choices=("http", "grpc", "tcp"))
        logs = c.mapping(item.get("log"), (*path, "log"), required=False)
        c.unknown_keys(logs, {"ok", "failed"}, (*path, "log"))
        for key in ("ok", "failed"):
            if key in logs:
                c.text(logs, key, (*path, "log"))
        malicious = c.flag(item, "malicious", path, default=False)
        driver = item.get("driver")
        if driver is not None and not malicious:
            c.problem((*path, "driver"), "only a malicious flow belongs to an attack driver")
        flows.append(
            Flow(
                id=flow_id,
                source_pod=src_pod,
                source_namespace=src_ns,
                dest_pod=str(dest_pod) if dest_pod else None,
                dest_namespace=dest_ns,
                dest_ip=str(dest_ip) if dest_ip else None,
                dest_host=str(dest["host"]) if dest.get("host") else None,
                port=int(c.number(item, "port", path, positive=True)),
                protocol=protocol,
                requests_per_second=c.number(item, "requests_per_second", path, default=0.0),
                sent_bytes_per_second=c.number(item, "sent_bytes_per_second", path, default=0.0),
                received_bytes_per_second=c.number(
                    item, "received_bytes_per_second", path, default=0.0
                ),
                active=c.flag(item, "active", path, default=True),
                malicious=malicious,
                driver=str(driver) if driver is not None else None,
                log_ok=str(logs["ok"]) if logs.get("ok") else None,
                log_failed=str(logs["failed"]) if logs.get("failed") else None,
            )
        )
    return tuple(flows)


INJECT_COMMON = {"at", "id", "malicious", "repeat", "note", "driver"}
# The most plays (an inject and each of its repeats) a scenario may hold: the player lists
# every play up front, and `length: 100000000` with `repeat: {every: 0.001}` asked for 1e11
# of them (gigabytes, minutes before the first alert). The built-ins play a few hundred.
MAX_PLAYS = 100_000
_PLAYS_EPSILON = 1e-9  # as the player's: a repeat that lands on the length plays


def _seconds(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def inject_plays(at: float, every: float | None, times: int | None, length: float) -> int:
    """How many times an inject plays within the scenario's length (counted, not listed)."""
    if at > length + _PLAYS_EPSILON:
        return 0
    if every is None:
        return 1
    repeats = int((length - at + _PLAYS_EPSILON) // every) + 1
    return repeats if times is None else min(times, repeats)


def _injects(
    value: Any,
    c: _Checker,
    pods: tuple[PodSpec, ...],
    flows: tuple[Flow, ...],
    length: float,
    mesh: str,
    drivers: tuple[Driver, ...] = (),
) -> tuple[Inject, ...]:
    injects: list[Inject] = []
    ids: set[str] = set()
    pod_names = {(p.namespace, p.name) for p in pods}
    flow_ids = {f.id for f in flows}
    for i, raw in enumerate(c.sequence(value, ("injects",), required=True)):
        path: Path_ = ("injects", i)
        item = c.mapping(raw, path)
        if not item:
            continue
        kinds = [k for k in INJECT_KINDS if k in item]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            c.problem(
                path, f"an inject needs exactly one of {', '.join(INJECT_KINDS)} (found {found})"
            )
            continue
        kind = kinds[0]
        c.unknown_keys(item, INJECT_COMMON | {kind}, path)
        at = c.number(item, "at", path)
        if at > length:
            c.problem((*path, "at"), f"at {at:g} s is after the scenario's length ({length:g} s)")
        inject_id = str(item.get("id", f"{kind}-{i}"))
        if not _ITEM_ID.fullmatch(inject_id):
            c.problem((*path, "id"), f"inject id {inject_id!r}: {ITEM_ID_RULE}")
        elif inject_id in ids:
            c.problem((*path, "id"), f"inject id {inject_id!r} is used twice")
        ids.add(inject_id)
        repeat = c.mapping(item.get("repeat"), (*path, "repeat"), required=False)
        every = times = None
        if repeat:
            c.unknown_keys(repeat, {"every", "times"}, (*path, "repeat"))
            every = c.number(repeat, "every", (*path, "repeat"), positive=True)
            if "times" in repeat:
                times = int(c.number(repeat, "times", (*path, "repeat"), minimum=1))
        spec = c.mapping(item[kind], (*path, kind))
        _check_inject(kind, spec, (*path, kind), c, pod_names, flow_ids, mesh)
        note = item.get("note")
        malicious = c.flag(item, "malicious", path, default=False)
        driver = item.get("driver")
        if driver is not None and not malicious:
            c.problem((*path, "driver"), "only a malicious inject belongs to an attack driver")
        elif driver is not None and not any(d.id == driver for d in drivers):
            c.problem((*path, "driver"), f"no attack driver {driver!r} in attack.drivers")
        if malicious and driver is None and drivers:
            driver = drivers[0].id
        injects.append(
            Inject(
                index=i,
                id=inject_id,
                at=at,
                kind=kind,
                spec=spec,
                malicious=malicious,
                every=every,
                times=times,
                note=str(note) if note else None,
                driver=str(driver) if driver is not None else None,
            )
        )
    plays = {inject.index: inject_plays(inject.at, inject.every, inject.times, length)
             for inject in injects}
    if sum(plays.values()) > MAX_PLAYS:
        most = max(injects, key=lambda inject: plays[inject.index])
        c.problem(
            ("injects", most.index, "repeat"),
            f"inject {most.id!r} would play {plays[most.index]:,} times"
            + (f" (every {most.every:g} s over {_seconds(length)} s)" if most.every else "")
            + f", {sum(plays.values()):,} plays in all: "
            f"a scenario plays at most {MAX_PLAYS:,} (repeat it less often, give it "
            "`times`, or shorten `length`)",
        )
    return tuple(injects)


FALCO_KEYS = {
    "rule",
    "priority",
    "tags",
    "output",
    "source",
    "pod",
    "namespace",
    "remote",
    "fields",
}


def _check_inject(
    kind: str,
    spec: dict[str, Any],
    path: Path_,
    c: _Checker,
    pods: set[tuple[str, str]],
    flows: set[str],
    mesh: str,
) -> None:
    if kind == "falco":
        c.unknown_keys(spec, FALCO_KEYS, path)
        rule = c.text(spec, "rule", path)
        known = RULES.get(rule)
        if known is None and not spec.get("output"):
            c.problem(
                (*path, "rule"),
                f"unknown Falco rule {rule!r}: give priority, tags and output for a custom "
                f"rule, or use one of the stock rules ({len(RULES)} known, see docs/scenarios.md)",
            )
        if "priority" in spec and priority_spelling(str(spec["priority"])) is None:
            c.problem((*path, "priority"), f"{spec['priority']!r} is not a Falco priority")
        namespace = str(spec.get("namespace", "voicehive"))
        if (namespace, str(spec.get("pod"))) not in pods:
            c.problem(
                (*path, "pod"),
                f"no pod {namespace}/{spec.get('pod')} in cluster.pods "
                "(the pod the alert is about)",
            )
        if "remote" in spec:
            _check_remote(c, spec["remote"], (*path, "remote"))
        c.mapping(spec.get("fields"), (*path, "fields"), required=False)
    elif kind == "event":
        c.unknown_keys(
            spec, {"namespace", "object", "type", "reason", "message", "component", "count"}, path
        )
        c.text(spec, "reason", path)
        c.text(spec, "message", path)
        c.text(spec, "type", path, default="Warning", choices=("Normal", "Warning"))
        obj = c.mapping(spec.get("object"), (*path, "object"))
        if obj:
            c.text(obj, "kind", (*path, "object"))
            c.text(obj, "name", (*path, "object"))
    elif kind == "dns":
        c.unknown_keys(
            spec,
            {"client_pod", "namespace", "query", "type", "rcode", "proto", "answer_size"},
            path,
        )
        namespace = str(spec.get("namespace", "voicehive"))
        if (namespace, str(spec.get("client_pod"))) not in pods:
            c.problem(
                (*path, "client_pod"),
                f"no pod {namespace}/{spec.get('client_pod')} in cluster.pods",
            )
        query = c.text(spec, "query", path)
        if query and not query.endswith("."):
            c.problem(
                (*path, "query"), "CoreDNS logs fully qualified names: end the query with a dot"
            )
    elif kind == "log":
        c.unknown_keys(spec, {"namespace", "pod", "container", "line"}, path)
        namespace = str(spec.get("namespace", "voicehive"))
        if (namespace, str(spec.get("pod"))) not in pods:
            c.problem((*path, "pod"), f"no pod {namespace}/{spec.get('pod')} in cluster.pods")
        c.text(spec, "line", path)
    elif kind == "apply":
        c.unknown_keys(spec, {"object"}, path)
        obj = c.mapping(spec.get("object"), (*path, "object"))
        if obj:
            _check_manifest(
                c,
                obj,
                (*path, "object"),
                tuple({ns for ns, _ in pods} | {"voicehive", "istio-system"}),
            )
    elif kind == "delete":
        c.unknown_keys(spec, {"apiVersion", "kind", "namespace", "name"}, path)
        for key in ("apiVersion", "kind", "name"):
            c.text(spec, key, path)
    elif kind == "syncz":
        c.unknown_keys(spec, {"proxy", "status"}, path)
        if mesh != "istio":
            c.problem(path, f"syncz injects need mesh: istio (this cluster's mesh is {mesh})")
        c.text(spec, "proxy", path)
        c.text(spec, "status", path, choices=SYNC_STATES)
    elif kind == "traffic":
        c.unknown_keys(
            spec,
            {
                "flow",
                "active",
                "requests_per_second",
                "sent_bytes_per_second",
                "received_bytes_per_second",
                "response_code",
                "response_flags",
            },
            path,
        )
        flow = c.text(spec, "flow", path)
        if flow and flow not in flows:
            c.problem((*path, "flow"), f"no flow {flow!r} in traffic")


def _check_remote(c: _Checker, value: Any, path: Path_) -> None:
    text = str(value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        c.problem(path, f"expected IP:PORT, got {text!r}")
        return
    _check_ip(c, host, path)


def _answer_key(value: Any, c: _Checker, injects: tuple[Inject, ...]) -> AnswerKey:
    path: Path_ = ("answer_key",)
    doc = c.mapping(value, path)
    c.unknown_keys(
        doc,
        {"severity", "decision", "containment", "targets", "steps", "clock_starts", "explanation"},
        path,
    )
    containment = []
    for i, raw in enumerate(c.sequence(doc.get("containment"), (*path, "containment"))):
        item = c.mapping(raw, (*path, "containment", i))
        if item:
            containment.append(
                Containment(
                    action=c.text(
                        item, "action", (*path, "containment", i), choices=CONTAINMENT_ACTIONS
                    ),
                    target=c.text(item, "target", (*path, "containment", i)),
                )
            )
    targets_doc = c.mapping(doc.get("targets"), (*path, "targets"), required=False)
    c.unknown_keys(targets_doc, set(RUNBOOK_TARGETS), (*path, "targets"))
    targets = {
        key: c.number(targets_doc, key, (*path, "targets"), default=default, positive=True)
        for key, default in RUNBOOK_TARGETS.items()
    }
    from actions.drill.score import RUNBOOK_STEPS

    steps = tuple(str(s) for s in c.sequence(doc.get("steps"), (*path, "steps")))
    for i, step in enumerate(steps):
        if step not in RUNBOOK_STEPS:
            c.problem(
                (*path, "steps", i),
                f"unknown runbook step {step!r} (known: {', '.join(RUNBOOK_STEPS)})",
            )
    clock_starts = doc.get("clock_starts")
    if clock_starts is not None and clock_starts not in {i.id for i in injects}:
        c.problem((*path, "clock_starts"), f"no inject with id {clock_starts!r}")
    return AnswerKey(
        severity=c.text(doc, "severity", path, choices=SEVERITIES),
        decision=c.text(doc, "decision", path, choices=DECISIONS),
        containment=tuple(containment),
        targets=targets,
        steps=steps,
        clock_starts=str(clock_starts) if clock_starts else None,
        explanation=str(doc.get("explanation", "")),
    )


# --- exec: what `kubectl exec` prints ------------------------------------------------

EXEC_KEYS = {"pod", "pods", "namespace", "container", "command", "match", "stdout", "stderr",
             "exit", "driver"}


def _exec_scripts(
    value: Any, c: _Checker, namespaces: tuple[str, ...], where: Path_,
    drivers: tuple[Driver, ...] = (),
) -> tuple[ExecScript, ...]:
    """An `exec:` section: each entry answers one command in the pods it names."""
    scripts = []
    for i, raw in enumerate(c.sequence(value, where)):
        path: Path_ = (*where, i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, EXEC_KEYS, path)
        namespace = c.text(item, "namespace", path, default="voicehive")
        if namespace and namespace not in namespaces:
            c.problem((*path, "namespace"), f"namespace {namespace!r} is not in cluster.namespaces")
        if ("pod" in item) == ("pods" in item) or item.get("pods") == {}:
            c.problem(path, "give exactly one of pod (a name) or pods (labels, e.g. app: x)")
        if ("command" in item) == ("match" in item):
            c.problem(path, "give exactly one of command (the argv joined by spaces) or match "
                            "(a regular expression)")
        match = c.text(item, "match", path) if "match" in item else None
        if match:
            try:
                re.compile(match)
            except re.error as error:
                c.problem((*path, "match"), f"not a regular expression: {error}")
        driver = c.text(item, "driver", path) if "driver" in item else None
        if driver and not any(d.id == driver for d in drivers):
            c.problem((*path, "driver"), f"no attack driver {driver!r} in attack.drivers")
        exit_code = c.number(item, "exit", path, default=0)
        if exit_code != int(exit_code) or exit_code > 255:
            c.problem((*path, "exit"), "an exit code is a whole number from 0 to 255")
        outputs = {}
        for key in ("stdout", "stderr"):
            text = item.get(key, "")
            if not isinstance(text, str):
                c.problem((*path, key), f"expected text, got {type_name(text)}")
                text = ""
            outputs[key] = text
        scripts.append(ExecScript(
            namespace=namespace,
            pod=c.text(item, "pod", path) if "pod" in item else None,
            pods=c.labels(item.get("pods"), (*path, "pods")) if "pods" in item else None,
            container=c.text(item, "container", path) if "container" in item else None,
            command=c.text(item, "command", path) if "command" in item else None,
            match=match,
            stdout=outputs["stdout"],
            stderr=outputs["stderr"],
            exit_code=int(exit_code),
            driver=driver,
        ))
    return tuple(scripts)
