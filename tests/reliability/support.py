"""Shared pieces of the reliability suite: clients, fault-injecting transports, and the one
assertion everything ends with, "the warehouse equals the source".

`FaultTransport` wraps a real `httpx.HTTPTransport` (real sockets to the emulator) and lets a
rule replace or alter individual answers: what the emulator cannot inject by itself (a chosen
`Retry-After`, a repeated pagination token, a 400 for an expired token, a read that never
answers). The emulator itself is never modified.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator
from assets_sync.ratelimit import RateLimiter
from assets_sync.retry import FAST_RETRY, RetryPolicy
from assets_sync.sink import StreamKey
from assets_sync.windows import parse_iso_ms
from tests.loopback import serve
from warehouse import open_warehouse

KEY = "reliability-key"
SECRET = "rel-S3CRET-9f2c7d1e-never-leaves"  # a fake credential of the emulator
STREAM = StreamKey(None)

#: What a rule may answer for one request: None = pass through to the emulator.
Rewrite = Callable[[httpx.Response], httpx.Response]
Rule = Callable[[int, httpx.Request], "httpx.Response | Rewrite | None"]


class FaultTransport(httpx.BaseTransport):
    """Real HTTP to the emulator, except where `rule(n, request)` says otherwise.

    The rule gets the 1-based number of the request and the request. It returns None (pass
    through), an `httpx.Response` (answered without reaching the server), or a function that
    rewrites the emulator's real answer.
    """

    def __init__(self, rule: Rule | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.rule = rule
        self.requests = 0
        self.injected = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests += 1
            n = self.requests
        action = self.rule(n, request) if self.rule is not None else None
        if isinstance(action, httpx.Response):
            with self._lock:
                self.injected += 1
            return action
        response = self.inner.handle_request(request)
        if action is None:
            return response
        response.read()
        response.close()
        with self._lock:
            self.injected += 1
        return action(response)

    def close(self) -> None:
        self.inner.close()


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json",
                                                     **(headers or {})},
    )  # fmt: skip


def rewrite_body(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Rewrite:
    def apply(response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            return httpx.Response(response.status_code, content=response.content,
                                  headers=response.headers)  # fmt: skip
        body = fn(orjson.loads(response.content))
        return json_answer(200, body)

    return apply


@contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung upstream)."""
    with serve(lambda conn: None) as port:
        yield port


def settings_for(emu: Emulator, *, read_timeout_s: float = 10.0,
                 secret: str = SECRET) -> ApiSettings:  # fmt: skip
    return ApiSettings(
        base_url=emu.base_url,
        credentials=BasicAuth(SecretStr(KEY), SecretStr(secret)),
        read_timeout_s=read_timeout_s,
        connect_timeout_s=2.0,
    )


def client_for(
    emu: Emulator,
    transport: httpx.BaseTransport | None = None,
    *,
    retry: RetryPolicy = FAST_RETRY,
    read_timeout_s: float = 10.0,
    max_rate: float = 10_000.0,
    secret: str = SECRET,
) -> AssetsClient:
    return AssetsClient(
        settings_for(emu, read_timeout_s=read_timeout_s, secret=secret),
        transport=transport,
        retry=retry,
        limiter=RateLimiter(max_rate=max_rate),
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything a run may change, read back from a warehouse file."""

    assets: dict[str, tuple[Any, ...]]  # id -> (updated_ms, deleted?, lineage..., raw)
    versions: list[tuple[str, int]]
    lineage: list[tuple[str, str, str]]
    rejects: int
    watermark: int | None


def snapshot(path: str | Path, stream: StreamKey = STREAM) -> Snapshot:
    with open_warehouse(path, read_only=True) as wh:
        con = wh.connection
        rows = con.execute(
            "SELECT id, epoch_ms(updated_at), deleted_at IS NOT NULL, parent_id, root_id,"
            " inference_id, model_id, CAST(raw AS VARCHAR) FROM assets"
        ).fetchall()
        versions = con.execute(
            "SELECT id, epoch_ms(updated_at) FROM asset_versions ORDER BY ALL"
        ).fetchall()
        lineage = con.execute(
            "SELECT asset_id, related_id, relation FROM asset_lineage ORDER BY ALL"
        ).fetchall()
        rejects = con.execute("SELECT count(*) FROM rejected_assets").fetchone()
        state = wh.stream_state(stream)
    assets = {r[0]: tuple(r[1:]) for r in rows}
    assert len(assets) == len(rows), "duplicate ids in assets"
    return Snapshot(assets, versions, lineage, int(rejects[0]) if rejects else 0,
                    state.watermark_ms)  # fmt: skip


def expected_row(asset: dict[str, Any]) -> tuple[Any, ...]:
    meta = asset.get("metadata") or {}
    return (
        parse_iso_ms(asset["updatedAt"]),
        meta.get("parentId"),
        meta.get("rootParentId"),
        meta.get("inferenceId"),
        meta.get("modelId"),
    )


def assert_equals_source(path: str | Path, truth: list[dict[str, Any]],
                         stream: StreamKey = STREAM) -> Snapshot:  # fmt: skip
    """Live warehouse == the emulator's truth: ids, updatedAt, lineage columns; no duplicate
    id or version; every (id, updatedAt) of the source present exactly once in the history."""
    snap = snapshot(path, stream)
    live = {i: (r[0], *r[2:6]) for i, r in snap.assets.items() if not r[1]}
    want = {a["id"]: expected_row(a) for a in truth}
    missing = want.keys() - live.keys()
    extra = live.keys() - want.keys()
    assert not missing, f"{len(missing)} assets lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} live assets the source does not have, e.g. {sorted(extra)[:3]}"
    wrong = [i for i in want if live[i] != want[i]]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[0]}: {live[wrong[0]]}"
    assert len(snap.versions) == len(set(snap.versions)), "duplicate (id, updated_at) versions"
    have = set(snap.versions)
    lost = [(i, v[0]) for i, v in want.items() if (i, v[0]) not in have]
    assert not lost, f"{len(lost)} source versions missing from asset_versions, e.g. {lost[:3]}"
    return snap
