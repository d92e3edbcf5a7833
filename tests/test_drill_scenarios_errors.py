"""Bad scenario files: a clear error naming the file, the place in it and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actions.drill.scenario import ScenarioError, load_scenario
from actions.drill.session import DrillSession

GOOD = """\
name: custom
title: A custom drill
class: P1
length: 300
cluster:
  base: voicehive-istio
injects:
  - at: 10
    id: first
    malicious: true
    falco:
      rule: Contact K8S API Server From Container
      pod: orchestrator-6f8d9c7b5d-k2x9p
      remote: 10.96.0.1:443
answer_key:
  severity: P1
  decision: active-attack
  containment:
    - {action: isolate, target: orchestrator}
  steps: [acknowledge, isolate]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> ScenarioError:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_a_good_custom_file_loads_on_a_builtin_base(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.name == "custom"
    assert scenario.mesh == "istio"
    assert scenario.pod("orchestrator-6f8d9c7b5d-k2x9p") is not None
    assert scenario.answer_key.targets == {"mttd": 300.0, "mttc": 900.0, "mttr": 7200.0}
    first = scenario.first_clock_inject()
    assert first is not None
    assert first.id == "first"


def test_unknown_rule_names_the_path_and_line(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, GOOD.replace("Contact K8S API Server From Container", "Contact K8s API")
    )
    assert len(error.problems) == 1
    assert error.problems[0].startswith(
        "injects[0].falco.rule (line 12): unknown Falco rule 'Contact K8s API'"
    )


def test_yaml_syntax_errors_say_where(tmp_path: Path) -> None:
    error = problems_of(tmp_path, GOOD.replace("  - at: 10\n", "  - at: 10\n   bad: [\n"))
    assert "not valid YAML" in str(error)
    assert "line" in str(error)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("class: P1", "class: P5"), "class (line 3): 'P5' is not one of P0, P1, P2, P3"),
        (("name: custom\n", ""), "name (line 1): is required"),
        (("length: 300", "length: soon"), "length (line 4): expected a number, got text"),
        (
            ("pod: orchestrator-6f8d9c7b5d-k2x9p", "pod: orchestrator-gone"),
            "injects[0].falco.pod (line 13): no pod voicehive/orchestrator-gone in cluster.pods",
        ),
        (
            ("remote: 10.96.0.1:443", "remote: 10.96.0.300:443"),
            "injects[0].falco.remote (line 14): '10.96.0.300' is not an IP address",
        ),
        (
            ("  - at: 10\n", "  - at: 400\n"),
            "injects[0].at (line 8): at 400 s is after the scenario's length (300 s)",
        ),
        (
            ("decision: active-attack", "decision: panic"),
            "answer_key.decision (line 17): 'panic' is not one of",
        ),
        (
            ("steps: [acknowledge, isolate]", "steps: [acknowledge, pray]"),
            "answer_key.steps[1] (line 20): unknown runbook step 'pray'",
        ),
        (
            ("base: voicehive-istio", "base: no-such-base"),
            "cluster.base (line 6): no base cluster 'no-such-base'",
        ),
        (
            ("title: A custom drill", "title: A custom drill\ntitel: typo"),
            "titel (line 3): unknown key (did you mean 'title'?)",
        ),
        (
            ("    falco:\n", "    flaco:\n"),
            "injects[0] (line 8): an inject needs exactly one of falco, event, dns",
        ),
        (  # the drill strip showed the id raw: ESC[2J cleared the facilitator's terminal
            ("id: first", 'id: "first\\e[2J"'),
            "injects[0].id (line 9): inject id 'first\\x1b[2J': letters, digits and _ . : -",
        ),
    ],
)
def test_each_mistake_is_reported_in_place(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    assert change[0] in GOOD
    error = problems_of(tmp_path, GOOD.replace(*change))
    assert any(expected in problem for problem in error.problems), error.problems


def test_invalid_manifests_get_the_schema_complaint(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  base: voicehive-istio\n",
        """\
  base: voicehive-istio
  objects:
    - apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: broken, namespace: voicehive}
      spec:
        podSelector: {}
        egress:
          - to:
              - ipBlock: {cidr: 0.0.0.0/0, excpet: [10.0.0.0/8]}
""",
    )
    error = problems_of(tmp_path, text)
    assert any(
        p.startswith(
            "cluster.objects[0] (line 8): NetworkPolicy broken: spec.egress[0].to[0].ipBlock"
        )
        and "'excpet' was unexpected" in p
        for p in error.problems
    ), error.problems


def test_trusting_builtins_still_checks_a_file_in_full(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  base: voicehive-istio\n",
        "  base: voicehive-istio\n  objects:\n    - apiVersion: v1\n      kind: Pod\n"
        "      metadata: {name: p, namespace: voicehive}\n      spec: {containerz: []}\n",
    )
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match="containerz"):
        load_scenario(path, trust_builtins=True)


