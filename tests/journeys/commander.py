"""A scripted incident commander at a real terminal: the runbook's steps, by their names.

`Commander` drives `warroom drill` in a pseudo-terminal (tests/plugins/terminal.py)
from the keyboard only, as a person does: it presses a key, then waits for what the
screen shows (a dialog's title, a toast's words, the header's phase), never for a
fixed time. A second shell is the same person's other terminal: `kubectl` against
the drill's kubeconfig, for what the runbook does with kubectl (rolling a Deployment
back, deleting a pod).

Each step says what it waits for; a step that does not see it fails with the screen
as it was, so a broken journey reads like a bug report.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from actions.checklists import load_checklists
from actions.checklists.howto import ACTION_KEYS
from store import PHASE_TITLES, PHASES
from tests.plugins.terminal import TerminalSession, terminal, warroom_argv
from tui.dialogs.action_form import CLUSTER_ACTIONS

KUBECTL = Path(sys.executable).with_name("kubectl")
COMMANDER = "ic-journey"  # who the record names: the console takes the login name
STEP_TIMES = bool(os.environ.get("JOURNEY_STEP_TIMES"))
# One step on a loaded 2-core machine; a healthy console answers in < 1 s.
STEP_TIMEOUT = 30.0
TICKED_BOX, UNTICKED_BOX = "\N{BALLOT BOX WITH CHECK}", "\N{BALLOT BOX}"
DECISION_WORDS = {"false-positive": "False positive", "active-attack": "Active attack",
                  "misconfiguration": "Policy misconfiguration", "escalate": "Escalate"}

# A row of the Falco pane: its time and priority, then rule, pod and summary up to the
# pane's edge (at 160x48 other panes share the line, and name the same workloads).
ALERT_ROW = re.compile(r"\d\d:\d\d:\d\d +P[0-3] [^│]*")
CHECKLIST_SUMMARY = re.compile(r"(?m)^\W*([A-Z][\w &]+): \d+ of \d+ ticked")
# The header's MTTD once acknowledged: "MTTD 0:01/5m ✓" (wide), "D 0:00/5m✓" (80 columns).
ACKNOWLEDGED = re.compile(r"\b(?:MTTD|D) [\d:]+/\w+ ?✓")
PHASE_QUESTION = re.compile(r"Move NSI-[\d-]+ to ([A-Z][\w &]+)\?")
DRILL_CLOCK = re.compile(r"T\+(\d+):(\d\d)/")


def _detail_names(screen: str, item_text: str) -> bool:
    """The checklist's detail shows `item_text` (highlighted): the words without the list's box
    before them (the start only: a narrow detail wraps)."""
    start = re.escape(item_text[:24])
    return re.search(rf"(?<![{UNTICKED_BOX}{TICKED_BOX}] ){start}", screen) is not None


def outcome_said(action: str) -> re.Pattern[str]:
    """A cluster action's toast: "isolate orchestrator: succeeded.", "restore: no-op."."""
    return re.compile(rf"\b{re.escape(action)}(?: \S+)?: (?P<status>succeeded|no-op|failed)\b")


@dataclass(frozen=True)
class DrillRun:
    """Where one journey's drill keeps its things."""

    folder: Path
    scenario: str

    @property
    def db(self) -> Path:
        return self.folder / "record.db"

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"


@contextmanager
def drill_console(folder: Path, scenario: str, *, speed: float,
                  size: tuple[int, int] = (160, 48)) -> Iterator[Commander]:
    """`warroom --db FOLDER/record.db drill SCENARIO --speed N` at a terminal of `size`."""
    run = DrillRun(folder, scenario)
    argv = warroom_argv("--db", str(run.db), "drill", scenario, "--speed", f"{speed:g}",
                        "--kubeconfig-out", str(run.kubeconfig))
    env = {
        "HOME": str(folder), "LOGNAME": COMMANDER, "USER": COMMANDER,
        "XDG_CONFIG_HOME": str(folder / "config"), "XDG_STATE_HOME": str(folder / "state"),
        "WARROOM_CONFIG": "", "KUBECONFIG": "",
    }
    with terminal(argv, size=size, env=env, cwd=folder) as term:
        yield Commander(term, run)


