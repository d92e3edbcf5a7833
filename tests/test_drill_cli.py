"""`warroom scenarios` and `warroom drill` as a user runs them; real kubectl against the drill."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.drill import RUNBOOK_ISOLATION_POLICY, kubeconfig_client
from tests.plugins.waiting import wait_for

KUBECTL = Path(sys.executable).parent / "kubectl"
REPO = Path(__file__).resolve().parent.parent

# The real entry point, as the `warroom` console script runs it.
LAUNCHER = """
import sys
from tui.cli import main
sys.exit(main.main(sys.argv[1:]))
"""

TINY = """\
name: tiny-cli
title: A short drill for the command line
class: P2
length: 20
cluster:
  base: voicehive-istio
injects:
  - {at: 5, id: one, malicious: true, log: {pod: orchestrator-6f8d9c7b5d-k2x9p, line: hello}}
  - at: 10
    id: two
    event:
      object: {kind: Pod, name: orchestrator-6f8d9c7b5d-k2x9p}
      reason: BackOff
      message: Back-off restarting failed container
answer_key: {severity: P2, decision: misconfiguration}
"""


def warroom_command(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, *args]


@pytest.fixture
def cli_env(tmp_path: Path, record_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), WARROOM_DB=str(record_path), PYTHONPATH=str(REPO))
    env.pop("KUBECONFIG", None)
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_scenarios_lists_every_builtin_as_json_and_text(cli_env: dict[str, str]) -> None:
    result = run(warroom_command("scenarios", "--json"), cli_env)
    assert result.returncode == 0, result.stderr
    scenarios = json.loads(result.stdout)
    by_name = {s["name"]: s for s in scenarios}
    assert by_name["dns-exfiltration"]["class"] == "P0"
    assert by_name["network-policy-drift"]["class"] == "P2"
    assert by_name["network-policy-drift"]["mesh"] == "linkerd"
    assert by_name["false-positive-leader-election"]["severity"] == "P3"
    assert {s["class"] for s in scenarios} == {"P0", "P1", "P2", "P3"}
    assert all(s["length_seconds"] > 0 and s["injects"] > 0 for s in scenarios)
    text = run(warroom_command("scenarios"), cli_env)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "SEVERITY", "LENGTH", "MESH", "TITLE"]
    row = next(line for line in lines if line.startswith("dns-exfiltration "))
    assert row.split()[:5] == ["dns-exfiltration", "P0", "P0", "20m", "istio"]


def played_at(out: str, what: str) -> int:
    """The scenario second printed before `what` (`[MM:SS] what`); fails if it is not out."""
    match = re.search(r"^\[(\d\d):(\d\d)\] " + re.escape(what) + "$", out, re.MULTILINE)
    assert match, f"{what!r} not in:\n{out}"
    return int(match.group(1)) * 60 + int(match.group(2))


def test_drill_prints_what_happens_and_ends(tmp_path: Path, cli_env: dict[str, str]) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    result = run(
        warroom_command(
            "drill", str(scenario), "--speed", "50", "--kubeconfig-out", str(tmp_path / "kc")
        ),
        cli_env,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "drill: tiny-cli (P2) - A short drill for the command line" in out
    assert f"export KUBECONFIG={tmp_path / 'kc'}" in out
    # Each line says the scenario time it was played at: its own time, or later when the
    # machine was busy (at x50 a 20 ms stall is a second of the scenario).
    assert played_at(out, "inject     log line in orchestrator-6f8d9c7b5d-k2x9p") >= 5
    assert played_at(
        out, "inject     Warning event BackOff on pod/orchestrator-6f8d9c7b5d-k2x9p") >= 10
    assert played_at(out, "end        drill over: the scenario has ended") >= 20
    times = [line[:7] for line in out.splitlines() if re.match(r"\[\d\d:\d\d\] ", line)]
    assert times == sorted(times), "the events are printed in the order they were played"
    assert "no drill incident was opened in the record during the drill" in out
    assert "drill cluster stopped" in result.stderr


def test_a_db_that_is_not_a_record_is_refused_before_the_drill_plays(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """It played the whole drill and then said "(no score: cannot open the record ...)"."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 300)
    result = run(warroom_command("--db", str(notes), "drill", str(scenario), "--no-console"),
                 cli_env, timeout=30)
    assert result.returncode == 1
    assert "not a warroom record" in result.stderr
    assert "drill:" not in result.stdout  # nothing played
    assert notes.read_text() == "not a database at all\n" * 300


def test_bad_scenarios_and_arguments_are_refused(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("class: P2", "class: P7"), encoding="utf-8")
    result = run(warroom_command("drill", str(bad)), cli_env)
    assert result.returncode == 1
    assert f"invalid scenario {bad}" in result.stderr
    assert "class (line 3): 'P7' is not one of P0, P1, P2, P3" in result.stderr
    assert result.stdout == ""
    for speed in ("0", "1000", "nan"):  # the console's range, the control's too
        result = run(warroom_command("drill", "--speed", speed), cli_env)
        assert result.returncode == 2
        assert "--speed: the speed must be a number from 0.5 to 60" in result.stderr
    result = run(warroom_command("drill", "no-such-scenario"), cli_env)
    assert result.returncode == 1
    assert "no built-in scenario of that name" in result.stderr


