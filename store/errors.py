"""What the record raises, each with a message a user can act on."""

from __future__ import annotations


class RecordError(Exception):
    """Base of the record's errors."""


class RecordBusy(RecordError):
    """Another process held the write lock for longer than we are willing to wait."""


class UnknownIncident(RecordError):
    """No incident with that ID in this record."""


# The two below are RuntimeErrors too: callers written before them catch RuntimeError.
class RecordUnreadable(RecordError, RuntimeError):
    """The file cannot be used as a record by this warroom; the message says why."""


class NotARecord(RecordUnreadable):
    """The file is not a SQLite database, or a database that is not a warroom record."""


class RecordTooNew(RecordUnreadable):
    """The record was written by a newer warroom, whose schema this one does not know."""


class RecordWriteFailed(RecordError):
    """A write could not be committed (disk full, I/O error, read-only file); nothing of it was."""
