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


def commands_block() -> str:
    (body,) = [body for language, body in code_blocks(README)
               if body.startswith("warroom [--db PATH]")]
    return body


def test_the_command_list_names_every_command_and_each_ones_options() -> None:
    from tui.cli.main import CommandParser, build_parser

    listed = commands_block()
    parser = build_parser()
    assert "warroom --version" in listed
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        assert re.search(rf"(^  |\| ){name}\b", listed, flags=re.MULTILINE), name
        if name in ("review", "drill"):  # the options a user types, beside the shared ones
            assert isinstance(sub, CommandParser)
            for action in sub.load()._actions:
                for option in action.option_strings:
                    if option.startswith("--") and option != "--help":
                        assert option in listed, f"{name} {option}"


def test_every_benchmark_is_in_the_readme_with_what_it_measures() -> None:
    benches = sorted(path.name for path in (ROOT / "bench").glob("*.py")
                     if '__name__ == "__main__"' in path.read_text(encoding="utf-8"))
    assert "review.py" in benches
    for name in benches:
        line = re.search(rf"^\.venv/bin/python bench/{name}\b.*# .+$", README, flags=re.MULTILINE)
        assert line or f"`bench/{name}`" in README, name


def test_the_readme_says_how_to_install_warroom_as_an_isolated_tool() -> None:
    assert "pipx install ." in README
    assert "uv tool install ." in README
    assert "`tui`, `actions` and `store`" in README
