"""One response time reads the same in the header, the score, the report and `metrics`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from actions.drill.score import duration as score_duration
from store.metrics import format_seconds
from store.report.render import _span as report_span
from tui.views.clocks import duration as header_duration


@pytest.mark.parametrize(
    ("seconds", "header", "score", "report_and_metrics"),
    [
        (7.6, "0:07", "7s", "0m 07s"),  # 0:07 in the header once read 8s in the score
        (59.5, "0:59", "59s", "0m 59s"),
        (299.99, "4:59", "4m59s", "4m 59s"),  # a 5-minute target not met in any of them
        (3725.5, "1:02:05", "1h02m05s", "1h 02m 05s"),
    ],
)
def test_every_view_counts_the_same_whole_seconds(
    seconds: float, header: str, score: str, report_and_metrics: str
) -> None:
    assert header_duration(timedelta(seconds=seconds)) == header
    assert score_duration(seconds) == score
    assert report_span(timedelta(seconds=seconds)) == report_and_metrics
    assert format_seconds(seconds) == report_and_metrics
