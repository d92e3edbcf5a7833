"""The resume cursor and the line splitter under the Falco follower."""

from __future__ import annotations

from actions.falco.lines import OverlongLine
from actions.kube.streams import LineSplitter
from actions.sources.cursor import LogCursor, line_time_ns, since_time


def lines(*pairs: tuple[str, str]) -> list[bytes]:
    return [f"{time} {text}".encode() for time, text in pairs]


T1 = "2026-11-27T09:00:01.5Z"
T2 = "2026-11-27T09:00:01.75Z"
T3 = "2026-11-27T09:00:02Z"


def test_a_resumed_stream_drops_exactly_what_was_seen_even_at_one_timestamp() -> None:
    cursor = LogCursor()
    assert cursor.resume_from() is None  # first connection: the whole log
    cursor.begin_connection()
    first = lines((T1, "a"), (T2, "b"), (T2, "c"))
    assert cursor.accept(first) == first
    assert cursor.resume_from() == "2026-11-27T09:00:01Z"  # rounded down, never later
    cursor.begin_connection()
    # The server repeats the whole second; a third line at T2 is new, as is T3.
    replay = lines((T1, "a"), (T2, "b"), (T2, "c"), (T2, "d"), (T3, "e"))
    assert cursor.accept(replay) == replay[3:]
    assert cursor.skipped == 3
    assert cursor.lines == 5


def test_lines_without_a_kubelet_time_pass_through() -> None:
    cursor = LogCursor()
    cursor.begin_connection()
    assert cursor.accept([b"no time here"]) == [b"no time here"]
    assert cursor.resume_from() is None
    assert line_time_ns(b"2026-11-27T09:00:02Z {}") == 1_795_770_002 * 10**9
    assert since_time(1_795_770_002_999_999_999) == "2026-11-27T09:00:02Z"


def test_splitter_keeps_partial_lines_and_caps_overlong_ones() -> None:
    splitter = LineSplitter(max_line_bytes=8)
    assert splitter.feed(b"one\r\ntw") == [b"one"]
    assert splitter.partial == b"tw"
    got = splitter.feed(b"o\n" + b"x" * 20 + b"\nend")
    assert got[0] == b"two"
    assert isinstance(got[1], OverlongLine)
    assert (bytes(got[1]), got[1].real_length) == (b"x" * 8, 20)
    assert splitter.partial == b"end"


def test_the_fast_kubelet_time_path_agrees_with_the_full_parser() -> None:
    from actions.falco.times import rfc3339_to_ns

    for stamp in ("2026-11-27T09:00:01Z", "2026-11-27T09:00:01.5Z",
                  "2026-11-27T09:00:01.000001Z", "2026-11-27T09:00:01.123456789Z",
                  "2024-02-29T23:59:59.999999999Z", "2026-11-27T09:00:01.5+01:00"):
        assert line_time_ns(f"{stamp} line".encode()) == rfc3339_to_ns(stamp, [])
    assert line_time_ns(b"2026-13-27T09:00:01.5Z not a month") is None
    assert line_time_ns(b"2026-11-27T09:00:01.1234567890Z ten digits") is not None


def test_splitting_in_bulk_gives_the_lines_a_byte_at_a_time_gives() -> None:
    import random

    rng = random.Random(4)
    for _ in range(200):
        body = bytes(rng.choice(b"ab\r\n\n{}") for _ in range(rng.randrange(0, 200)))
        limit = rng.randrange(1, 30)
        whole, bytewise = LineSplitter(max_line_bytes=limit), LineSplitter(max_line_bytes=limit)
        got: list[bytes] = []
        start = 0
        while start < len(body):
            size = rng.randrange(1, 60)
            got += whole.feed(body[start : start + size])
            start += size
        expected = [line for index in range(len(body))
                    for line in bytewise.feed(body[index : index + 1])]
        assert got == expected
        assert [getattr(line, "real_length", None) for line in got] == [
            getattr(line, "real_length", None) for line in expected]
        assert whole.partial == bytewise.partial


def test_a_chunk_of_lines_is_accepted_as_line_by_line_whatever_their_times() -> None:
    """Lines of one chunk share their kubelet time mostly (read once for them): the outcome,
    resumes included, is what taking each line alone gives, for repeats, odd and no times."""
    import random

    rng = random.Random(7)
    stamps = [T1, T2, T3, "2026-11-27T09:00:01.5+00:00", "2026-11-27T09:00:01.50Z", "garbage"]
    for _ in range(200):
        log = lines(*((rng.choice(stamps), f"line{n}") for n in range(rng.randrange(0, 40))))
        whole, single = LogCursor(), LogCursor()
        cut = rng.randrange(0, len(log) + 1)
        for cursor in (whole, single):
            cursor.begin_connection()
        got = whole.accept(log[:cut])
        expected = [line for one in log[:cut] for line in single.accept([one])]
        for cursor in (whole, single):
            cursor.begin_connection()  # a resumed stream replays the log from the start
        got += whole.accept(log)
        expected += [line for one in log for line in single.accept([one])]
        assert got == expected
        assert (whole.last_ns, whole.seen_at_last, whole.lines, whole.skipped) == (
            single.last_ns, single.seen_at_last, single.lines, single.skipped)
