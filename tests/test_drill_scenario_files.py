"""Hostile scenario files: alias bombs, huge files and `base:` paths are refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.drill.scenario import MAX_FILE_BYTES, ScenarioError, load_scenario, parse_scenario
from tests.test_drill_scenarios_errors import GOOD


def alias_bomb(levels: int, fan_out: int = 9) -> str:
    """The "billion laughs" in `cluster.objects`: each level lists the previous one 9 times."""
    lines = ["    - &l0 {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {k: lol}}"]
    for level in range(1, levels + 1):
        lines.append(f"    - &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    return GOOD.replace("  base: voicehive-istio\n", "  base: voicehive-istio\n  objects:\n"
                        + "\n".join(lines) + "\n")  # fmt: skip


def refusal(text: str, tmp_path: Path) -> str:
    path = tmp_path / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value)


def test_the_alias_bomb_of_the_finding_is_refused_before_it_grows(tmp_path: Path) -> None:
    text = alias_bomb(9)  # 9**9 ConfigMaps once expanded, from under a kilobyte
    assert len(text.encode()) - len(GOOD.encode()) < 800
    message = refusal(text, tmp_path)
    assert "aliases expand it to more than 200,000 values (an alias bomb?)" in message


def test_a_small_bomb_is_refused_too(tmp_path: Path) -> None:
    # 9**6 = 531,441 values: today's loader builds it (slowly) instead of refusing it.
    assert "alias bomb" in refusal(alias_bomb(6), tmp_path)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("title: A custom drill", "title: A custom drill\nloop: &loop [*loop]")
    assert "recursive alias" in refusal(text, tmp_path)


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    text = GOOD.replace(
        "answer_key:\n  severity: P1",
        "answer_key:\n  <<: &key {severity: P1}",
    ).replace("title: A custom drill", "title: &title A custom drill\ndescription: *title")
    scenario = parse_scenario(text)
    assert scenario.answer_key.severity == "P1"


def test_a_file_too_big_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    text = GOOD + "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    assert "larger than 1024 KiB" in refusal(text, tmp_path)


def test_something_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(tmp_path)


SECRET_KEYS = "users:\n- name: admin\n  user: {token: s3cr3t-t0ken}\ncurrent-context: prod\n"


@pytest.mark.parametrize(
    "base",
    ["{outside}", "../outside/config.yaml", "sub/../../outside/config.yaml", "./../outside/x",
     "link.yaml"],
)  # fmt: skip
def test_base_is_only_a_builtin_or_a_file_beside_the_scenario(tmp_path: Path, base: str) -> None:
    outside = tmp_path / "outside" / "config.yaml"
    outside.parent.mkdir()
    outside.write_text(SECRET_KEYS)
    folder = tmp_path / "drills"
    folder.mkdir()
    (folder / "link.yaml").symlink_to(outside)  # beside it by name, elsewhere in fact
    text = GOOD.replace("base: voicehive-istio", f"base: {base.format(outside=outside)!r}")
    message = refusal(text, folder)
    assert "base" in message
    for leaked in ("users", "current-context", "s3cr3t", "admin"):
        assert leaked not in message


def test_a_base_beside_the_scenario_is_used(tmp_path: Path) -> None:
    (tmp_path / "my-base.yaml").write_text("base: voicehive-istio\nnamespaces: [extra]\n")
    path = tmp_path / "drill.yaml"
    path.write_text(GOOD.replace("base: voicehive-istio", "base: my-base.yaml"))
    scenario = load_scenario(path)
    assert scenario.mesh == "istio"
    assert scenario.pod("orchestrator-6f8d9c7b5d-k2x9p") is not None


def test_the_built_in_names_are_listed_from_a_zipped_install_too(tmp_path: Path) -> None:
    """`builtin_names` lists the files beside it (no importlib.resources before the first
    frame), and still lists them where the package is read from a zip archive."""
    import subprocess
    import sys
    import zipfile

    import actions
    from actions.drill.scenarios import builtin_names

    package = Path(actions.__file__).parent
    archive = tmp_path / "warroom.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in ("__init__.py", "drill/__init__.py", "drill/scenarios/__init__.py",
                     "drill/scenarios/dns-exfiltration.yaml"):
            zipped.write(package / part, f"actions/{part}")
    listed = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from actions.drill.scenarios import builtin_names; print(builtin_names())",
         str(archive)],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    assert listed.stdout.strip() == "['dns-exfiltration']"
    assert "dns-exfiltration" in builtin_names()
