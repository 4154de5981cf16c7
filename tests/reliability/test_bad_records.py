"""Bad records mixed with good ones, through the real client, engine and DuckDB sink.

Hypothesis builds pages of asset objects: good ones (unicode and huge strings, unknown fields
holding nested junk, unusual but valid timestamps) and bad ones (not an object, missing or
wrong-typed id, missing or impossible timestamps, wrong-typed metadata, tags, dimensions, text
fields holding objects). A fake API (`httpx.MockTransport`, the client's only I/O seam) serves
each page; the run must succeed, every good record must be in `assets` exactly as received
(`raw` round-trips), every bad one in `rejected_assets` with a reason, nothing else anywhere.
Each example is its own stream (project), so one warehouse serves the whole run.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import StreamKey
from assets_sync.windows import parse_iso_ms
from warehouse import DuckDBSink, open_warehouse

CONFIG = SyncConfig(start_ms=0, slices=1, settle_lag_ms=0, lookback_ms=0)
_ids = itertools.count()
FUZZED = {"records": 0, "good": 0, "bad": 0, "examples": 0}

junk: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "🦄 générée ✨", "\u202e\u0000\t\n", "'; DROP TABLE assets; --",
                     "../../etc/passwd", "x" * 100_000, "€" * 30_000]),
)  # fmt: skip
millis = st.integers(min_value=0, max_value=1_800_000_000_000)


def iso(ms: int, style: int) -> str:
    from datetime import UTC, datetime, timedelta

    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    if style == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    if style == 1:  # an offset instead of Z
        return dt.astimezone(UTC).isoformat(timespec="milliseconds")
    if style == 2:  # naive: UTC by the API's convention
        return dt.replace(tzinfo=None).isoformat(timespec="milliseconds")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "Z"  # whole seconds


@st.composite
def good_asset(draw: st.DrawFn) -> dict[str, Any]:
    updated = draw(millis)
    created = draw(st.integers(min_value=0, max_value=updated))
    asset: dict[str, Any] = {
        "id": f"asset_fz{next(_ids)}",
        "updatedAt": iso(updated, draw(st.integers(0, 3))),
        "createdAt": iso(created, 0),
        "kind": draw(st.sampled_from(["image", "video", "3d", "audio", "🤖"])),
        "metadata": {"type": draw(text), "name": draw(text)},
    }
    if draw(st.booleans()):
        asset["metadata"]["parentId"] = f"asset_p{draw(st.integers(0, 9))}"
        asset["metadata"]["rootParentId"] = "asset_root"
    if draw(st.booleans()):
        asset["tags"] = draw(st.lists(text, max_size=5))
    if draw(st.booleans()):
        asset["properties"] = {"width": draw(st.integers(0, 2**31 - 1)), "size": 10}
    for key in draw(st.lists(st.text(min_size=1, max_size=10), max_size=3)):
        asset["x_" + key] = draw(junk)  # unknown fields: kept in raw, never a reason to reject
    return asset


BAD_PATCHES: list[tuple[str, Any]] = [
    ("id", None), ("id", 123), ("id", ""), ("id", ["asset_x"]),
    ("updatedAt", None), ("updatedAt", "not a date"), ("updatedAt", 1_700_000_000_000),
    ("updatedAt", "2025-02-30T00:00:00Z"), ("updatedAt", {"$date": "2025-01-01"}),
    ("createdAt", "yesterday"), ("createdAt", []),
    ("metadata", "a string"), ("metadata", [1, 2]), ("properties", 5),
    ("tags", "a,b"), ("tags", [1, 2]), ("collectionIds", {"a": 1}),
    ("properties", {"width": 2**40}), ("properties", {"width": "wide"}),
    ("properties", {"height": True}), ("properties", {"size": 2**63}),
    ("status", {"nested": "object"}), ("privacy", ["public"]),
]  # fmt: skip


@st.composite
def bad_record(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:  # not an object at all
        return draw(st.sampled_from([42, "asset", [1, 2], None, True]))
    asset = draw(good_asset())
    key, value = draw(st.sampled_from(BAD_PATCHES))
    if value is None:
        asset.pop(key, None)
    else:
        asset[key] = value
    return asset


@st.composite
def page(draw: st.DrawFn) -> tuple[list[Any], list[int]]:
    """(records in serving order, indexes of the bad ones)."""
    good = draw(st.lists(good_asset(), min_size=5, max_size=40))
    bad = draw(st.lists(bad_record(), min_size=1, max_size=15))
    records = [*good, *bad]
    order = draw(st.permutations(range(len(records))))
    shuffled = [records[i] for i in order]
    bad_at = [n for n, i in enumerate(order) if i >= len(good)]
    return shuffled, bad_at


def dump(record: Any) -> bytes:
    try:
        return orjson.dumps(record)
    except (TypeError, orjson.JSONEncodeError):
        return repr(record).encode()


def client_serving(records: list[Any]) -> AssetsClient:
    body = json.dumps({"assets": records}, ensure_ascii=False).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    settings_ = ApiSettings(
        base_url="https://api.invalid/v1", credentials=BasicAuth(SecretStr("k"), SecretStr("s"))
    )
    return AssetsClient(settings_, transport=httpx.MockTransport(handler), retry=FAST_RETRY,
                        limiter=NoLimit())  # fmt: skip


def check_page(wh: DuckDBSink, records: list[Any], bad_at: list[int]) -> None:
    stream = StreamKey(f"proj_fz{next(_ids)}")
    with client_serving(records) as client:
        report = run_sync(client, wh, stream, CONFIG)
    bad = set(bad_at)
    good = [r for n, r in enumerate(records) if n not in bad]
    assert report.counts.rejected == len(bad)
    assert report.counts.new == len(good)
    con = wh.connection
    rows = con.execute(
        "SELECT id, epoch_ms(updated_at), CAST(raw AS VARCHAR) FROM assets WHERE project_id = ?",
        [stream.project_id],
    ).fetchall()
    stored = {r[0]: (r[1], r[2]) for r in rows}
    assert len(stored) == len(rows) == len(good)
    for asset in good:
        updated, raw = stored[asset["id"]]
        assert updated == parse_iso_ms(asset["updatedAt"])
        assert orjson.loads(raw) == asset
    rejects = con.execute(
        "SELECT asset_id, reason, CAST(raw AS VARCHAR) FROM rejected_assets WHERE stream_id = ?",
        [stream.stream_id],
    ).fetchall()
    # A replayed reject is stored once, so identical bad records of a page are one row.
    assert len(rejects) == len({dump(r) for n, r in enumerate(records) if n in bad})
    assert all(reason for _, reason, _ in rejects)
    want_ids = sorted(
        r["id"] for n, r in enumerate(records)
        if n in bad and isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]
    )  # fmt: skip
    assert sorted(i for i, _, _ in rejects if i is not None) == want_ids
    FUZZED["examples"] += 1
    FUZZED["records"] += len(records)
    FUZZED["good"] += len(good)
    FUZZED["bad"] += len(bad)


def run_fuzz(tmp_path: Path, examples: int) -> None:
    with open_warehouse(tmp_path / "wh.duckdb") as wh:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(page())
        def check(drawn: tuple[list[Any], list[int]]) -> None:
            check_page(wh, *drawn)

        check()
        total = wh.connection.execute("SELECT count(*) FROM assets").fetchone()
    print(f"fuzzed {FUZZED}")
    assert total is not None and total[0] > 0


def test_bad_records_are_rejected_good_ones_load(tmp_path: Path) -> None:
    run_fuzz(tmp_path, examples=15)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_bad_records_many(tmp_path: Path) -> None:
    run_fuzz(tmp_path, examples=400)
