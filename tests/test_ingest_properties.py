"""Generated Falco lines, odd times and odd numbers, through ingest and the follower's write path.

The property (issue 15): whatever the lines, nothing crashes, every line is
accounted for, every parseable line is in the record (as an alert, or raw as
a rejected input with its reason), and the record verifies.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.falco.alert import PRIORITIES, FalcoAlert, RejectedLine
from actions.falco.classify import Classifier
from actions.falco.ingest import ingest_stream
from actions.falco.parse import parse_line
from actions.falco.prepare import prepare_lines
from actions.sources.falco_follower import FalcoFollower
from store import Record, verify_chain

CLASSIFIER = Classifier.load(None)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

digits = st.integers(0, 9).map(str)


@st.composite
def odd_times(draw: st.DrawFn) -> str:
    """RFC 3339 times at and beyond every edge: years 0000-9999, month 13, leap seconds,
    12 fractional digits, offsets, and Falco's own shape."""
    year = draw(st.sampled_from([0, 1, 1677, 1678, 1969, 1970, 2026, 2262, 2263, 9999]) |
                st.integers(0, 9999))  # fmt: skip
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour, minute, second = (
        draw(st.integers(0, 24)),
        draw(st.integers(0, 60)),
        draw(st.integers(0, 61)),
    )
    fraction = draw(st.text("0123456789", max_size=12))
    offset = draw(st.sampled_from(["Z", "z", "+00:00", "-05:30", "+2400", "+01", ""]))
    dot = "." if fraction else ""
    clock = f"{hour:02d}:{minute:02d}:{second:02d}{dot}{fraction}"
    return f"{year:04d}-{month:02d}-{day:02d}T{clock}{offset}"


numbers = st.one_of(
    st.integers(),
    st.sampled_from(
        [2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**40), 1741944600000000000]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
)
texts = st.text(max_size=20) | st.sampled_from(["[/oops]", "\x1b]0;PWNED\x07", "\ud800", "é中"])
field_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def json_alerts(draw: st.DrawFn) -> bytes:
    doc: dict[str, object] = {
        "rule": draw(texts | st.sampled_from(["Terminal shell in container"])),
        "priority": draw(st.sampled_from(PRIORITIES) | texts),
        "time": draw(odd_times() | texts),
        "output": draw(texts),
    }
    for key, strategy in (
        ("hostname", texts | numbers),
        ("source", st.sampled_from(["syscall", "k8s_audit"]) | numbers),
        ("tags", st.lists(texts | numbers, max_size=3) | texts),
        ("output_fields", st.dictionaries(st.text(max_size=12), field_values, max_size=4)),
    ):
        if draw(st.booleans()):
            doc[key] = draw(strategy)
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=1)):
        del doc[key]  # a required key missing now and then
    line = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    prefix = draw(st.sampled_from(["", "[pod/falco-x/falco] ", "2026-11-27T09:10:01.123456789Z "]))
    return (prefix + line).encode("utf-8", "surrogatepass")


text_alerts = st.builds(
    lambda clock, priority, message: f"{clock}: {priority} {message}".replace("\n", " ").encode(
        "utf-8", "surrogatepass"
    ),
    st.sampled_from(["09:12:01.004518233", "23:59:60.999999999", "25:00:00.0", "00:00:00"]),
    st.sampled_from(PRIORITIES),
    texts,
)
falco_lines = st.lists(
    json_alerts() | text_alerts | st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    min_size=1,
    max_size=25,
)


@contextmanager
def fresh_record() -> Iterator[Record]:
    with tempfile.TemporaryDirectory() as folder, Record.open(Path(folder) / "r.db") as record:
        yield record


def expected(lines: list[bytes]) -> tuple[int, int, int]:
    """(distinct alerts, rejected lines, blank lines) as the parser sees each line alone."""
    keys, rejected, blank = set(), 0, 0
    for line in lines:
        parsed = parse_line(line)
        if isinstance(parsed, FalcoAlert):
            keys.add(parsed.dedupe_key)
        elif isinstance(parsed, RejectedLine):
            rejected += 1
        else:
            blank += 1
    return len(keys), rejected, blank


@SETTINGS
@given(lines=falco_lines)
def test_ingest_records_every_line_and_never_crashes(lines: list[bytes]) -> None:
    alerts, rejected, blank = expected(lines)
    with fresh_record() as record:
        report = ingest_stream(record, BytesIO(b"\n".join(lines) + b"\n"), workers=1)
        assert (report.read, report.accepted, report.rejected, report.blank) == (
            len(lines), alerts, rejected, blank,
        )  # fmt: skip
        assert record.alerts.count() == alerts
        assert record.alerts.rejected_count() == rejected
        result = verify_chain(record.conn)
        assert result.ok, result.problem


@SETTINGS
@given(lines=falco_lines)
def test_the_followers_write_path_records_every_line_and_never_crashes(lines: list[bytes]) -> None:
    alerts, rejected, _blank = expected(lines)
    with fresh_record() as record:
        follower = FalcoFollower(None, record, CLASSIFIER)
        numbered = list(enumerate(lines, 1))
        groups = [
            prepare_lines("falco-a", "falco:falco-system/falco-a", None, numbered[::2],
                          record.now(), CLASSIFIER),
            prepare_lines("falco-b", "falco:falco-system/falco-b", None, numbered[1::2],
                          record.now(), CLASSIFIER),
        ]  # fmt: skip
        batch = follower._write(groups)
        assert sum(item.fresh for item in batch.alerts) == alerts
        assert len(batch.rejected) == rejected
        assert record.alerts.count() == alerts
        assert record.alerts.rejected_count() == rejected
        result = verify_chain(record.conn)
        assert result.ok, result.problem
