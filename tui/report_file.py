"""Saving an incident's report to a file: what `warroom report -o` and the report screen's `s` do.

The file is byte for byte what `store.report.render` renders, written whole or not at
all, and the record gets a chained `report.saved` entry with its SHA-256.
Saving is not sending: no reporting clock stops. Marking an item issued (sent
to its readers) is a separate, deliberate act (`m` on the report screen).
Textual-free, so the command line does not import the console.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from store.report.deadlines import DETAILED_REPORT, EXECUTIVE_SUMMARY, record_saved
from store.report.render import render_executive, render_report
from tui.files import write_atomically

if TYPE_CHECKING:
    from store import Record


@dataclass(frozen=True, slots=True)
class SavedReport:
    path: Path
    sha256: str
    size: int
    recorded: bool


def default_report_path(incident_id: str, executive: bool, folder: Path | None = None) -> Path:
    """`incident-<ID>.md` (or `incident-<ID>-executive.md`) in `folder`, else the current one."""
    name = f"incident-{incident_id}{'-executive' if executive else ''}.md"
    return (folder or Path()) / name


def save_report(
    record: Record,
    incident_id: str,
    executive: bool,
    path: Path,
    *,
    actor: str | None,
    readonly: bool,
) -> SavedReport:
    """Render, write `path` atomically, and (unless read-only) record it as saved."""
    text = (render_executive if executive else render_report)(record, incident_id)
    data = write_atomically(path, text)
    digest = hashlib.sha256(data).hexdigest()
    if not readonly:
        record_saved(
            record,
            incident_id,
            EXECUTIVE_SUMMARY if executive else DETAILED_REPORT,
            file=str(path.absolute()),  # found later from wherever the reviewer stands
            sha256=digest,
            size=len(data),
            actor=actor,
        )
    return SavedReport(path, digest, len(data), not readonly)
