"""What the live sources record besides alerts goes to their session's incident, no other.

A console or `warroom watch` is a session (`store.incidents.SessionScope`): a
drill's takes only a drill incident opened while it runs, a live one only a
real incident. Health changes, Warning events, drift, DNS detections' queries
and Hubble's flows go to the one incident the session admits, else to none:
never to an older drill's incident, nor a live session's to a drill's.
"""

from __future__ import annotations

from pathlib import Path

from actions.config import Settings
from actions.falco.classify import Classifier
from actions.kube.cluster import Cluster
from actions.sources.health import SourceHealth
from actions.sources.hubble import HubbleSource
from actions.sources.live import LiveSources
from actions.sources.recorder import HEALTH_KIND, TimelineRecorder
from store import Record
from store.incidents import SessionScope
from tests.plugins.record import FrozenClock
from tests.sources_helpers import RunningSource, eventually
from tests.test_sources_hubble import flows_file


def attached(record: Record, kind: str) -> list[str | None]:
    rows = record.query("SELECT incident_id FROM timeline WHERE kind = ? ORDER BY seq", (kind,))
    return [row[0] for row in rows]


def evidence_of(record: Record) -> list[str | None]:
    return [row[0] for row in record.query("SELECT incident_id FROM evidence ORDER BY seq")]


def test_timeline_entries_go_to_the_sessions_one_incident(
    record: Record, clock: FrozenClock
) -> None:
    record.incidents.open("Last week's drill, never closed", severity="P0", drill=True)
    clock.advance(days=7)
    live = TimelineRecorder(record, scope=SessionScope.for_mode("live", clock.now))
    drill = TimelineRecorder(record, scope=SessionScope.for_mode("drill", clock.now))
    health = SourceHealth("falco", "connected", "following 3 pods")
    live(health)
    drill(health)
    assert attached(record, HEALTH_KIND) == [None, None]  # the old drill is neither's

    clock.advance(minutes=1)
    real = record.incidents.open("Beaconing from tts-router", severity="P1")
    this_drill = record.incidents.open("This drill's incident", severity="P0", drill=True)
    live(health)
    drill(health)
    assert attached(record, HEALTH_KIND)[2:] == [real.id, this_drill.id]

    record.incidents.open("A second real one", severity="P2")
    live(health)  # two real incidents open: no guess
    assert attached(record, HEALTH_KIND)[-1] is None


async def test_hubble_flows_and_dns_detections_go_to_no_other_sessions_incident(
    record: Record, clock: FrozenClock, tmp_path: Path
) -> None:
    drill = record.incidents.open("A drill running beside", severity="P0", drill=True)
    live = SessionScope.for_mode("live", clock.now)
    await HubbleSource(record, Classifier.load(None), file=flows_file(tmp_path), scope=live).run(
        lambda _item: None
    )
    kept = evidence_of(record)
    assert len(kept) == 2  # the tunnel's queries and the flows: neither the drill's
    assert kept == [None, None]

    real = record.incidents.open("Exfiltration over DNS", severity="P0")
    (tmp_path / "later").mkdir()
    again = flows_file(tmp_path / "later")  # new flows: another tunnel, an hour on
    again.write_text(
        again.read_text().replace("exfil.net", "other.example").replace("T09:", "T10:")
    )
    await HubbleSource(record, Classifier.load(None), file=again, scope=live).run(
        lambda _item: None
    )
    assert evidence_of(record)[2:] == [real.id, real.id]
    assert drill.id not in evidence_of(record)


async def test_live_sources_give_their_scope_to_every_source(
    cluster: Cluster, record: Record, clock: FrozenClock
) -> None:
    record.incidents.open("Another drill's incident", severity="P0", drill=True)
    clock.advance(hours=1)
    scope = SessionScope.for_mode("drill", clock.now)
    live = LiveSources(cluster, record, Settings(), Classifier.load(None), scope=scope)
    assert {
        id(holder.scope) for holder in (live.detector, live.recorder, live.dns, live.hubble)
    } == {id(scope)}
    running = RunningSource(live.run)
    await eventually(lambda: any(h.state == "connected" for h in running.health("falco")))
    await running.stop()
    assert attached(record, HEALTH_KIND)
    assert set(attached(record, HEALTH_KIND)) == {None}

    live.scope = SessionScope.for_mode("live", clock.now)  # as a console may set it later
    assert {
        holder.scope.drill for holder in (live.detector, live.recorder, live.dns, live.hubble)
    } == {False}
