"""The upsert rule: newest updated_at wins, history keeps every distinct version once,
and no order, replay or duplication of the same batches changes the final state."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import warehouse.sink as sink_module
import warehouse.upsert as upsert_module
from assets_sync.schema import ASSET_SCHEMA
from assets_sync.sink import Completion, SliceState, StreamKey, WriteResult
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets, make_rejects
from warehouse import DuckDBSink, compaction, open_warehouse
from warehouse.connection import WRITER_ROW_GROUP_SIZE

#: Every live row of `assets`, in id order (what a compaction must not change).
_LIVE = "SELECT * FROM assets ORDER BY id"


def current(wh: DuckDBSink) -> list[tuple[str, int]]:
    rows = wh.connection.execute(
        f"SELECT id, epoch_ms(updated_at) - {BASE_MS} FROM assets ORDER BY id"
    ).fetchall()
    return [(str(i), int(t)) for i, t in rows]


def versions(wh: DuckDBSink) -> list[tuple[str, int]]:
    rows = wh.connection.execute(
        f"SELECT id, epoch_ms(updated_at) - {BASE_MS} FROM asset_versions ORDER BY 1, 2"
    ).fetchall()
    return [(str(i), int(t)) for i, t in rows]


def tables(wh: DuckDBSink) -> dict[str, list[tuple[object, ...]]]:
    """Every row the writer stored, but the clock's columns (`now()` of each transaction)."""
    queries = {
        "assets": "SELECT * EXCLUDE (first_synced_at, last_synced_at) FROM assets ORDER BY id",
        "asset_versions": "SELECT * EXCLUDE (synced_at) FROM asset_versions ORDER BY ALL",
        "asset_lineage": "SELECT * FROM asset_lineage ORDER BY ALL",
        "rejected_assets": "SELECT * EXCLUDE (rejected_at) FROM rejected_assets ORDER BY ALL",
    }
    return {name: wh.connection.execute(sql).fetchall() for name, sql in queries.items()}


def batch(*pairs: tuple[int, int]) -> pa.RecordBatch:
    return make_assets([n for n, _ in pairs], [BASE_MS + t for _, t in pairs])


def test_new_then_newer_replaces_and_history_grows(wh: DuckDBSink) -> None:
    assert wh.write([page(batch((1, 10), (2, 10)))]) == WriteResult(new=2)
    assert wh.write([page(batch((1, 20)))]) == WriteResult(updated=1)
    assert current(wh) == [("asset_1", 20), ("asset_2", 10)]
    assert versions(wh) == [("asset_1", 10), ("asset_1", 20), ("asset_2", 10)]


def test_older_and_replayed_change_nothing(wh: DuckDBSink) -> None:
    wh.write([page(batch((1, 20)))])
    before = wh.connection.execute("SELECT * FROM assets").fetchall()
    assert wh.write([page(batch((1, 20)))]) == WriteResult(unchanged=1)
    result = wh.write([page(batch((1, 5)))])  # late, older version: history only
    assert result == WriteResult(unchanged=1)
    assert current(wh) == [("asset_1", 20)]
    assert versions(wh) == [("asset_1", 5), ("asset_1", 20)]
    after = wh.connection.execute("SELECT * FROM assets").fetchall()
    assert [r[:24] for r in before] == [r[:24] for r in after]  # asset columns identical


def test_equal_version_refreshes_url_and_last_synced(wh: DuckDBSink) -> None:
    wh.write([page(batch((1, 20)))])
    fresh = batch((1, 20)).to_pylist()
    fresh[0]["url"] = "https://cdn.example/new-signature"
    assert wh.write([page(pa.RecordBatch.from_pylist(fresh, schema=batch().schema))]) == (
        WriteResult(unchanged=1)
    )
    url, first, last = wh.connection.execute(
        "SELECT url, first_synced_at, last_synced_at FROM assets"
    ).fetchone() or (None, None, None)
    assert url == "https://cdn.example/new-signature"
    assert first is not None and last is not None and last >= first
    assert versions(wh) == [("asset_1", 20)]


