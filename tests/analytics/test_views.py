"""The analytics views (migration 0003) on the crafted dataset: answers computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from tests.analytics.dataset import EVIL, EVIL_TYPE, asset, at, page
from warehouse import open_warehouse


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def test_categories_follow_type_source_and_lineage(con: duckdb.DuckDBPyConnection) -> None:
    got = {str(i): str(c) for i, c in rows(con, "SELECT id, category FROM asset_categories")}
    assert got == {
        "asset_u1": "upload",  # type uploaded
        "asset_g1": "generation",  # a model made it, even with a parent
        "asset_g2": "generation",
        "asset_t1": "generation",
        "asset_x1": "generation",
        "asset_e1": "edit",  # a parent, no model
        "asset_e2": "edit",
        "asset_e3": "edit",
        "asset_o1": "edit",  # its parent was never synced: still an edit
        "asset_c1": "other",
    }


def test_lineage_depth_per_asset(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "SELECT id, depth, tree_root_id, children, descendants, is_live FROM lineage_depth"
        " ORDER BY id",
    )
    assert got == [
        ("asset_c1", 0, "asset_c1", 0, 0, False),
        ("asset_e1", 2, "asset_u1", 1, 1, True),
        ("asset_e2", 3, "asset_u1", 0, 0, True),
        ("asset_e3", 1, "asset_t1", 0, 0, False),
        ("asset_g1", 1, "asset_u1", 1, 2, True),
        ("asset_g2", 1, "asset_u1", 0, 0, True),
        ("asset_o1", 1, "asset_missing", 0, 0, True),
        ("asset_t1", 0, "asset_t1", 1, 1, True),
        ("asset_u1", 0, "asset_u1", 2, 4, True),
        ("asset_x1", 0, "asset_x1", 0, 0, True),
    ]


def test_ancestors_and_descendants_with_depth(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(
        con, "SELECT ancestor_id, depth FROM asset_ancestry WHERE asset_id = 'asset_e2' ORDER BY 2"
    ) == [("asset_e1", 1), ("asset_g1", 2), ("asset_u1", 3)]
    assert rows(
        con,
        "SELECT descendant_id, depth FROM asset_descendants WHERE asset_id = 'asset_u1'"
        " ORDER BY depth, descendant_id",
    ) == [("asset_g1", 1), ("asset_g2", 1), ("asset_e1", 2), ("asset_e2", 3)]


def test_lineage_trees(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "SELECT root_id, root_type, root_category, root_synced, tree_size, live_size, max_depth,"
        " types FROM lineage_trees ORDER BY root_id",
    )
    assert got == [
        ("asset_c1", "canvas", "other", True, 1, 0, 0, ["canvas"]),
        ("asset_missing", None, None, False, 1, 1, 1, ["upscale"]),
        ("asset_t1", "inference-txt2img", "generation", True, 2, 1, 1,
         ["inference-txt2img", "vectorization"]),
        ("asset_u1", "uploaded", "upload", True, 5, 5, 3,
         ["background-removal", "inference-img2img", "uploaded", "upscale"]),
        ("asset_x1", EVIL_TYPE, "generation", True, 1, 1, 0, [EVIL_TYPE]),
    ]  # fmt: skip
    first, last = rows(
        con,
        "SELECT first_created_at, last_created_at FROM lineage_trees WHERE root_id = 'asset_u1'",
    )[0]
    assert (first, last) == (
        datetime(2026, 3, 2, 10, tzinfo=UTC),
        datetime(2026, 3, 3, 10, tzinfo=UTC),
    )


def test_activity_per_day_category_model_author(con: duckdb.DuckDBPyConnection) -> None:
    today = datetime.now(UTC).date()
    per_day = rows(
        con,
        "SELECT day, category, sum(created), sum(updated), sum(deleted) FROM activity_daily"
        " GROUP BY ALL ORDER BY day, category",
    )
    assert per_day == [
        (date(2026, 3, 2), "generation", 2, 0, 0),
        (date(2026, 3, 2), "upload", 1, 0, 0),
        (date(2026, 3, 3), "edit", 2, 0, 0),
        (date(2026, 3, 3), "generation", 1, 0, 0),
        (date(2026, 3, 4), "edit", 2, 0, 0),
        (date(2026, 3, 4), "generation", 1, 0, 0),
        (date(2026, 3, 4), "other", 1, 0, 0),
        (date(2026, 3, 5), "generation", 0, 1, 0),  # asset_g1 v2
        (date(2026, 3, 5), "upload", 0, 1, 0),  # asset_u1 v2
        (date(2026, 3, 6), "generation", 0, 1, 0),  # asset_g1 v3
        (today, "edit", 0, 0, 1),
        (today, "other", 0, 0, 1),
    ]
    assert rows(
        con,
        "SELECT author_id, sum(created), sum(updated) FROM activity_daily GROUP BY 1 ORDER BY 1",
    ) == [("alice", 3, 3), ("bob", 3, 0), ("carol", 4, 0)]
    assert rows(
        con,
        "SELECT model_id, sum(created) FROM activity_daily WHERE model_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 1",
    ) == [(EVIL, 1), ("model_a", 2), ("model_b", 1)]


def test_asset_changes_says_what_changed_and_when(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "SELECT id, version, changed_at, prev_updated_at, changed_fields, status_before,"
        " status_after, privacy_before, privacy_after, name_after, tags_added, tags_removed"
        " FROM asset_changes WHERE NOT is_first_seen ORDER BY id, version",
    )
    d = at  # day n of the dataset, at an hour
    assert got == [
        ("asset_g1", 2, d(3, 10), d(0, 11), ["status", "privacy", "url"],
         "success", "error", "private", "public", "asset g1", [], []),
        ("asset_g1", 3, d(4, 10), d(3, 10), ["url"],
         "error", "error", "public", "public", "asset g1", [], []),
        ("asset_u1", 2, d(3, 9), d(0, 10), ["name", "tags", "url"],
         "success", "success", "private", "private", "asset u1 renamed", ["b"], []),
    ]  # fmt: skip
    first = rows(
        con, "SELECT count(*), bool_and(changed_fields = []) FROM asset_changes WHERE is_first_seen"
    )
    assert first == [(10, True)]


def test_deletions_daily(con: duckdb.DuckDBPyConnection) -> None:
    today = datetime.now(UTC).date()
    got = rows(
        con,
        "SELECT day, type, category, deleted, median_age_days > 200 FROM deletions_daily"
        " ORDER BY type",
    )
    assert got == [(today, "canvas", "other", 1, True), (today, "vectorization", "edit", 1, True)]


def test_sync_health(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "SELECT run_id, outcome, day, duration_s, lag_s, fetched, rejected, error IS NOT NULL"
        " FROM sync_health ORDER BY started_at",
    )
    assert got == [
        ("run_ok", "success", date(2026, 3, 7), 30.0, 3630.0, 13, 1, False),
        ("run_bad", "failed", date(2026, 3, 8), 5.0, 90005.0, 0, 0, True),
    ]


def test_days_are_utc_whatever_the_session_timezone(known_path: str) -> None:
    with open_warehouse(known_path, read_only=True) as reader:
        con = reader.connection
        con.execute("SET TimeZone = 'Pacific/Kiritimati'")  # UTC+14: every day would shift
        assert rows(con, "SELECT min(day) FROM activity_daily") == [(date(2026, 3, 2),)]
        assert rows(con, "SELECT min(day) FROM sync_health") == [(date(2026, 3, 7),)]


def test_views_work_on_an_empty_warehouse(empty_path: str) -> None:
    with open_warehouse(empty_path, read_only=True) as reader:
        for view in ("asset_categories", "lineage_depth", "lineage_trees", "activity_daily",
                     "asset_changes", "deletions_daily", "sync_health"):  # fmt: skip
            assert reader.connection.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)


def test_lineage_views_terminate_on_a_cycle() -> None:
    """Corrupt lineage (a is b's parent and b is a's) must not hang or explode the views."""
    with open_warehouse(":memory:") as wh:
        wh.write([page([asset("a", "upscale", "x", at(0), parent="asset_b"),
                        asset("b", "upscale", "x", at(0), parent="asset_a")])])  # fmt: skip
        con = wh.connection
        assert rows(con, "SELECT id, depth, descendants FROM lineage_depth ORDER BY id") == [
            ("asset_a", 1, 1),
            ("asset_b", 1, 1),
        ]
        assert rows(con, "SELECT count(*), sum(tree_size) FROM lineage_trees") == [(2, 2)]
