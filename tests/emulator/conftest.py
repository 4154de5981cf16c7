"""Fixtures: one shared read-only emulator per module, fresh ones for tests that mutate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from assets_sync.emulator import Emulator, EmulatorConfig

KEY, SECRET, BEARER = "k3y", "s3cret", "b3arer"
SHARED = EmulatorConfig(
    assets=3000, seed=7, projects=3, api_key=KEY, api_secret=SECRET, bearer_token=BEARER
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """Shared emulator; tests using it must not mutate it."""
    with Emulator(SHARED) as e:
        yield e


@pytest.fixture
def make_emu() -> Iterator[Callable[..., Emulator]]:
    """Factory of fresh emulators (stopped at the end of the test)."""
    started: list[Emulator] = []

    def make(**kw: Any) -> Emulator:
        cfg = EmulatorConfig(
            **{
                "assets": 600,
                "seed": 3,
                "api_key": KEY,
                "api_secret": SECRET,
                "bearer_token": BEARER,
                **kw,
            }
        )
        e = Emulator(cfg).start()
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()


def client(e: Emulator, auth: Any = (KEY, SECRET), **kw: Any) -> httpx.Client:
    headers = kw.pop("headers", {})
    return httpx.Client(base_url=e.base_url, auth=auth, headers=headers, timeout=10, **kw)


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx.Client]:
    with client(emu) as c:
        yield c


def fetch_all(
    c: httpx.Client, params: dict[str, Any], max_pages: int = 2000
) -> list[dict[str, Any]]:
    """Follow nextPaginationToken naively until the last page."""
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(max_pages):
        p = dict(params)
        if token:
            p["paginationToken"] = token
        r = c.get("/assets", params=p)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["assets"])
        token = body.get("nextPaginationToken")
        if not token:
            return out
    raise AssertionError("pagination did not end")


def ids(assets: list[dict[str, Any]]) -> list[str]:
    return [a["id"] for a in assets]
