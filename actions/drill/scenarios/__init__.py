"""The built-in drill scenarios (data: one YAML file each, format in `actions.drill.scenario`)."""

from __future__ import annotations

from pathlib import Path


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in the package, sorted.

    Here, beside the files, rather than in `actions.drill.scenario`: `warroom drill` knows
    a built-in's name before it imports the parser (see `tui.cli.cmd_drill`). Installed as
    files (setuptools package-data), they are listed without importlib.resources, whose
    import and traversal took ~5 ms of `warroom drill`'s first frame (bench/drill_launch.py).
    """
    folder = Path(__file__).parent
    if folder.is_dir():
        names = [entry.name for entry in folder.iterdir()]
    else:  # imported from a zip archive: only importlib.resources reads it
        from importlib import resources

        names = [entry.name for entry in resources.files(__name__).iterdir()]
    return sorted(
        name.removesuffix(".yaml")
        for name in names
        if name.endswith(".yaml") and not name.startswith("_")
    )