class Commander:
    """The incident commander's keyboard and eyes."""

    def __init__(self, term: TerminalSession, run: DrillRun) -> None:
        self.term = term
        self.run = run
        self.narrow = term.columns < 120  # the console shows tabs instead of four panes

    # --- looking ------------------------------------------------------------------------------

    def sees(self, wanted: str | re.Pattern[str] | Callable[[str], bool],
             timeout: float = STEP_TIMEOUT) -> str:
        """Wait until the screen shows `wanted`; the screen."""
        started = time.monotonic()
        screen = self.term.wait_for(wanted, timeout=timeout)
        if STEP_TIMES:  # JOURNEY_STEP_TIMES=1: where a journey spends its time, on stderr
            print(f"journey: {time.monotonic() - started:5.2f} s for {wanted!r:.70}",
                  file=sys.stderr)
        return screen

    def press(self, *keys: str) -> None:
        self.term.press(*keys)

    def type(self, text: str) -> None:
        self.term.type(text)

    def replace_field(self, text: str) -> None:
        """Empty the focused input and type `text` into it."""
        self.press("end", "ctrl+u")
        if text:
            self.type(text)

    # --- the drill ----------------------------------------------------------------------------

    def console_is_up(self) -> None:
        """The console painted and the drill's cluster answers (its policies are listed)."""
        self.sees("DRILL")
        self.sees("external-api-segmentation" if not self.narrow else "playing", timeout=60)

    def wait_for_alert(self, text: str, timeout: float = 60) -> None:
        """An alert whose row shows `text` arrived in the Falco pane (not another pane's
        mention of the same name)."""
        self.sees(lambda screen: any(text in row for row in ALERT_ROW.findall(screen)),
                  timeout=timeout)

    def wait_for_drill_time(self, seconds: int, timeout: float = 60) -> None:
        """The drill strip's scenario clock (`T+mm:ss/`) reached `seconds`."""
        def reached(screen: str) -> bool:
            shown = DRILL_CLOCK.search(screen)
            return shown is not None and int(shown[1]) * 60 + int(shown[2]) >= seconds

        self.sees(reached, timeout=timeout)

    def pause_drill(self) -> None:
        """The facilitator pauses the scenario's clock (the cluster keeps answering)."""
        self.press("P")
        self.sees("paused")

    # --- the incident -------------------------------------------------------------------------

    def wait_for_proposal(self, timeout: float = 60) -> None:
        self.sees("Press ! to accept", timeout=timeout)

    def accept_proposal(self, about: str | None = None) -> str:
        """`!` then accept: the incident opens, detected at the first alert; its ID.
        about: words the proposal must show (another may be pending first: wait for it)."""
        if about is not None:
            self.sees(about)
        self.press("!")
        self.sees("warroom proposes an incident")
        if about is not None:
            self.sees(about)
        self.press("y")
        screen = self.sees(re.compile(r"NSI-\d{4}-\d{2}-\d{2}-\d{3}"))
        return re.search(r"NSI-\d{4}-\d{2}-\d{2}-\d{3}", screen).group(0)  # type: ignore[union-attr]

    def open_incident(self, title: str) -> str:
        """`o`: open an incident by hand from the selected alert (its severity as the
        console rates the alert; `set_severity` changes it); its ID."""
        self.press("o")
        self.sees("Open an incident")
        self.replace_field(title)
        self.press("ctrl+s")
        screen = self.sees(re.compile(r"NSI-\d{4}-\d{2}-\d{2}-\d{3} opened"))
        return re.search(r"NSI-\d{4}-\d{2}-\d{2}-\d{3}", screen).group(0)  # type: ignore[union-attr]

    def set_severity(self, incident_id: str, severity: str) -> None:
        """`v`: the severity select, moved from the current one to `severity`."""
        self.press("v")
        now = re.search(r"now (P[0-3])", self.sees(re.compile(r"now P[0-3]")))
        assert now is not None
        steps = int(severity[1]) - int(now.group(1)[1])
        self.press("enter")  # the options open on the current one
        self.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
        self.press("ctrl+s")
        self.sees(f"{incident_id} {severity}")

    def acknowledge(self) -> None:
        self.press("a")
        self.sees(ACKNOWLEDGED)

    def note(self, text: str) -> None:
        """`n`: a note on the timeline (what was done outside the console, for the record)."""
        self.press("n")
        self.sees("Add a note to the timeline")
        self.type(text)
        self.press("enter")
        self.sees(lambda screen: "Add a note to the timeline" not in screen)

    def decide(self, decision: str, why: str, rule: str | None = None) -> None:
        """`d`: choose one of the runbook's decisions, say why (and the rule to tune)."""
        choices = tuple(DECISION_WORDS)
        self.press("d")
        self.sees("Decision point")
        self.press(*["down"] * choices.index(decision), "space")
        self.sees(re.compile(rf"●▌ {DECISION_WORDS[decision]}"))
        self.press("tab")
        self.type(why)
        self.sees(why[:40])
        if rule is not None:
            self.press("tab")
            self.replace_field(rule)
        self.press("ctrl+s")
        if decision == "false-positive":
            self.sees("Record a false positive and close")
            self.press("y")
            self.sees("Closed")
        else:
            self.sees(lambda screen: "Decision point" not in screen)

    def move_to(self, phase: str) -> None:
        """`p` and yes until the incident is in `phase` (an action may have moved it already:
        a phase past it is answered no)."""
        titled = {title: p for p, title in PHASE_TITLES.items()}
        for _ in PHASES:
            self.press("p")
            asked = PHASE_QUESTION.search(self.sees(PHASE_QUESTION))
            assert asked is not None
            offered = titled[asked.group(1)]
            later = PHASES.index(offered) > PHASES.index(phase)
            self.press("n" if later else "y")
            self.sees(lambda screen: PHASE_QUESTION.search(screen) is None)
            if later or offered == phase:
                return
        raise AssertionError(f"the incident never reached {phase}")

    def close(self, resolution: str) -> None:
        """`C`: close the incident with its resolution (resolved first if it was not)."""
        self.press("C")
        self.sees("Resolve or close")
        self.type(resolution)
        self.press("enter")
        self.sees("Closed")

    # --- the Falco pane -------------------------------------------------------------------------

    def select_alert(self, text: str) -> None:
        """Filter the Falco list by `text` (`/`): the newest matching alert is selected."""
        if self.narrow:
            self.press("1")
        self.press("/")
        self.sees("filter: rule, pod, output text")
        self.replace_field(text)
        self.press("enter")
        self.sees(f"filter: text '{text[:8]}")  # the status line is cut to the pane

    def clear_filter(self) -> None:
        self.press("escape")

    # --- cluster actions ------------------------------------------------------------------------

    def act(self, action: str, target: str | None = None, *, prefilled: str | None = None,
            fill: Callable[[], None] | None = None, partial: bool = False) -> None:
        """A cluster action by its key, through its form, the preview and the confirmation,
        to its outcome's toast.

        target: typed over whatever the form was prefilled with; prefilled: what the form
        must show (from the selected alert) before anything is typed; fill: sets the form's
        options after the target, before it is saved; partial: a capture may end "failed"
        with pieces missing (the scenario denies some reads: checks.check_record says which).
        """
        self.press(ACTION_KEYS[action][0])
        self.sees(CLUSTER_ACTIONS[action].title)
        if prefilled is not None:
            self.sees(re.compile(rf"  {re.escape(prefilled)}\b"))
        if target is not None:
            self.replace_field(target)
        if fill is not None:
            fill()
        self.press("ctrl+s")
        screen = self.sees(re.compile(r"Confirm: |Refused: "))
        assert "Refused: " not in screen, f"the preview refused the action:\n{screen}"
        self.press("y")
        said = self.sees(outcome_said(action))
        outcome = outcome_said(action).search(said)
        assert outcome is not None
        assert partial or outcome.group("status") != "failed", f"the action failed:\n{said}"

    def capture(self, *, service: str | None = None, domain: str | None = None,
                partial: bool = False) -> None:
        """`c`: the evidence bundle (`service`'s logs, else the selected alert's service's;
        the DNS log lines naming `domain`)."""

        def options() -> None:
            if service is not None:
                self.replace_field(service)
            if domain is not None:
                self.press("tab")
                self.replace_field(domain)

        self.act("capture", fill=options, partial=partial)

    def restore(self, *, unblock: bool = False, undo_reapply: bool = False) -> None:
        """`R`: undo the incident's containment (and, if asked, its blocks and re-applies;
        the form offers the second only once the incident re-applied policies)."""

        def options() -> None:  # the form starts on Preview: its boxes are before it
            offered = "Also put back the policies" in self.sees("Also remove the IPs")
            if undo_reapply:
                self.press("shift+tab", "space")
            if unblock:
                self.press(*["shift+tab"] * (1 if undo_reapply or not offered else 2), "space")

        self.act("restore", fill=options)

    def offers_undo_of_reapply(self) -> None:
        """`R` after a re-apply: the form offers putting the policies back; escape leaves it."""
        self.press(ACTION_KEYS["restore"][0])
        self.sees("Also put back the policies this incident re-applied")
        self.close_dialog(CLUSTER_ACTIONS["restore"].title)

    # --- the checklist --------------------------------------------------------------------------

    def open_checklist(self, phase: str) -> None:
        """`k`, then left or right until the list of `phase` is shown (its summary line)."""
        self.press("k")
        now = self._checklist_phase()
        for _ in PHASES:
            if now == phase:
                return
            self.press("left" if PHASES.index(phase) < PHASES.index(now) else "right")
            now = self._checklist_phase(other_than=now)
        raise AssertionError(f"the checklist never showed {phase}")

    def _checklist_phase(self, other_than: str | None = None) -> str:
        """The phase whose list the checklist shows (by its summary line), once it is not
        `other_than`."""
        def phase_of(screen: str) -> str | None:
            shown = CHECKLIST_SUMMARY.search(screen)
            titled = shown and next(
                (p for p, title in PHASE_TITLES.items() if title == shown.group(1)), None)
            return titled if titled and titled != other_than else None

        found = phase_of(self.sees(lambda screen: phase_of(screen) is not None))
        assert found is not None
        return found

    def tick(self, *item_ids: str) -> None:
        """Tick checklist items by id (`review-falco`), as a person: k, the phase, space."""
        checklists = load_checklists()
        items = {item.id: item for c in checklists.values() for item in c.items}
        for item_id in item_ids:
            item = items[item_id]
            self.open_checklist(item.phase)
            self.press(*["down"] * checklists[item.phase].items.index(item))
            # A person reads the highlighted item before ticking it: the detail names it.
            self.sees(functools.partial(_detail_names, item_text=item.text))
            self.press("space")
            self.sees(f"{TICKED_BOX} {item.text}")
            self.close_dialog("Checklist \N{MIDDLE DOT}")

    def verify(self, phase: str) -> str:
        """`k`, the phase, `v`: the console checks what it can; the toast's words."""
        self.open_checklist(phase)
        self.press("v")
        said = self.sees(re.compile(rf"\d+ of \d+ verified in {re.escape(PHASE_TITLES[phase])}"))
        self.close_dialog("Checklist \N{MIDDLE DOT}")
        return said

    def close_dialog(self, title: str) -> None:
        """escape, and wait until the dialog titled `title` is gone."""
        self.press("escape")
        self.sees(lambda screen: title not in screen)

    # --- the report and the end -----------------------------------------------------------------

    def save_report(self) -> None:
        """`w`, `s`, enter: the detailed report saved where `warroom report` would write it
        (the record's `report.saved` entry names the file: checks.saved_report)."""
        self.press("w")
        self.sees("Network Security Incident Report")
        self.press("s")
        self.sees("Save the report to a file")
        self.press("enter")
        self.sees("Saved the detailed report")
        self.close_dialog("Network Security Incident Report")

    def quit(self) -> str:
        """`q`, yes: the drill ends and its score is printed; what the terminal printed."""
        mark = self.term.mark()
        self.press("q")
        self.sees("Quit warroom and end the drill?")
        self.press("y")
        started = time.monotonic()
        code = self.term.wait_exit(60)
        if STEP_TIMES:
            print(f"journey: {time.monotonic() - started:5.2f} s to end", file=sys.stderr)
        printed = self.term.plain_output(mark)
        assert code == 0, printed[-3000:]
        return printed

    # --- the second shell -----------------------------------------------------------------------

    def kubectl(self, *args: str) -> str:
        """kubectl in another terminal, against the drill's kubeconfig; its output."""
        env = {**os.environ, "KUBECONFIG": str(self.run.kubeconfig), "HOME": str(self.run.folder)}
        done = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout
