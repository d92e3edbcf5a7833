"""Evidence: captured content kept verbatim with its SHA-256."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from store.models import EvidenceItem

if TYPE_CHECKING:
    from store.record import Record


class Evidence:
    def __init__(self, record: Record) -> None:
        self.record = record

    def add(
        self,
        incident_id: str | None,
        name: str,
        content: bytes,
        *,
        source: str | None = None,
        media_type: str = "text/plain",
        action_id: str | None = None,
    ) -> EvidenceItem:
        digest = hashlib.sha256(content).hexdigest()
        row = {
            "incident_id": incident_id,
            "name": name,
            "source": source,
            "media_type": media_type,
            "content": content,
            "sha256": digest,
            "size": len(content),
            "action_id": action_id,
            "at": self.record.now(),
        }
        with self.record.write() as txn:
            (evidence_id,) = txn.append("evidence", [row])
            self.record.timeline.add_in(
                txn,
                incident_id,
                "evidence",
                f"Evidence captured: {name} ({len(content)} bytes)",
                data={"evidence_id": evidence_id, "sha256": digest},
            )
        return self.get(evidence_id)

    def get(self, evidence_id: int) -> EvidenceItem:
        rows = self.record.query("SELECT * FROM evidence WHERE id = ?", (evidence_id,))
        if not rows:
            raise KeyError(f"no evidence {evidence_id}")
        return EvidenceItem.from_row(rows[0])

    def content(self, evidence_id: int) -> bytes:
        return bytes(
            self.record.query("SELECT content FROM evidence WHERE id = ?", (evidence_id,))[0][0]
        )

    def for_incident(self, incident_id: str) -> list[EvidenceItem]:
        rows = self.record.query(
            "SELECT id, incident_id, name, sha256, size, at, source, media_type, action_id "
            "FROM evidence WHERE incident_id = ? ORDER BY seq",
            (incident_id,),
        )
        return [EvidenceItem.from_row(row) for row in rows]
