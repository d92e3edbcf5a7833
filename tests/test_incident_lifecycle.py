"""An incident's life in the record: phases, resolved, closed with why, reopened; whose it is."""

from __future__ import annotations

import pytest

from store import Record, verify_chain
from store.incidents import LifecycleError, SessionScope, phase_changes
from tests.plugins.record import FrozenClock


def test_closing_records_who_when_and_why_and_verify_replays_it(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("Beaconing to 203.0.113.66", severity="P1")
    clock.advance(minutes=40)
    closed = record.incidents.close(
        incident.id, resolution="contained and eradicated; token rotated", actor="ic"
    )
    assert (closed.status, closed.closed_at, closed.resolution) == (
        "closed",
        clock.now,
        "contained and eradicated; token rotated",
    )
    assert not closed.is_open
    entry = record.timeline.for_incident(incident.id)[-1]
    assert (entry.kind, entry.actor) == ("incident.updated", "ic")
    assert entry.summary == "Closed: contained and eradicated; token rotated"
    assert entry.data["resolution"] == "contained and eradicated; token rotated"
    assert verify_chain(record.conn).ok


def test_closing_needs_a_resolution_and_happens_once(record: Record) -> None:
    incident = record.incidents.open("Drift", severity="P2")
    with pytest.raises(ValueError, match="resolution"):
        record.incidents.close(incident.id, resolution="  ")
    record.incidents.close(incident.id, resolution="reverted by hand")
    entries = record.timeline.count(incident.id)
    with pytest.raises(LifecycleError, match="closed already"):
        record.incidents.close(incident.id, resolution="again")
    assert record.timeline.count(incident.id) == entries
    assert record.incidents.get_required(incident.id).resolution == "reverted by hand"


def test_resolving_stops_the_recovery_clock_and_keeps_it_open(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("Exfiltration", severity="P0")
    clock.advance(minutes=20)
    resolved = record.incidents.resolve(incident.id, actor="ic", note="service back")
    assert resolved.is_open
    assert (resolved.status, resolved.phase) == ("recovered", "lessons-learned")
    assert resolved.recovered_at == resolved.contained_at == clock.now
    assert record.timeline.for_incident(incident.id)[-1].data["reason"] == "service back"
    with pytest.raises(LifecycleError, match="resolved already"):
        record.incidents.resolve(incident.id)
    assert verify_chain(record.conn).ok


def test_reopening_goes_back_to_how_far_the_response_had_got(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("Scan", severity="P1")
    record.incidents.advance(incident.id, "eradication")
    record.incidents.close(incident.id, resolution="false alarm", false_positive=True)
    with pytest.raises(LifecycleError, match="closed: reopen"):
        record.incidents.advance(incident.id)
    reopened = record.incidents.reopen(incident.id, reason="the scan came back", actor="ic")
    assert (reopened.status, reopened.closed_at, reopened.resolution) == ("contained", None, None)
    assert not reopened.false_positive
    with pytest.raises(LifecycleError, match="not closed"):
        record.incidents.reopen(incident.id, reason="twice")
    # The reason is said on the timeline, and is no field of the incident row verify replays.
    assert record.timeline.for_incident(incident.id)[-1].summary == "Reopened: the scan came back"
    assert verify_chain(record.conn).ok


def test_phases_passed_stop_the_clocks_they_pass(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("Isolation", severity="P1")
    assert phase_changes(incident, "containment", clock.now) == {"phase": "containment"}
    jumped = record.incidents.advance(incident.id, "recovery")
    assert (jumped.status, jumped.contained_at) == ("contained", clock.now)
    last = record.incidents.advance(incident.id)
    assert (last.phase, last.status, last.recovered_at) == (
        "lessons-learned",
        "recovered",
        clock.now,
    )
    with pytest.raises(LifecycleError, match="last phase"):
        record.incidents.advance(incident.id)
    with pytest.raises(ValueError, match="phase must be one of"):
        record.incidents.advance(incident.id, "triage")


def test_a_drill_session_takes_only_its_own_drills_and_live_never_a_drill(
    record: Record, clock: FrozenClock
) -> None:
    stale_drill = record.incidents.open("Yesterday's drill", drill=True)
    real = record.incidents.open("Real one", severity="P1")
    closed_real = record.incidents.open("Closed one")
    record.incidents.close(closed_real.id, resolution="done")
    clock.advance(hours=20)
    started = clock.now
    drill_scope = SessionScope.for_mode("drill", started)
    live_scope = SessionScope.for_mode("live", started)
    assert record.incidents.pick(drill_scope) is None  # the stale drill is not this drill's
    assert record.incidents.pick(live_scope) == record.incidents.get(real.id)
    clock.advance(minutes=3)
    own = record.incidents.open("Today's drill", drill=True)
    assert record.incidents.pick(drill_scope) == own
    record.incidents.close(real.id, resolution="done")
    assert record.incidents.pick(live_scope) is None  # closed, and the drills are not live's
    assert [i.id for i in record.incidents.in_scope(SessionScope())] == [stale_drill.id, own.id]
