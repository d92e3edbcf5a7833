"""Counted nouns and articles: "1 alert", "2 alerts", "an IP address", where users read them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.falco_lines import falco_lines
from store.wording import counted, in_sentence, noun_of, plural, with_article


@pytest.mark.parametrize(("noun", "many"), [
    ("pod", "pods"), ("policy", "policies"), ("proxy", "proxies"), ("entry", "entries"),
    ("day", "days"), ("piece", "pieces"), ("token secret", "token secrets"), ("is", "are"),
])
def test_plurals(noun: str, many: str) -> None:
    assert plural(noun) == many


def test_counted_agrees_with_its_number() -> None:
    assert counted(1, "pod") == "1 pod"
    assert counted(0, "pod") == "0 pods"
    assert counted(2, "policy") == "2 policies"
    assert counted(1234, "alert", grouped=True) == "1,234 alerts"
    assert counted(1, "alert", grouped=True) == "1 alert"
    assert f"{counted(1, 'pod')} {noun_of(1, 'is')}" == "1 pod is"
    assert f"{counted(3, 'pod')} {noun_of(3, 'is')}" == "3 pods are"


@pytest.mark.parametrize(("label", "said"), [
    ("IP address or CIDR", "an IP address or CIDR"),
    ("Service account", "a service account"),
    ("Service (app label)", "a service (app label)"),
    ("alert", "an alert"),
    ("user", "a user"),
    ("SA token", "an SA token"),
    ("CIDR", "a CIDR"),
])
def test_articles_by_sound(label: str, said: str) -> None:
    assert with_article(in_sentence(label)) == said


def test_ingest_of_one_alert_says_one_line_one_alert(record_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(next(iter(falco_lines(1))) + "\n")
    done = subprocess.run([sys.executable, "-m", "tui.cli", "ingest", str(source)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("read 1 line: 1 alert recorded"), done.stdout
