"""Numbered schema migrations, applied on open.

`warehouse/migrations/NNNN_name.sql` files are applied in numeric order, all pending ones in
ONE transaction together with their rows in `schema_migrations`: a warehouse is always exactly
at some released version, never half-way (DuckDB DDL is transactional). A warehouse created by
an older assets-sync upgrades on its next read-write open; one created by a NEWER version is
refused rather than written with a schema this code does not know.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import duckdb

from warehouse.errors import WarehouseError

_log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    checksum   VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> tuple[Migration, ...]:
    """Every migration shipped with this package, in version order (gaps are an error)."""
    found: list[Migration] = []
    for entry in resources.files("warehouse.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise WarehouseError(f"migrations must be numbered 1..N without gaps: {found!r}")
    return tuple(found)


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Versions recorded in `schema_migrations` ([] for a fresh database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_catalog = current_database() AND table_schema = 'main'"
        " AND table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    rows = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def pending_migrations(
    con: duckdb.DuckDBPyConnection, upto: int | None = None
) -> tuple[Migration, ...]:
    """Migrations not yet applied (up to version `upto`), refusing a newer warehouse."""
    known = available_migrations()
    applied = applied_versions(con)
    latest = known[-1].version if known else 0
    if applied and max(applied) > latest:
        raise WarehouseError(
            f"warehouse schema is at version {max(applied)} but this assets-sync knows only "
            f"up to {latest}: it was written by a newer version; upgrade assets-sync"
        )
    done = set(applied)
    return tuple(m for m in known if m.version not in done and (upto is None or m.version <= upto))


def migrate(con: duckdb.DuckDBPyConnection, upto: int | None = None) -> list[int]:
    """Apply pending migrations (up to `upto`, for tests of upgrades) in one transaction.

    Returns the versions applied. On any error the transaction is rolled back and the
    warehouse stays at its previous version.
    """
    pending = pending_migrations(con, upto)
    if not pending:
        return []
    applied = applied_versions(con)
    if applied:  # an upgrade of a warehouse with data, not the creation of a new one
        _log.warning(
            "upgrading the warehouse schema from version %d to %d in one transaction; an upgrade "
            "that rewrites the asset tables takes about half a minute per million assets, and "
            "the file keeps its size (DuckDB reuses the freed space for later writes)",
            max(applied),
            pending[-1].version,
        )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_LEDGER_DDL)
        for m in pending:
            con.execute(m.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, now())",
                [m.version, m.name, m.checksum],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return [m.version for m in pending]
