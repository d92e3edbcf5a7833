"""The built-in drill scenarios (data: one YAML file each, format in `actions.drill.scenario`)."""

from __future__ import annotations

from importlib import resources


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in the package, sorted.

    Here, beside the files, rather than in `actions.drill.scenario`: `warroom drill` knows
    a built-in's name before it imports the parser (see `tui.cli.cmd_drill`)."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".yaml") and not entry.name.startswith("_")
    )
