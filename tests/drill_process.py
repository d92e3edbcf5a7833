"""`warroom drill --serve-only` in a subprocess, and another terminal that talks to it.

A `DrillProcess` starts the drill as a user does and reads its banner. The test's
own process is the other terminal: `run(...)` calls the `warroom` command line
(`tui.cli.main.main`, what the console script runs) in it, its output captured,
for `drill control ...`, `act`, `incidents`, `export`; the environment names the
drill's control socket (`$WARROOM_DRILL_CONTROL`, set by the autouse fixture).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.plugins.drill import kubeconfig_client

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = "import sys; from tui.cli import main; sys.exit(main.main(sys.argv[1:]))"


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def warroom(*args: str) -> Ran:
    """`warroom ARGS` in this process, as its console script runs it; what it printed."""
    from tui.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exited:  # argparse's usage errors
            code = exited.code if isinstance(exited.code, int) else 2
    return Ran(code, out.getvalue(), err.getvalue())


class DrillProcess:
    """One drill in a subprocess; `close()` (or the context manager) ends it."""

    def __init__(self, args: list[str], kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("KUBECONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        self.banner: dict[str, str] = {}
        self.said: list[str] = []  # the drill's stdout so far, line by line
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        for line in self.process.stdout:
            self.said.append(line)
            if ":" in line and not line.startswith(" "):
                key, _, value = line.partition(":")
                self.banner.setdefault(key.strip(), value.strip())
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise AssertionError(f"the drill did not start: {self.process.stderr.read()}")

    def control(self, *args: str) -> Ran:
        return warroom("drill", "control", *args)

    def control_json(self, *args: str) -> dict[str, Any]:
        result = self.control(*args, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.control_json("status")["status"]
        return status

    def get(self, path: str) -> str:
        """GET a path of the drill's API server with its kubeconfig's credentials."""
        import urllib.request

        headers, tls = kubeconfig_client(self.kubeconfig)
        request = urllib.request.Request(self.banner["API server"] + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10, context=tls) as response:
            return str(response.read().decode("utf-8"))

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: its exit code, all its stdout, and its stderr."""
        self.process.send_signal(signal.SIGINT)
        return self.ended()

    def ended(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, "".join(self.said) + out, err

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)

    def __enter__(self) -> DrillProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