def test_each_version_is_stored_once_with_its_first_observation(wh: DuckDBSink) -> None:
    """One row per version (`asset_rows`): the current version's row is the one `assets`
    shows, so a refresh (a new signed url) shows in its version too, while `run_id` and
    `synced_at` stay those of the version's first observation; a newer version only turns the
    old row's `is_current` off, and that row keeps what it held then."""
    wh.write([page(batch((1, 10)), run_id="r1")])
    (first_seen,) = wh.connection.execute("SELECT synced_at FROM asset_versions").fetchone() or (
        None,
    )
    fresh = batch((1, 10)).to_pylist()
    fresh[0]["url"] = "https://cdn.example/new-signature"
    refreshed = pa.RecordBatch.from_pylist(fresh, schema=batch().schema)
    assert wh.write([page(refreshed, run_id="r2")]) == WriteResult(unchanged=1)
    assert wh.write([page(batch((1, 20)), run_id="r3")]) == WriteResult(updated=1)
    rows = wh.connection.execute(
        f"SELECT epoch_ms(updated_at) - {BASE_MS}, url, run_id, synced_at, is_current"
        " FROM asset_rows ORDER BY updated_at"
    ).fetchall()
    assert [r[:3] + r[4:] for r in rows] == [
        (10, "https://cdn.example/new-signature", "r1", False),
        (20, "https://cdn.example/asset_1?v=" + str(BASE_MS + 20), "r3", True),
    ]
    assert rows[0][3] == first_seen
    assert wh.connection.execute("SELECT count(*) FROM asset_versions").fetchone() == (2,)
    assert wh.dead_rows() == (1, 3)  # the refreshed row's first copy, until a compaction


def test_duplicates_within_one_call_keep_the_newest(wh: DuckDBSink) -> None:
    result = wh.write([page(batch((1, 10), (1, 30))), page(batch((1, 20), (1, 30)))])
    assert result == WriteResult(new=1, unchanged=3)
    assert current(wh) == [("asset_1", 30)]
    assert versions(wh) == [("asset_1", 10), ("asset_1", 20), ("asset_1", 30)]


def test_lineage_follows_the_current_row(wh: DuckDBSink) -> None:
    wh.write([page(batch((5, 10)))])  # asset_5: parent asset_1, root asset_1
    moved = batch((5, 20)).to_pylist()
    moved[0]["parent_id"] = "asset_9"
    wh.write([page(pa.RecordBatch.from_pylist(moved, schema=batch().schema))])
    edges = wh.connection.execute(
        "SELECT relation, related_id FROM asset_lineage WHERE asset_id = 'asset_5' ORDER BY 1"
    ).fetchall()
    assert edges == [
        ("inference", "inf_2"),
        ("model", "model_c"),
        ("parent", "asset_9"),
        ("root", "asset_1"),
    ]


#: `raw` as plain text: what a producer other than the engine's normalize may send. The
#: warehouse has DuckDB check it (ASSET_SCHEMA's `arrow.json` raw is taken as JSON as it is).
TEXT_RAW = ASSET_SCHEMA.set(
    ASSET_SCHEMA.get_field_index("raw"), pa.field("raw", pa.string(), nullable=False)
)


def test_rejects_are_kept_once_and_bad_rows_diverted(wh: DuckDBSink) -> None:
    bad = batch((1, 10), (2, 10)).to_pylist()
    bad[1]["raw"] = "{not json"
    rows = pa.RecordBatch.from_pylist(bad, schema=TEXT_RAW)
    result = wh.write([page(rows, make_rejects(["asset_x"]))])
    assert result == WriteResult(new=1, rejected=2)
    wh.write([page(batch(), make_rejects(["asset_x"]))])  # replayed reject: not stored twice
    rejects = wh.connection.execute(
        "SELECT asset_id, reason, run_id, stream_id FROM rejected_assets ORDER BY 1"
    ).fetchall()
    assert rejects == [
        ("asset_2", "raw is not valid JSON", "run_1", "proj_a"),
        ("asset_x", "invalid createdAt", "run_1", "proj_a"),
    ]
    assert current(wh) == [("asset_1", 10)]


def test_a_bad_duplicate_does_not_poison_its_good_twin(wh: DuckDBSink) -> None:
    rows = batch((1, 10), (1, 20)).to_pylist()
    rows[1]["raw"] = "not json at all"  # the newer observation is the broken one
    result = wh.write([page(pa.RecordBatch.from_pylist(rows, schema=TEXT_RAW))])
    assert result == WriteResult(new=1, rejected=1)
    assert current(wh) == [("asset_1", 10)]
    assert versions(wh) == [("asset_1", 10)]


