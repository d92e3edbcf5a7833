"""`warroom --version`: the installed distribution's version, from its metadata."""

from __future__ import annotations

from importlib import metadata

import pytest

from tui.cli.main import main


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"warroom {metadata.version('warroom')}\n"
