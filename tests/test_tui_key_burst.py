"""Keys typed in one burst (a paste, tmux send-keys) after a key that opens a dialog reach
the dialog, each where the user meant it, in a real terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.journeys.commander import drill_console

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_a_burst_after_b_fills_the_block_ip_form_as_typed(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """`b`, tab, a CIDR, 0 ms apart: the CIDR goes to the second field ("Never block"), the
    first keeps the prefilled address. The keys were lost behind the opening form."""
    with drill_console(tmp_path, "suspicious-external-ip", speed=30, size=size) as ic:
        ic.console_is_up()
        ic.wait_for_alert("tts-router", timeout=90)
        ic.pause_drill()
        ic.type("b\t10.9.9.0/24")  # one write: the terminal hands them over together
        screen = ic.sees("10.9.9.0/24")
        (target,) = re.findall(r"IP address or CIDR\s+(\S+)", screen)
        assert re.fullmatch(r"[\d.]+", target)  # the alert's remote address, untouched
        (protect,) = re.findall(r"Never block \(CIDRs\)\s+(\S+)", screen)
        assert protect == "10.9.9.0/24"
        ic.press("escape")
        ic.sees(lambda text: "Block an egress IP" not in text)
