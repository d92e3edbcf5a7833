"""The record file's schema and storage types against what this version of warroom makes.

A trigger can forge what is written after it, a view can stand in for a table
and cost any CPU it likes when read: a record holds neither, and every table,
column and index is exactly what the migrations make (store/schema.py).
"""

from __future__ import annotations

import sqlite3

from store.findings import Problem
from store.schema import (
    CHAINED_TABLES,
    EXPORT_ORIGIN_DDL,
    EXPORT_ORIGIN_TABLE,
    from_stored,
    migrate,
)

_SQL_CLASSES = {str: "'text'", int: "'integer'", bytes: "'blob'"}
_OPTIONAL_TABLES = ("alert_rollup", EXPORT_ORIGIN_TABLE)
_INTERNAL_TABLES = ("sqlite_sequence", *(f"sqlite_stat{n}" for n in range(1, 5)))
_schemas: dict[int, dict[tuple[str, str], object]] = {}


def describe_schema(conn: sqlite3.Connection) -> dict[tuple[str, str], object]:
    """Every object of the file by (type, name), with what defines it (columns, index keys)."""
    objects: dict[tuple[str, str], object] = {}
    for kind, name, table, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ):
        if kind == "table" and name in _INTERNAL_TABLES:
            continue
        if kind == "index" and str(name).startswith("sqlite_autoindex_"):
            continue  # made by SQLite for a UNIQUE or PRIMARY KEY: part of its table
        if kind == "table":
            columns = conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,)).fetchall()
            keys = conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (name,)).fetchall()
            options = conn.execute(
                "SELECT wr, strict FROM pragma_table_list WHERE name = ?", (name,)
            ).fetchall()
            objects[(kind, name)] = (tuple(columns), tuple(keys), tuple(options))
        elif kind == "index":
            listed = [
                row[1:]
                for row in conn.execute("SELECT * FROM pragma_index_list(?)", (table,))
                if row[1] == name
            ]
            keys = conn.execute("SELECT * FROM pragma_index_xinfo(?)", (name,)).fetchall()
            objects[(kind, name)] = (table, tuple(listed), tuple(keys))
        else:
            objects[(kind, name)] = sql  # a view or a trigger: none belongs in a record
    return objects


def expected_schema(version: int) -> dict[tuple[str, str], object]:
    """What this warroom's migrations make for `version`, with the tables a record may add."""
    if version not in _schemas:
        from store.alert_summary import refresh_rollup_in

        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            migrate(conn, target=version)
            refresh_rollup_in(conn)  # the optional tables: made on use, in any version
            conn.execute(EXPORT_ORIGIN_DDL)
            _schemas[version] = describe_schema(conn)
        finally:
            conn.close()
    return _schemas[version]


def check_schema(conn: sqlite3.Connection, version: int) -> Problem | None:
    expected = expected_schema(version)
    found = describe_schema(conn)
    for key in sorted(found, key=_schema_order):
        kind, name = key
        if kind in ("trigger", "view"):
            return Problem(
                "schema",
                name,
                None,
                f"a {kind} that warroom never makes: it can change or "
                "stand in for what is recorded",
            )
        if key not in expected:
            return Problem("schema", name, None, f"a {kind} that warroom schema {version} lacks")
        if found[key] != expected[key]:
            return Problem(
                "schema",
                name,
                None,
                f"this {kind} differs from what warroom schema {version} makes",
            )
    for key in sorted(expected):
        if key not in found and key[1] not in _OPTIONAL_TABLES and not _of_optional(key, expected):
            return Problem("schema", key[1], None, f"the {key[0]} is missing")
    return None


def _schema_order(key: tuple[str, str]) -> tuple[int, str]:
    return ({"trigger": 0, "view": 1, "table": 2, "index": 3}.get(key[0], 4), key[1])


def _of_optional(key: tuple[str, str], expected: dict[tuple[str, str], object]) -> bool:
    definition = expected[key]
    return key[0] == "index" and isinstance(definition, tuple) and definition[0] in _OPTIONAL_TABLES


def check_types(conn: sqlite3.Connection) -> Problem | None:
    """Each column holds its declared type or NULL (one scan per table, inside SQLite).

    An integer column may hold text only as an integer beyond SQLite's 64 bits
    (store.schema.to_stored).
    """
    for table, columns in CHAINED_TABLES.items():
        conditions = [
            "typeof(seq) != 'integer'",
            "typeof(prev_hash) != 'text'",
            "typeof(hash) != 'text'",
        ]
        for column, kind in columns.items():
            # (text in an integer column is looked at in Python: it may be a big integer)
            conditions.append(f"typeof({column}) NOT IN ({_SQL_CLASSES[kind]}, 'null')")
        sql = f"SELECT * FROM {table} WHERE {' OR '.join(conditions)} ORDER BY id"
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        for row in cursor.execute(sql):
            problem = type_problem(table, row)
            if problem is not None:
                return Problem(table, row["id"], _int_or_none(row["seq"]), problem)
    return None


def type_problem(table: str, row: sqlite3.Row) -> str | None:
    for column in ("seq", "prev_hash", "hash"):
        want = int if column == "seq" else str
        if type(row[column]) is not want:
            return f"{column} is {_sql_class(row[column])}, not {_sql_name(want)} (edited)"
    columns = CHAINED_TABLES[table]
    values = tuple(row[column] for column in columns)
    decoded = from_stored(table, values)
    for (column, kind), value in zip(columns.items(), decoded, strict=True):
        if value is not None and type(value) is not kind:
            return f"{column} is {_sql_class(value)}, not {_sql_name(kind)} (edited)"
    return None


def _sql_class(value: object) -> str:
    return {str: "text", int: "an integer", bytes: "a BLOB", float: "a real number"}.get(
        type(value), type(value).__name__
    )


def _sql_name(kind: type) -> str:
    return {str: "text", int: "an integer", bytes: "a BLOB"}[kind]


def _int_or_none(value: object) -> int | None:
    return value if type(value) is int else None
