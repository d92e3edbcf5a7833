"""`warroom incidents`: list them with what is due, open one, and move one through its life.

    incidents [--json]                               the list, with what is due
    incidents open TITLE [--severity] [--drill] ...  prints the new ID, only the ID:
                                                     `ID=$(warroom incidents open ...)`
    incidents show ID                                one incident, whole
    incidents ack ID | severity ID P0..P3 | phase ID [PHASE] | note ID TEXT
    incidents resolve ID [--note TEXT]               recovered: the MTTR clock stops
    incidents close ID --resolution TEXT [--false-positive]
    incidents reopen ID --reason TEXT

Every change is a chained timeline entry with who (the login name) and, for
closing and reopening, why. `--json` prints the incident as one document.
Exit codes: 0 done; 1 the incident's state refuses the change (closing a closed
one, resolving twice), nothing recorded; 2 a usage error (no such incident, an
empty resolution). The alert channels are told as `incidents open` tells them:
queued in the record's outbox, then sent at once when they can be.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from store import PHASES, SEVERITIES
from store.wording import counted
from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_record_options,
    open_existing_record,
    open_record,
    print_json,
    read_settings,
    warn_unreadable,
)
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    commands = parser.add_subparsers(
        dest="incidents_command",
        metavar="{open,show,ack,severity,breach,phase,note,resolve,close,reopen}",
    )
    opener = commands.add_parser("open", help="open an incident and print its ID")
    opener.add_argument("title", help="what is happening, in a few words")
    opener.add_argument(
        "--severity", choices=SEVERITIES, default="P2", help="runbook severity (default P2)"
    )
    opener.add_argument("--drill", action="store_true", help="a drill, kept apart in the metrics")
    opener.add_argument(
        "--data-breach",
        action="store_true",
        help="personal data is involved: starts the GDPR 72 h clock",
    )
    opener.add_argument(
        "--commander", help="the incident commander's name (default: your login name)"
    )
    opener.add_argument(
        "--category",
        metavar="CLASS",
        help="the runbook class, e.g. dns-exfiltration or policy-drift (README: Falco input and "
        "classification); `warroom metrics` groups by it",
    )
    opener.add_argument(
        "--json", action="store_true", dest="open_json", help="print one JSON document"
    )
    add_record_options(opener, after_command=True)

    def change(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("incident", metavar="ID", help="the incident, e.g. NSI-2026-03-14-001")
        sub.add_argument(
            "--json", action="store_true", dest="change_json", help="print the incident as JSON"
        )
        add_record_options(sub, after_command=True)
        return sub

    change("show", "one incident: its fields, what is due and its resolution")
    change("ack", "acknowledge it (the MTTD clock stops at the first acknowledgement)")
    severity = change("severity", "set its runbook severity")
    severity.add_argument("severity", choices=SEVERITIES)
    breach = change("breach", "personal data is involved: the GDPR 72 h notification is due "
                              "(from detection)")
    breach.add_argument("--not-involved", action="store_true",
                        help="personal data is not involved after all: no notification due")
    phase = change("phase", "move it to a phase (default: the next one)")
    phase.add_argument("phase", nargs="?", choices=PHASES, help="default: the next phase")
    note = change("note", "add a note to its timeline")
    note.add_argument("text", help="what you saw, decided or did")
    resolve = change("resolve", "resolved: service recovered (MTTR stops); stays open")
    resolve.add_argument("--note", help="what was done to recover")
    close = change("close", "close it, saying why; its clocks stop")
    close.add_argument("--resolution", required=True, help="what happened and why it is over")
    close.add_argument(
        "--false-positive", action="store_true", help="it was no incident (metrics count it so)"
    )
    reopen = change("reopen", "open a closed incident again, saying why")
    reopen.add_argument("--reason", required=True, help="why it is not over")


def run(args: argparse.Namespace) -> int:
    command = args.incidents_command
    # `incidents show ID --json` as `incidents --json show ID`: main() reads args.json too,
    # to say a record it cannot use as a JSON error.
    args.json = (
        args.json or getattr(args, "open_json", False) or getattr(args, "change_json", False)
    )
    if command == "open":
        return _open(args)
    if command is None:
        return _list(args)
    return _change(args)


def _actor() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return None


def _open(args: argparse.Namespace) -> int:
    if not args.title.strip():
        raise UsageError("the title must not be empty")
    _warn_of_an_unknown_category((args.category or "").strip())
    drill = args.drill or _kubeconfig_is_the_drill()
    with open_record(args) as record:
        incident = record.incidents.open(
            args.title,
            severity=args.severity,
            drill=drill,
            actor=_actor(),
            commander=args.commander or _actor(),
            category=(args.category or "").strip() or None,
            data_breach=args.data_breach,
        )
        notifications = _notify(args, record, incident, "opened")
    if args.json:
        print_json({**incident.to_dict(), "notifications": notifications})
    else:
        print(safe_text(incident.id))
    return EXIT_OK


def _kubeconfig_is_the_drill() -> bool:
    """A team drill's participant opening by hand: the kubeconfig points at the drill's
    cluster, so the incident is the drill's (scored, kept out of the real metrics), as
    `warroom act` and the console flag their work there."""
    from tui.cli.cmd_act import kubeconfig_is_the_drill

    if not kubeconfig_is_the_drill():
        return False
    print("warroom incidents open: the kubeconfig's current context is warroom's drill "
          "cluster: opening a drill incident (kept out of the real metrics)", file=sys.stderr)
    return True


# subcommand -> (the notification event it announces, if any; what the line says it did)
ANNOUNCED: dict[str, tuple[str | None, str]] = {
    "ack": ("acknowledged", "acknowledged"),
    "severity": ("severity-changed", "severity set"),
    "breach": (None, "personal data flag set"),
    "phase": ("phase-changed", "moved"),
    "note": (None, "note added"),
    "resolve": ("resolved", "resolved"),
    "close": ("resolved", "closed"),
    "reopen": (None, "reopened"),
}


def _warn_of_an_unknown_category(category: str) -> None:
    """Say when a class is none of the runbook's: `metrics` would count it on its own (a
    site's own classes, from its classification file, are still accepted)."""
    import difflib

    from actions.falco.classify import CATEGORIES

    if not category or category in CATEGORIES:
        return
    close = difflib.get_close_matches(category, CATEGORIES, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    print(f"warroom incidents open: warning: {safe_text(category)} is not one of the runbook's "
          f"classes; {hint}`warroom metrics` groups it on its own (README: classification)",
          file=sys.stderr)


def _apply(record: Any, args: argparse.Namespace, actor: str | None) -> Any:
    """Make the subcommand's change in the record; returns the incident as it is now."""
    command, incident_id, incidents = args.incidents_command, args.incident, record.incidents
    if command == "ack":
        return incidents.acknowledge(incident_id, actor=actor)
    if command == "severity":
        return incidents.set_severity(incident_id, args.severity, actor=actor)
    if command == "breach":
        return incidents.flag_data_breach(incident_id, not args.not_involved, actor=actor)
    if command == "phase":
        return incidents.advance(incident_id, args.phase, actor=actor)
    if command == "note":
        if not args.text.strip():
            raise ValueError("a note needs words: what happened, what was seen or decided")
        record.timeline.add(incident_id, "note", args.text, actor=actor)
        return incidents.get_required(incident_id)
    if command == "resolve":
        return incidents.resolve(incident_id, note=args.note, actor=actor)
    if command == "close":
        return incidents.close(
            incident_id, resolution=args.resolution, false_positive=args.false_positive, actor=actor
        )
    return incidents.reopen(incident_id, reason=args.reason, actor=actor)


def _change(args: argparse.Namespace) -> int:
    from store import UnknownIncident
    from store.incidents import LifecycleError

    command, incident_id = args.incidents_command, args.incident
    notifications: dict[str, Any] | None = None
    if command == "show":  # only reads: never makes a record where there is none
        with open_existing_record(args, readonly=True) as record:
            shown = _required(record, incident_id)
            return _show(args, record, shown)
    with open_record(args) as record:
        before = _required(record, incident_id)
        event, words = ANNOUNCED[command]
        try:
            after = _apply(record, args, _actor())
        except LifecycleError as error:
            print(f"warroom incidents {command}: {safe_text(error)}", file=sys.stderr)
            return EXIT_FAILED
        except UnknownIncident as error:  # deleted meanwhile by another process: not likely
            raise UsageError(str(error)) from None
        except ValueError as error:
            raise UsageError(str(error)) from None
        if event is not None and after != before:
            notifications = _notify(args, record, after, event, _details(event, before, after))
    if args.json:
        document = after.to_dict()
        if notifications is not None:
            document["notifications"] = notifications
        print_json(document)
    else:
        print(safe_text(f"{after.id} {words}: {_state(after)}"))
    return EXIT_OK


def _required(record: Any, incident_id: str) -> Any:
    incident = record.incidents.get(incident_id)
    if incident is None:
        raise UsageError(f"no incident {safe_text(incident_id)} in {record.path}")
    return incident


def _details(event: str, before: Any, after: Any) -> dict[str, Any]:
    if event == "severity-changed":
        return {"from": before.severity, "to": after.severity}
    if event == "phase-changed":
        return {"phase": after.phase}
    if event == "acknowledged":
        return {"by": _actor()}
    if event == "resolved":
        return {"resolution": after.resolution or "recovered"}
    return {}


def _state(incident: Any) -> str:
    words = f"{incident.severity}, {incident.status}, phase {incident.phase}"
    if incident.data_breach:
        words += ", personal data involved (GDPR 72 h)"
    if incident.resolution:
        words += f" ({incident.resolution})"
    return words


def _show(args: argparse.Namespace, record: Any, incident: Any) -> int:
    from store.report.deadlines import due_for

    now = record.clock()
    dues = due_for(record, incident, now)
    if args.json:
        print_json({**incident.to_dict(), "due": [due.to_dict() for due in dues]})
        return EXIT_OK
    for name, value in incident.to_dict().items():
        if value is not None:
            print(safe_text(f"{name + ':':<17}{value}"))
    print(f"{'next due:':<17}{_next_due(dues, now)}")
    return EXIT_OK


def _notify(
    args: argparse.Namespace,
    record: Any,
    incident: Any,
    event: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue the channels' notifications, then try to deliver them at once.

    The change is already recorded: a bad configuration or a channel that is
    down only leaves notifications queued for `warroom notify --retry`.
    """
    from actions.notify import drain_outbox, notify_incident_event

    settings = read_settings(args)  # read before the command ran (tui/cli/main.py)
    queued = notify_incident_event(record, settings, incident, event, details)
    if not queued:
        return {"queued": 0}
    report = asyncio.run(drain_outbox(record, settings))
    summary = report.to_dict()
    if report.failed or report.queued:
        print(
            f"warroom: {counted(len(report.delivered), 'notification')} sent, "
            f"{len(report.failed)} failed, "
            f"{len(report.queued)} still queued: see `warroom notify`",
            file=sys.stderr,
        )
    return summary


def _next_due(dues: list[Any], now: Any) -> str:
    from store.report.deadlines import format_span

    for due in dues:
        if due.done or due.due_at is None:
            continue
        if due.overdue:
            return f"{due.label} OVERDUE by {format_span(now - due.due_at)}"
        return f"{due.label} in {format_span(due.due_at - now)}"
    return "-"


def _list(args: argparse.Namespace) -> int:
    from store.report.deadlines import due_for

    with open_existing_record(args, readonly=True) as record:  # a listing creates nothing
        now = record.clock()
        incidents = [
            (incident, due_for(record, incident, now)) for incident in record.incidents.list()
        ]
    warn_unreadable("incidents", record)  # a row no warroom writes: skipped, and said
    if args.json:
        print_json(
            {
                "incidents": [
                    {**incident.to_dict(), "due": [due.to_dict() for due in dues]}
                    for incident, dues in incidents
                ]
            }
        )
        return EXIT_OK
    if not incidents:
        print("no incidents recorded", file=sys.stderr)
        return EXIT_OK
    print(
        f"{'ID':<19} {'SEV':<3} {'STATUS':<9} {'PHASE':<15} {'DETECTED (UTC)':<16}  "
        f"{'NEXT DUE':<34} TITLE"
    )
    for incident, dues in incidents:
        detected = incident.detected_at.strftime("%Y-%m-%d %H:%M") if incident.detected_at else "-"
        drill = "[drill] " if incident.drill else ""
        line = (
            f"{incident.id:<19} {incident.severity:<3} {incident.status:<9} {incident.phase:<15} "
            f"{detected:<16}  {_next_due(dues, now):<34} {drill}{incident.title}"
        )
        print(safe_text(line))  # every field may come from an imported record
    return EXIT_OK
