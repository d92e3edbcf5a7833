"""Hostile text made inert per channel: the functions every message goes through."""

from __future__ import annotations

import pytest

from actions.notify.email import to_message
from actions.notify.neutralise import (
    email_header,
    one_line,
    pagerduty_text,
    slack_mrkdwn,
    slack_plain,
    syslog_sd_value,
    syslog_token,
    without_controls,
)


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123ABC>", "&lt;@U123ABC&gt;"),
        ("<!subteam^S01|@security>", "&lt;!subteam^S01|@security&gt;"),
        (
            "<https://evil.example|Reset your password>",
            "&lt;https://evil.example|Reset your password&gt;",
        ),
        ("a & b", "a &amp; b"),
        ("&lt;already&gt;", "&amp;lt;already&amp;gt;"),
        (
            "*bold* _it_ ~strike~ `code` ```block```",
            "＊bold＊ ＿it＿ ～strike～ ｀code｀ ｀｀｀block｀｀｀",
        ),
        ("> quoted", "&gt; quoted"),
    ],
)
def test_slack_mrkdwn_shows_control_syntax_literally(hostile: str, shown: str) -> None:
    assert slack_mrkdwn(hostile) == shown


def test_slack_mrkdwn_cuts_at_the_limit_without_breaking_an_entity() -> None:
    text = slack_mrkdwn("a" * 10 + "<" * 10, 20)
    assert len(text) <= 20
    assert text.endswith("\u2026")
    assert text == "a" * 10 + "&lt;" * 2 + "\u2026"
    assert slack_mrkdwn("line1\nline2", multiline=True) == "line1\nline2"
    assert slack_mrkdwn("line1\nline2") == "line1 line2"


def test_slack_plain_text_is_one_line_without_angle_brackets() -> None:
    assert slack_plain("<!channel>\n\x1b[2Jhi", 150) == "‹!channel› \ufffd[2Jhi"
    assert len(slack_plain("x" * 400, 150)) == 150


def test_controls_are_replaced_by_a_visible_marker() -> None:
    assert without_controls("a\x00b\x1bc\x9bd\x7fe") == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert without_controls("bidi \u202eevil\u202c") == "bidi \ufffdevil\ufffd"
    assert without_controls("a\r\nb\tc") == "a b c"
    assert without_controls("a\r\nb", keep_newlines=True) == "a\nb"


def test_email_headers_cannot_be_injected() -> None:
    assert email_header("Hi\r\nBcc: x@evil\r\n\r\nbody") == "Hi Bcc: x@evil body"
    assert email_header("a\u2028b\x85c") == "a b c"
    payload = {"from": "warroom@example.com", "to": ["team@example.com"],
               "subject": "ok\r\nBcc: evil@example.com", "body": "text"}  # fmt: skip
    message = to_message(payload, "k")
    assert message["Bcc"] is None
    assert message["Subject"] == "ok Bcc: evil@example.com"
    raw = message.as_bytes()
    assert b"\r\nBcc:" not in raw


def test_the_email_policy_refuses_a_line_break_in_a_header_as_a_second_wall() -> None:
    message = to_message({"from": "w@example.com", "to": ["t@example.com"],
                          "subject": "s", "body": "b"}, "k")  # fmt: skip
    with pytest.raises(ValueError, match="linefeed|carriage return"):
        message["X-Extra"] = "a\r\nBcc: evil@example.com"


def test_pagerduty_summary_is_bounded_and_single_line() -> None:
    summary = pagerduty_text("x\ny" + "z" * 2000)
    assert len(summary) == 1024
    assert "\n" not in summary
    assert summary.startswith("x y")
    assert one_line("  a \t b  ", 10) == "a b"


def test_syslog_fields_follow_rfc5424() -> None:
    assert syslog_sd_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    assert syslog_sd_value("line\nbreak") == "line break"
    assert syslog_token("my host é", 48) == "my_host__"
    assert syslog_token("", 48) == "-"
    assert len(syslog_token("x" * 100, 32)) == 32
