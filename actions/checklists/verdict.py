"""What a checklist verifier found: verified, not verified or unknown, and the evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

VERIFIED = "verified"
NOT_VERIFIED = "not-verified"
UNKNOWN = "unknown"
STATES = (VERIFIED, NOT_VERIFIED, UNKNOWN)
STATE_WORDS = {VERIFIED: "verified", NOT_VERIFIED: "not verified", UNKNOWN: "unknown"}
MAX_NAMED = 5  # names quoted in one piece of evidence; the rest are counted


@dataclass(frozen=True, slots=True)
class Verdict:
    """One verifier's answer. `evidence` says what was looked at and what was seen."""

    state: str
    evidence: str
    checked_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")

    @property
    def words(self) -> str:
        return STATE_WORDS[self.state]

    def describe(self) -> str:
        """`not verified: 1 of 3 pods not Ready: api-7d (CrashLoopBackOff)`."""
        return f"{self.words}: {self.evidence}"

    def note(self) -> str:
        """The evidence as recorded with a tick: when it was checked, what was seen."""
        when = f"checked {self.checked_at:%Y-%m-%d %H:%M:%S %Z}: " if self.checked_at else ""
        return when + self.describe()


def verified(evidence: str) -> Verdict:
    return Verdict(VERIFIED, evidence)


def not_verified(evidence: str) -> Verdict:
    return Verdict(NOT_VERIFIED, evidence)


def unknown(evidence: str) -> Verdict:
    return Verdict(UNKNOWN, evidence)


def named(names: list[str], limit: int = MAX_NAMED) -> str:
    """`a, b, c and 4 more`: a bounded list of names for evidence."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