class ServedDrill:
    """`warroom drill --serve-only` in the background, and kubectl pointed at it."""

    def __init__(
        self, process: subprocess.Popen[str], env: dict[str, str], banner: dict[str, str]
    ) -> None:
        self.process = process
        self.env = env
        self.banner = banner

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def counter(self, query: str) -> float:
        url = (
            self.banner["Prometheus"] + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
        )
        headers, tls = kubeconfig_client(Path(self.banner["kubeconfig"]))
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=10, context=tls) as response:
            body = json.loads(response.read())
        assert body["status"] == "success"
        return sum(float(r["value"][1]) for r in body["data"]["result"])


@pytest.fixture
def served(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[ServedDrill]:
    kubeconfig = tmp_path / "drill" / "kubeconfig"
    process = subprocess.Popen(
        warroom_command(
            "drill", "--serve-only", "--speed", "60", "--kubeconfig-out", str(kubeconfig)
        ),
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    banner: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if ":" in line and not line.startswith(" "):
                key, _, value = line.partition(":")
                banner[key.strip()] = value.strip()
            if line.startswith("Press Ctrl-C"):
                break
        assert "Press Ctrl-C to stop" in "".join(f"{k}: {v}" for k, v in banner.items()) or banner
        env = dict(cli_env, KUBECONFIG=str(kubeconfig))
        yield ServedDrill(process, env, banner)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_only_runs_the_runbook_commands_and_reacts(served: ServedDrill) -> None:
    assert served.banner["kubeconfig"].endswith("kubeconfig")
    assert Path(served.banner["kubeconfig"]).stat().st_mode & 0o077 == 0
    pods = served.kubectl("get", "pods", "-n", "voicehive", "-o", "name")
    assert pods.returncode == 0, pods.stderr
    assert "pod/orchestrator-6f8d9c7b5d-k2x9p" in pods.stdout.split()

    # The alert and the tunnel appear as the scenario plays (first at 45 s, i.e. 0.45 s at x100).
    wait_for(
        lambda: (
            "Network tool launched in container"
            in served.kubectl("logs", "-n", "falco-system", "-l", "app=falco", "--tail=100").stdout
        ),
        "the scenario's first Falco alert",
    )
    dns = served.kubectl("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--tail=50")
    assert ".s1.cdn-telemetry.example.net. udp" in dns.stdout

    requests = (
        'sum(istio_requests_total{reporter="destination",'
        'destination_app="orchestrator",response_code="200"})'
    )
    assert served.counter(requests) > 0  # hours of history, scraped like a real Prometheus

    def tunnel_queries() -> int:
        logs = served.kubectl("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--tail=-1")
        return logs.stdout.count(".s1.cdn-telemetry.example.net. udp")

    applied = served.kubectl("apply", "-f", "-", stdin=RUNBOOK_ISOLATION_POLICY)
    assert applied.returncode == 0, applied.stderr
    # NetworkPolicies add up: external-api-segmentation still allows the orchestrator's DNS,
    # so the runbook's deny-all alone does not stop the tunnel (real-cluster semantics).
    seen = tunnel_queries()
    wait_for(lambda: tunnel_queries() > seen, "a DNS tunnel query after the isolation")
    audit = served.kubectl(
        "get", "events", "-n", "voicehive", "--field-selector", "reason=NetworkPolicyUpdated"
    )
    assert "NetworkPolicy emergency-isolation-1764234000 created" in audit.stdout

    patched = served.kubectl(
        "patch",
        "networkpolicy",
        "external-api-segmentation",
        "-n",
        "voicehive",
        "--type=json",
        '-p=[{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", '
        '"value": "203.0.113.66/32"}]',
    )
    assert patched.returncode == 0, patched.stderr
    excepts = served.kubectl(
        "get",
        "networkpolicy",
        "external-api-segmentation",
        "-n",
        "voicehive",
        "-o",
        "jsonpath={.spec.egress[0].to[0].ipBlock.except}",
    )
    assert "203.0.113.66/32" in excepts.stdout

    deleted = served.kubectl("delete", "networkpolicy", "-l", "emergency=true", "-n", "voicehive")
    assert deleted.returncode == 0, deleted.stderr
    assert "emergency-isolation-1764234000" in deleted.stdout

    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(15) == 0
    assert served.process.stderr is not None
    assert "drill cluster stopped" in served.process.stderr.read()


def test_a_scenario_that_would_play_too_often_is_refused_before_it_expands(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """`length: 100000000` with a repeat every 0.001 s hung `drill` with gigabytes of plays."""
    flood = tmp_path / "flood.yaml"
    flood.write_text(
        TINY.replace("length: 20", "length: 100000000").replace(
            "{at: 5, id: one,", "{at: 5, id: one, repeat: {every: 0.001},"),
        encoding="utf-8",
    )
    result = run(warroom_command("drill", str(flood), "--no-console"), cli_env, timeout=30)
    assert result.returncode == 1, result.stderr
    assert str(flood) in result.stderr
    assert "injects[0].repeat (line 8): inject 'one' would play 99,999,995,000 times " \
        "(every 0.001 s over 100,000,000 s)" in result.stderr
    assert "a scenario plays at most 100,000" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_drill_while_it_loads_and_starts_even_with_its_loop_busy(
    signum: signal.Signals,
) -> None:
    """The loop's handlers only ran once the loop was free: a busy start ignored both."""
    from tui.cli.cmd_drill import _signals_interrupt

    async def busy_start() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signum, lambda: None)  # as `drill` had it: never reached
        loop.remove_signal_handler(signum)
        with _signals_interrupt():
            os.kill(os.getpid(), signum)
            while True:  # a start that never yields to the loop
                pass

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(busy_start())
    assert signal.getsignal(signal.SIGTERM) == before  # put back as it was
