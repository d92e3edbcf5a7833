"""The report's free-text sections, written in the console and kept in the record.

Each save is a chained timeline entry of kind "report.section" with data
{section, text}; the latest entry of a section wins, so earlier wordings stay
in the audit chain. An empty text clears the section.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.record import Record

SECTION_KIND = "report.section"

# Section names, in report order, with the heading or bullet they fill.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "root_cause": "Root Cause",
    "impact_business": "Business impact",
    "impact_technical": "Technical impact",
    "impact_security": "Security implications",
    "what_worked": "What worked well",
    "what_could_improve": "What could be improved",
    "prevent_configuration": "Configuration changes",
    "prevent_process": "Process improvements",
    "prevent_monitoring": "Monitoring enhancements",
    "action_items": "Action items (one per line)",
}
MAX_SECTION_CHARS = 20_000


def set_section(
    record: Record, incident_id: str, section: str, text: str, actor: str | None
) -> int:
    """Save a section's whole text, replacing the previous one; returns the timeline entry id."""
    if section not in SECTIONS:
        raise ValueError(f"unknown report section {section!r}; one of: {', '.join(SECTIONS)}")
    if not isinstance(text, str):
        raise ValueError("a report section is text")
    if len(text) > MAX_SECTION_CHARS:
        raise ValueError(
            f"the {section} section is {len(text)} characters; keep it under {MAX_SECTION_CHARS}"
        )
    record.incidents.get_required(incident_id)
    text = text.strip()
    verb = "written" if text else "cleared"
    return record.timeline.add(
        incident_id,
        SECTION_KIND,
        f"Report section {SECTIONS[section]} {verb}",
        actor=actor,
        data={"section": section, "text": text},
    )


def sections(record: Record, incident_id: str) -> dict[str, str]:
    """The current text of every non-empty section, keyed by section name."""
    rows = record.query(
        "SELECT data FROM timeline WHERE incident_id = ? AND kind = ? ORDER BY seq",
        (incident_id, SECTION_KIND),
    )
    latest: dict[str, str] = {}
    for (data,) in rows:
        entry = json.loads(data or "{}")
        section, text = entry.get("section"), entry.get("text")
        if section in SECTIONS and isinstance(text, str):
            latest[section] = text
    return {name: text for name, text in latest.items() if text}
