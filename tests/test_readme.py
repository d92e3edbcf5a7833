"""The README's promises: two newcomer commands, CI runs the second, the config example is real."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_readme_opens_with_exactly_two_commands() -> None:
    language, body = code_blocks(README)[0]
    commands = body.strip().splitlines()
    assert language == "sh"
    assert len(commands) == 2
    assert commands[0].endswith("warroom drill")
    assert "pytest" in commands[1]
    assert "[test]" in commands[1]


def test_ci_runs_the_readmes_test_command() -> None:
    extract = "awk '/^```/{block++; next} block==1{print}' README.md | sed -n 2p"
    line = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True)
    assert line.stdout.strip() == code_blocks(README)[0][1].strip().splitlines()[1]
    assert extract in (ROOT / ".ci" / "run").read_text()


def test_the_readmes_config_example_is_the_shipped_one() -> None:
    toml_blocks = [body for language, body in code_blocks(README) if language == "toml"]
    example = (ROOT / "docs" / "config.example.toml").read_text(encoding="utf-8")
    assert toml_blocks == [example if example.endswith("\n") else example + "\n"]