def test_a_trusted_builtin_is_the_same_scenario_without_importing_the_schemas() -> None:
    """`warroom drill` trusts the built-ins (the suite checks them): no jsonschema at startup."""
    script = (
        "import sys; from actions.drill.scenario import builtin_names, load_scenario\n"
        "trusted = [load_scenario(n, trust_builtins=True) for n in builtin_names()]\n"
        "print('jsonschema' in sys.modules)\n"
        "print(trusted == [load_scenario(n) for n in builtin_names()])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.split() == ["False", "True"], done.stdout + done.stderr


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("class: P1", "class: P9").replace(
        "decision: active-attack", "decision: maybe"
    )
    error = problems_of(tmp_path, text)
    assert len(error.problems) == 2


def test_missing_files_and_unknown_names_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file, and no built-in scenario of that name"):
        load_scenario(str(tmp_path / "nope.yaml"))
    with pytest.raises(ScenarioError, match="the document must be a mapping"):
        load_scenario(write(tmp_path, "- just\n- a list\n"))


def test_hostile_values_are_data(tmp_path: Path) -> None:
    text = GOOD.replace(
        "remote: 10.96.0.1:443",
        "remote: 10.96.0.1:443\n"
        '      fields: {proc.cmdline: "[red]x\\x1b]52;c;aGk=\\x07 $(rm -rf /)"}',
    )
    scenario = load_scenario(write(tmp_path, text))
    assert (
        scenario.injects[0].spec["fields"]["proc.cmdline"] == "[red]x\x1b]52;c;aGk=\x07 $(rm -rf /)"
    )


async def test_an_attack_ended_by_a_missing_secret_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "injects:\n",
        "attack:\n  drivers:\n    - id: token\n      ends_when:\n"
        "        - secret_deleted: {name: no-such-token}\n"
        "injects:\n",
    )
    session = DrillSession(load_scenario(write(tmp_path, text)), serve=False)
    with pytest.raises(ScenarioError) as caught:
        await session.start()
    await session.stop()
    assert caught.value.problems == [
        "attack.drivers[0].ends_when[0]: no Secret voicehive/no-such-token in the starting cluster"
    ]


@pytest.mark.parametrize(
    ("attack", "problem"),
    [
        (
            "attack:\n  eradicated_when:\n    - deleted: {kind: Secret, name: x}\n",
            "attack.eradicated_when (line 9): replaced by attack.drivers",
        ),
        (
            "attack:\n  drivers:\n    - id: sa\n      ends_when:\n        - annotated: "
            "{kind: ServiceAccount, name: orchestrator, key: security.voicehive.io/disabled}\n",
            "an annotation ends nothing on a real cluster",
        ),
        (
            "attack:\n  drivers:\n    - id: img\n      ends_when:\n        - image_gone: "
            "{app: orchestrator, image: registry.example.com/other:1}\n",
            "no pod of app=orchestrator in voicehive runs registry.example.com/other:1",
        ),
    ],
)
def test_an_attack_must_end_by_what_really_stops_it(
    tmp_path: Path, attack: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, GOOD.replace("injects:\n", attack + "injects:\n")))
    assert any(problem in p for p in caught.value.problems), caught.value.problems
