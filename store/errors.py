"""What the record raises, each with a message a user can act on."""

from __future__ import annotations


class RecordError(Exception):
    """Base of the record's errors."""


class RecordBusy(RecordError):
    """Another process held the write lock for longer than we are willing to wait."""


class UnknownIncident(RecordError):
    """No incident with that ID in this record."""
