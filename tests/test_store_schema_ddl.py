"""The record's tables in plain SQL are exactly those sqlite-utils made for every schema.

store/schema.py makes and upgrades the record's tables with its own SQL since the
console stopped importing sqlite-utils on start-up; records written before were made
through sqlite-utils, and `warroom verify` holds a record to the schema the migrations
make (store/schema_check.py). So the migrations sqlite-utils ran, as they were, must
give what the SQL gives, version by version: every column's type, NOT NULL, default and
key, every index's name, uniqueness and columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
import sqlite_utils

from store.schema import (
    CHAIN_COLUMNS,
    CHAINED_SINCE,
    CHAINED_TABLES,
    INCIDENT_FIELDS,
    SCHEMA_VERSION,
    migrate,
)
from store.schema_check import describe_schema


def _v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    later = ("data_breach", "category", "resolution")
    db.table("incidents").create(
        {k: t for k, t in INCIDENT_FIELDS.items() if k not in later},
        pk="id", not_null={"title", "severity", "status", "phase"},
    )
    for table in CHAINED_TABLES:
        if table not in CHAINED_SINCE:
            _chained(db, table)
    for table, columns, unique in (
        ("alerts", ["dedupe_key"], True), ("alerts", ["incident_id", "time_ns"], False),
        ("timeline", ["incident_id", "seq"], False), ("actions", ["incident_id", "seq"], False),
        ("actions", ["action_id"], False), ("evidence", ["incident_id"], False),
        ("checklist", ["incident_id"], False), ("decisions", ["incident_id"], False),
        ("outbox", ["dedup_key"], True),
    ):
        db.table(table).create_index(columns, unique=unique)


def _chained(db: sqlite_utils.Database, table: str) -> None:
    db.table(table).create(
        {"id": int, "seq": int, "prev_hash": str, "hash": str, **CHAINED_TABLES[table]},
        pk="id", not_null=set(CHAIN_COLUMNS),
    )
    db.table(table).create_index(["seq"], unique=True)


def _v2(db: sqlite_utils.Database) -> None:
    db.table("incidents").add_column("data_breach", int, not_null_default=0)
    db.table("incidents").add_column("category", str)
    db.table("outbox_state").create(
        {"outbox_id": int, "status": str, "attempts": int, "next_attempt_at": str,
         "last_error": str, "delivered_at": str},
        pk="outbox_id",
    )
    db.table("outbox_state").create_index(["status", "next_attempt_at"])


def _v3(db: sqlite_utils.Database) -> None:
    db.table("incidents").add_column("resolution", str)
    _chained(db, "alert_links")
    db.table("alert_links").create_index(["alert_seq"], unique=True)
    db.table("alert_links").create_index(["incident_id"])


def _v4(db: sqlite_utils.Database) -> None:
    db.table("rejected_inputs").create_index(["raw_sha256"])


# The migrations as warroom ran them through sqlite-utils up to schema 4.
THROUGH_SQLITE_UTILS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_v1, _v2, _v3, _v4)


@pytest.mark.parametrize("version", range(1, len(THROUGH_SQLITE_UTILS) + 1))
def test_each_schema_in_plain_sql_is_the_one_sqlite_utils_made(version: int) -> None:
    made, ours = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    db = sqlite_utils.Database(made, execute_plugins=False)
    for migration in THROUGH_SQLITE_UTILS[:version]:
        migration(db)
    migrate(ours, target=version)
    assert describe_schema(ours) == describe_schema(made)


def test_an_upgrade_from_a_file_sqlite_utils_made_gives_the_schema_of_a_new_record() -> None:
    old, new = sqlite3.connect(":memory:", isolation_level=None), sqlite3.connect(":memory:")
    _v1(sqlite_utils.Database(old, execute_plugins=False))
    old.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    assert migrate(old) == 1
    migrate(new)
    assert describe_schema(old) == describe_schema(new)
    assert SCHEMA_VERSION == len(THROUGH_SQLITE_UTILS)  # a new schema: add its migration above
