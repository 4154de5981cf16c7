"""Each fault kind, its cap, the token bucket, and latency that does not serialize clients."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assets_sync.emulator import Faults

from .conftest import client

P = {"pageSize": 20}


def statuses(c: httpx.Client, n: int) -> list[int]:
    return [c.get("/assets", params=P).status_code for _ in range(n)]


def test_exactly_max_faults_then_healthy(make_emu) -> None:
    e = make_emu(faults=Faults(error_5xx_rate=1.0, max_faults=3))
    with client(e) as c:
        got = statuses(c, 6)
    assert all(s in (500, 502, 503, 504) for s in got[:3]) and got[3:] == [200, 200, 200]
    st = e.stats()
    assert st["faults"] == {"5xx": 3} and st["faults_injected"] == 3 and st["pages_served"] == 3
    assert sum(v for k, v in st["by_status"].items() if k >= 500) == 3


def test_5xx_bodies_are_json_errors(make_emu) -> None:
    e = make_emu(faults=Faults(error_5xx_rate=1.0, seed=4))
    with client(e) as c:
        seen = set()
        for _ in range(30):
            r = c.get("/assets")
            seen.add(r.status_code)
            assert r.json()["traceId"]
    assert seen == {500, 502, 503, 504}


def test_random_429_retry_after_0_1_or_absent_with_remaining_seconds(make_emu) -> None:
    e = make_emu(faults=Faults(random_429_rate=1.0, seed=9))
    headers = set()
    with client(e) as c:
        for _ in range(30):
            r = c.get("/assets")
            assert r.status_code == 429
            body = r.json()
            assert set(body) == {"reason", "traceId", "remainingSeconds"}
            assert body["remainingSeconds"] in (0, 1)
            headers.add(r.headers.get("Retry-After"))
    assert headers == {"0", "1", None}
    assert e.stats()["status_429"] == 30


def test_token_bucket_rate_limit(make_emu) -> None:
    e = make_emu(faults=Faults(rate_limit_rps=4, rate_limit_burst=3))
    with client(e) as c:
        got = statuses(c, 4)
        assert got[:3] == [200, 200, 200] and got[3] == 429
        r = c.get("/assets")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert r.json()["remainingSeconds"] == 1
        time.sleep(0.3)  # 4 rps: one token after 0.25 s
        assert c.get("/assets").status_code == 200
    assert e.stats()["rate_limited"] == 2


def test_truncated_json_is_a_cut_200(make_emu) -> None:
    e = make_emu(faults=Faults(truncated_json_rate=1.0, max_faults=1))
    with client(e) as c:
        bad = c.get("/assets", params=P)
        good = c.get("/assets", params=P)
    assert bad.status_code == 200 and good.status_code == 200
    assert good.content.startswith(bad.content) and len(bad.content) < len(good.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.content)
    assert e.stats()["faults"] == {"truncated": 1}


def test_invalid_json_is_a_200_that_does_not_parse(make_emu) -> None:
    e = make_emu(faults=Faults(invalid_json_rate=1.0, max_faults=2))
    with client(e) as c:
        for _ in range(2):
            r = c.get("/assets", params=P)
            assert r.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(r.content)
        assert c.get("/assets", params=P).json()["assets"]


def test_html_error_page(make_emu) -> None:
    e = make_emu(faults=Faults(html_error_rate=1.0, max_faults=1))
    with client(e) as c:
        r = c.get("/assets")
        assert r.status_code in (502, 503, 504)
        assert r.headers["content-type"].startswith("text/html") and b"<html>" in r.content


def test_dropped_connection_then_recovery(make_emu) -> None:
    e = make_emu(faults=Faults(drop_connection_rate=1.0, max_faults=1))
    with client(e) as c:
        with pytest.raises(httpx.TransportError):
            c.get("/assets")
        assert c.get("/assets").status_code == 200
    assert e.stats()["faults"] == {"drop": 1}


def test_latency_does_not_serialize_concurrent_clients(make_emu) -> None:
    e = make_emu(faults=Faults(latency_ms=400))
    started = time.perf_counter()
    with ThreadPoolExecutor(6) as pool:
        codes = list(
            pool.map(
                lambda _: (
                    httpx.get(
                        e.base_url + "/assets", auth=("k3y", "s3cret"), timeout=10
                    ).status_code
                ),
                range(6),
            )
        )
    elapsed = time.perf_counter() - started
    assert codes == [200] * 6
    assert 0.4 <= elapsed < 1.6  # serialized would be >= 2.4 s


def test_mixed_faults_are_deterministic_by_seed(make_emu) -> None:
    f = Faults(random_429_rate=0.2, error_5xx_rate=0.2, html_error_rate=0.1, seed=42)
    runs = []
    for _ in range(2):
        e = make_emu(faults=f)
        with client(e) as c:
            runs.append(statuses(c, 25))
    assert runs[0] == runs[1] and len(set(runs[0])) > 2


def test_set_faults_at_runtime_and_admin_is_never_faulted(make_emu) -> None:
    e = make_emu()
    with client(e) as c:
        assert statuses(c, 2) == [200, 200]
        e.set_faults(Faults(error_5xx_rate=1.0))
        assert c.get("/assets").status_code >= 500
        assert c.get("/_emulator/stats").status_code == 200
        r = c.put("/_emulator/faults", json={})
        assert r.status_code == 200 and r.json()["error_5xx_rate"] == 0.0
        assert c.get("/assets").status_code == 200
        bad = c.put("/_emulator/faults", json={"error_5xx_rate": 2})
        assert bad.status_code == 400
        assert c.put("/_emulator/faults", json={"nope": 1}).status_code == 400
        c.post("/_emulator/faults", json={"random_429_rate": 1.0, "max_faults": 1})
        assert statuses(c, 2) == [429, 200]