def test_slice_progress_commits_with_the_rows(wh: DuckDBSink) -> None:
    wh.plan_slices(STREAM, [SliceState("s1", 0, 100, 0), SliceState("s2", 100, 200, 100)])
    wh.write(
        [
            page(batch((1, 10)), progress=SliceState("s1", 0, 100, 40)),
            page(batch((2, 10)), progress=SliceState("s1", 0, 100, 60)),
        ]
    )
    state = wh.stream_state(STREAM)
    assert [(s.slice_id, s.cursor_ms, s.done) for s in state.slices] == [
        ("s1", 60, False),
        ("s2", 100, False),
    ]
    wh.plan_slices(STREAM, [SliceState("s1", 0, 100, 0)])  # re-planning keeps progress
    assert wh.stream_state(STREAM).slices[0].cursor_ms == 60
    wh.complete_slices(STREAM, ["s1", "s2"], 500)
    wh.complete_slices(STREAM, [], 300)  # never backwards
    state = wh.stream_state(STREAM)
    assert state.slices == () and state.watermark_ms == 500


def test_a_write_commits_its_completion_with_its_rows_or_not_at_all(
    wh: DuckDBSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`write(pages, complete=...)` drops the finished slices and raises the watermark in the
    transaction of the rows: a write that fails after it leaves neither."""
    wh.plan_slices(STREAM, [SliceState("s1", 0, 100, 0), SliceState("s2", 100, 200, 100)])
    done = SliceState("s1", 0, 100, 100, done=True)
    wh.write([page(batch((1, 10)), progress=done)], complete=Completion(STREAM, ("s1",), 99))
    state = wh.stream_state(STREAM)
    assert [s.slice_id for s in state.slices] == ["s2"] and state.watermark_ms == 99
    assert current(wh) == [("asset_1", 10)]

    real = sink_module.ledger.complete_slices

    def fail_after(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the writer died after the completion")

    s2_done = SliceState("s2", 100, 200, 200, done=True)
    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="died"):
        patched.setattr(sink_module.ledger, "complete_slices", fail_after)
        wh.write(
            [page(batch((2, 150)), progress=s2_done)],
            complete=Completion(STREAM, ("s2",), 199),
        )
    state = wh.stream_state(STREAM)
    assert [(s.slice_id, s.cursor_ms) for s in state.slices] == [("s2", 100)]
    assert state.watermark_ms == 99
    assert current(wh) == [("asset_1", 10)]
    # Without pages, the completion is its own transaction (and never lowers the watermark).
    wh.write([], complete=Completion(STREAM, ("s2",), 50))
    state = wh.stream_state(STREAM)
    assert state.slices == () and state.watermark_ms == 99


def test_planning_more_slices_than_one_statement_holds_keeps_every_one(wh: DuckDBSink) -> None:
    """`plan_slices` inserts in statements of 500 rows: 1,201 slices all land, once, and
    planning them again (a resumed run) keeps the progress already made."""
    planned = [SliceState(f"p{i}", 10 * i, 10 * i + 10, 10 * i) for i in range(1_201)]
    wh.plan_slices(STREAM, planned)
    wh.write([page(batch((1, 5)), progress=SliceState("p0", 0, 10, 5))])
    wh.plan_slices(STREAM, planned)
    slices = wh.stream_state(STREAM).slices
    assert len(slices) == 1_201
    assert {(s.slice_id, s.lo_ms, s.hi_ms) for s in slices} == {
        (s.slice_id, s.lo_ms, s.hi_ms) for s in planned
    }
    assert [s.cursor_ms for s in slices if s.slice_id == "p0"] == [5]


def test_one_write_moves_many_slices_including_a_split_and_a_new_piece(wh: DuckDBSink) -> None:
    """The ledger rows of a write go in one statement: every slice of the write gets its
    last progress, a split slice its new upper bound, a split-off piece its first row."""
    wh.plan_slices(STREAM, [SliceState(f"s{i}", 100 * i, 100 * i + 100, 100 * i) for i in range(5)])
    pages = [
        page(
            batch((i, 100 * i + 5)),
            progress=SliceState(f"s{i}", 100 * i, 100 * i + 100, 100 * i + 5),
        )
        for i in range(5)
    ]
    pages.append(page(batch((9, 30)), progress=SliceState("s0", 0, 51, 30)))  # s0 split at 50
    pages.append(page(batch((8, 70)), progress=SliceState("50-100", 50, 100, 70)))  # the piece
    wh.write(pages)
    got = {(s.slice_id, s.lo_ms, s.hi_ms, s.cursor_ms) for s in wh.stream_state(STREAM).slices}
    assert got == {
        ("s0", 0, 51, 30),
        ("50-100", 50, 100, 70),
        *((f"s{i}", 100 * i, 100 * i + 100, 100 * i + 5) for i in range(1, 5)),
    }


def test_failed_write_changes_nothing(wh: DuckDBSink) -> None:
    wh.write([page(batch((1, 10)))])
    broken = batch((2, 10)).drop_columns(["url"])
    try:
        wh.write([page(batch((3, 10))), page(broken)])
    except Exception:
        pass
    else:
        raise AssertionError("a batch with a wrong schema must be refused")
    assert current(wh) == [("asset_1", 10)]
    assert wh.stream_state(STREAM).slices[0].cursor_ms == 0


# -- a first sync classifies without reading `assets` -------------------------------------


def test_a_first_sync_classifies_new_ids_without_reading_assets(wh: DuckDBSink) -> None:
    """Into an empty warehouse, a write whose ids are none of the stored ones skips the join
    with `assets`; a write with a stored id takes it, with the same counts as ever."""
    assert wh.write([page(batch((1, 10), (2, 10), (3, 10)))]) == WriteResult(new=3)
    assert wh.write([page(batch((4, 10), (5, 10), (4, 12)))]) == WriteResult(new=2, unchanged=1)
    assert wh.fresh_writes == 2
    assert wh.write([page(batch((2, 20), (6, 10)))]) == WriteResult(new=1, updated=1)
    assert wh.write([page(batch((3, 10)))]) == WriteResult(unchanged=1)
    assert wh.fresh_writes == 2
    assert wh.write([page(batch((7, 10)))]) == WriteResult(new=1)
    assert wh.fresh_writes == 3
    assert current(wh) == [(f"asset_{n}", 20 if n == 2 else 12 if n == 4 else 10)
                           for n in range(1, 8)]  # fmt: skip
    assert versions(wh) == sorted(
        [(f"asset_{n}", 10) for n in range(1, 8)] + [("asset_2", 20), ("asset_4", 12)]
    )


def test_an_all_new_write_stores_what_the_classified_write_stores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first sync's write of distinct new ids skips `CLS` and its joins (`all_new_once`):
    rows, versions, lineage edges and rejects are those of the classifying path, and a write
    with a duplicated or stored id still classifies."""
    writes = [
        [page(batch(*((n, 10) for n in range(12))), make_rejects(["asset_x", None]))],
        [page(batch((12, 10), (13, 10), (12, 11)))],  # a duplicated id: classified
        [page(batch((1, 20), (14, 10)))],  # a stored id: classified
        [page(batch((15, 10), (16, 10)))],
    ]
    classified: list[str | None] = []
    classify = upsert_module.classify

    def counting(con: object, valid: str, known: str | None) -> bool:
        classified.append(known)
        return classify(con, valid, known)  # type: ignore[arg-type]

    monkeypatch.setattr(upsert_module, "classify", counting)
    with open_warehouse(":memory:") as wh, DuckDBSink(":memory:", track_new_ids=False) as full:
        for pages in writes:
            assert wh.write(pages) == full.write(pages)
        assert wh.fresh_writes == 3 and full.fresh_writes == 0
        assert classified.count(None) == 4 and len(classified) == 6  # wh: writes 2 and 3
        assert tables(wh) == tables(full)
        assert len(tables(wh)["asset_lineage"]) > 12 and len(tables(wh)["rejected_assets"]) == 2
        known = "SELECT count(*) FROM _wh_known_ids"
        assert wh.connection.execute(known).fetchone() == (17,)


def test_a_warehouse_with_rows_always_classifies_by_the_join(db_path: str) -> None:
    with open_warehouse(db_path) as wh:
        wh.write([page(batch((1, 10)))])
    with open_warehouse(db_path) as wh:
        assert wh.write([page(batch((2, 10)))]) == WriteResult(new=1)
        assert wh.write([page(batch((1, 20)))]) == WriteResult(updated=1)
        assert wh.fresh_writes == 0
        assert current(wh) == [("asset_1", 20), ("asset_2", 10)]


def test_known_ids_outlive_a_reattach_and_forget_a_rolled_back_write(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids' hashes live in a temp table of the connection: attaching the file again keeps
    them, and a write that rolls back takes its own back with it. A stored id missing there
    would be inserted a second time; an id there that is not stored only costs the join."""
    with DuckDBSink(db_path, reattach_rows=2) as wh:
        assert wh.write([page(batch((1, 10), (2, 10)))]) == WriteResult(new=2)
        assert wh.write([page(batch((3, 10)))]) == WriteResult(new=1)
        assert wh.reattached == 1 and wh.fresh_writes == 2
        assert wh.write([page(batch((1, 20)))]) == WriteResult(updated=1)

        def broken(*_: object) -> None:
            raise RuntimeError("the progress could not be written")

        monkeypatch.setattr(upsert_module, "upsert_progress", broken)
        with pytest.raises(RuntimeError, match="progress"):
            wh.write([page(batch((8, 10), (9, 10)))])
        monkeypatch.undo()
        assert wh.write([page(batch((8, 10)))]) == WriteResult(new=1)
        assert wh.fresh_writes == 3  # 8 was not known: its first write rolled back
        count = "SELECT count(*), count(DISTINCT id) FROM assets"
        assert wh.connection.execute(count).fetchone() == (4, 4)
        known = "SELECT count(*) FROM _wh_known_ids"
        assert wh.connection.execute(known).fetchone() == (4,)
    with open_warehouse(db_path) as wh:
        assert current(wh) == [("asset_1", 20), ("asset_2", 10), ("asset_3", 10), ("asset_8", 10)]


# -- the property ------------------------------------------------------------------------

VERSIONS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(1, 8)), min_size=1, max_size=16, unique=True
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(VERSIONS, st.data())
def test_any_order_replay_or_duplication_gives_the_same_state(
    all_versions: list[tuple[int, int]], data: st.DataObject
) -> None:
    # Split the versions into batches, replay some, shuffle, coalesce into write calls.
    n_batches = data.draw(st.integers(1, min(5, len(all_versions))))
    owner = data.draw(st.lists(st.integers(0, n_batches - 1), min_size=len(all_versions),
                               max_size=len(all_versions)))  # fmt: skip
    batches = [[v for v, o in zip(all_versions, owner, strict=True) if o == b]
               for b in range(n_batches)]  # fmt: skip
    replays = data.draw(st.lists(st.integers(0, n_batches - 1), max_size=4))
    sequence = data.draw(st.permutations([*range(n_batches), *replays]))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(sequence) - 1)), max_size=3)))
    calls = [sequence[a:b] for a, b in zip([0, *cuts], [*cuts, len(sequence)], strict=True)]

    total = WriteResult()
    with open_warehouse(":memory:") as wh, DuckDBSink(":memory:", track_new_ids=False) as full:
        for call in calls:
            if call:
                pages = [page(batch(*batches[b])) for b in call]
                result = wh.write(pages)
                assert full.write(pages) == result  # the same counts with the full join
                total += result
        assert current(full) == current(wh) and versions(full) == versions(wh)
        assert tables(full) == tables(wh)  # the all-new and classifying paths store alike
        assert full.fresh_writes == 0 and wh.fresh_writes >= 1
        latest: dict[int, int] = {}
        for n, t in all_versions:
            latest[n] = max(t, latest.get(n, t))
        assert current(wh) == sorted((f"asset_{n}", t) for n, t in latest.items())
        assert versions(wh) == sorted((f"asset_{n}", t) for n, t in all_versions)
        assert total.new == len(latest)
        rows = sum(len(batches[b]) for b in sequence)
        assert total.new + total.updated + total.unchanged == rows
        # The current row is the exact content of its version, whatever the order.
        mismatched = wh.connection.execute(
            "SELECT count(*) FROM assets a JOIN asset_versions v"
            " ON v.id = a.id AND v.updated_at = a.updated_at"
            " WHERE v.raw <> a.raw OR v.name <> a.name"
        ).fetchone()
        assert mismatched == (0,)


def test_compact_keeps_every_row_and_restores_the_no_vacuum_setting(db_path: str) -> None:
    with open_warehouse(db_path) as wh:
        wh.write([page(batch(*((n, 10) for n in range(50))))])
        wh.write([page(batch(*((n, 20) for n in range(0, 50, 2))))])
        wh.compact()
        con = wh.connection
        assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall() == [(0,)]
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM assets").fetchall() == [
            (50, 50)
        ]
        assert con.execute("SELECT count(*) FROM asset_versions").fetchall() == [(75,)]


def test_json_typed_raw_is_stored_as_json_and_text_raw_makes_the_write_checked(
    wh: DuckDBSink,
) -> None:
    """Pages typed like ASSET_SCHEMA (`raw` as `arrow.json`, the engine's normalize) go in
    without DuckDB parsing `raw`; if any page of a write has plain-text `raw`, the whole
    write is checked, so a bad value from such a producer is still diverted, not stored."""
    trusted = batch((1, 10))
    assert isinstance(trusted.schema.field("raw").type, pa.JsonType)
    rows = batch((2, 10)).to_pylist()
    rows[0]["raw"] = "{not json"
    text = pa.RecordBatch.from_pylist(rows, schema=TEXT_RAW)
    result = wh.write([page(trusted), page(text)])
    assert result == WriteResult(new=1, rejected=1)
    stored = wh.connection.execute("SELECT id, raw->>'$.id', typeof(raw) FROM assets").fetchall()
    assert stored == [("asset_1", "asset_1", "JSON")]
    result = wh.write([page(batch((3, 10)))])  # trusted alone: stored, queryable as JSON
    assert result == WriteResult(new=1)
    assert wh.connection.execute(
        "SELECT raw->>'$.id' FROM asset_versions WHERE id = 'asset_3'"
    ).fetchall() == [("asset_3",)]


def test_dead_rows_of_many_runs_add_up_and_close_reclaims_them(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run sees ~3 % of the rows again, the same versions, and replaces them (delete +
    append: a new signed url, `last_synced_at`): no run alone reaches the 10 %
    share, but the dead rows of the runs add up, and the close that finds 10 % rewrites the
    table. What is left dead is at most the last row group the copy filled up; every live
    row is unchanged. (A checkpoint's vacuum only merges row groups the run changed, so
    before this nightly 1 % runs grew the table by 1 % a night for good.)"""
    monkeypatch.setattr(compaction, "COMPACT_MIN_DEAD_ROWS", 100)
    n, per_run = 30_000, 1_000
    with open_warehouse(db_path) as wh:
        wh.write([page(batch(*((i, 10) for i in range(n))))])
    seen: list[tuple[int, int]] = []
    for run in range(1, 5):
        with open_warehouse(db_path) as wh:
            changed = range((run - 1) * per_run, run * per_run)
            wh.write([page(batch(*((i, 10) for i in changed)))])
            seen.append(wh.dead_rows())
            before = wh.connection.execute(_LIVE).fetchall()
    assert seen == [(k * per_run, n + k * per_run) for k in range(1, 5)]
    with open_warehouse(db_path) as wh:  # the fourth close found 4,000 >= 10 % of 34,000
        dead, stored = wh.dead_rows()
        assert dead < WRITER_ROW_GROUP_SIZE and dead < 4 * per_run and stored == n + dead
        assert wh.connection.execute(_LIVE).fetchall() == before
        assert wh.connection.execute("SELECT count(*) FROM asset_versions").fetchone() == (n,)
    with open_warehouse(db_path) as wh:  # below the share: the next close leaves it alone
        assert wh.dead_rows() == (dead, stored)


def test_compact_returns_what_was_dead_and_keeps_every_row_and_view(db_path: str) -> None:
    with open_warehouse(db_path) as wh:
        assert wh.compact() == 0  # nothing dead: nothing rewritten
        wh.write([page(batch(*((n, 10) for n in range(20_000))))])
        wh.write([page(batch(*((n, 10) for n in range(10_000))))])  # seen again: replaced
        wh.write([page(batch(*((n, 20) for n in range(5_000))))])  # newer: the old ones stay
        assert wh.dead_rows() == (10_000, 35_000)
        live = wh.connection.execute(_LIVE).fetchall()
        history = wh.connection.execute("SELECT * FROM asset_history ORDER BY id, updated_at")
        versions = history.fetchall()
        assert wh.compact() == 10_000
        dead, stored = wh.dead_rows()
        assert dead < WRITER_ROW_GROUP_SIZE and stored == 25_000 + dead
        con = wh.connection
        assert con.execute(_LIVE).fetchall() == live
        assert con.execute("SELECT count(*) FROM live_assets").fetchone() == (20_000,)
        history = con.execute("SELECT * FROM asset_history ORDER BY id, updated_at")
        assert history.fetchall() == versions and len(versions) == 25_000
        assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone() == (0,)


def test_a_failed_compaction_still_closes_the_warehouse_and_loses_nothing(
    db_path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(compaction, "COMPACT_MIN_DEAD_ROWS", 1)
    monkeypatch.setattr(compaction, "DELETE_OLD", "DELETE FROM no_such_table WHERE 1 = ?")
    with open_warehouse(db_path) as wh:
        wh.write([page(batch(*((n, 10) for n in range(100))))])
        wh.write([page(batch(*((n, 10) for n in range(50))))])  # seen again: replaced
        live = wh.connection.execute(_LIVE).fetchall()
    assert "compaction failed, tried again at the next close" in caplog.text
    with open_warehouse(db_path) as wh:  # closed and released; the rewrite rolled back
        assert wh.dead_rows() == (50, 150)
        assert wh.connection.execute(_LIVE).fetchall() == live
        monkeypatch.undo()
        assert wh.compact() == 50


def test_big_batches_are_scanned_as_they_are_and_store_what_small_pages_store() -> None:
    """Batches of ~DuckDB's vector size (the engine's coalesced pages) are not copied into
    one table first; the result is the same as from 100-row pages, duplicates included."""
    n = 3000
    pairs = [(i, 10) for i in range(n)] + [(i, 20) for i in range(0, n, 7)]  # newer twins
    small = [page(batch(*pairs[i : i + 100])) for i in range(0, len(pairs), 100)]
    big = [page(batch(*pairs[i : i + 1500])) for i in range(0, len(pairs), 1500)]
    stored = "SELECT * EXCLUDE (first_synced_at, last_synced_at) FROM assets ORDER BY id"
    results, states = [], []
    for pages in (small, big):
        with open_warehouse(":memory:") as wh:
            results.append(wh.write(pages))
            states.append((wh.connection.execute(stored).fetchall(), versions(wh)))
    assert results[0] == results[1] == WriteResult(new=n, unchanged=len(pairs) - n)
    assert states[0] == states[1]
    assert len(states[0][1]) == len(pairs)


class _Statements:
    """The sink's connection, recording every statement it is given."""

    def __init__(self, con: object) -> None:
        self._con = con
        self.seen: list[str] = []

    def execute(self, sql: str, *args: object) -> object:
        self.seen.append(" ".join(sql.split()))
        return self._con.execute(sql, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_a_sink_creates_a_streams_row_once_it_knows_it_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ensure_stream`'s INSERT runs until a transaction that ran it has committed, then not
    again in that sink: once per stream, not twice per write. A rolled-back write leaves no
    row behind, so the next write creates it."""
    other = StreamKey("proj_b")
    with open_warehouse(":memory:") as wh:
        spy = _Statements(wh._con)
        monkeypatch.setattr(wh, "_con", spy)

        def ensures() -> int:
            return sum(s.startswith("INSERT INTO sync_state") for s in spy.seen)

        def broken(*_: object) -> None:
            raise RuntimeError("the progress could not be written")

        with monkeypatch.context() as m:
            m.setattr(upsert_module, "upsert_progress", broken)
            with pytest.raises(RuntimeError, match="progress"):
                wh.write([page(batch((1, 10)))])
        assert ensures() == 1
        assert wh.connection.execute("SELECT count(*) FROM sync_state").fetchone() == (0,)
        assert wh.write([page(batch((1, 10)))]) == WriteResult(new=1)
        assert ensures() == 2
        wh.complete_slices(STREAM, [], BASE_MS)
        assert wh.write([page(batch((2, 10)))]) == WriteResult(new=1)
        wh.complete_slices(STREAM, ["s1"], BASE_MS + 5)
        assert ensures() == 2  # the committed row is not asked for again
        assert wh.write([page(batch((3, 10)), stream=other)]) == WriteResult(new=1)
        wh.complete_slices(other, [], None)
        assert ensures() == 3  # another stream: its own row, once
        rows = wh.connection.execute(
            "SELECT stream_id, epoch_ms(watermark) FROM sync_state ORDER BY 1"
        ).fetchall()
        assert rows == [(STREAM.stream_id, BASE_MS + 5), (other.stream_id, None)]
