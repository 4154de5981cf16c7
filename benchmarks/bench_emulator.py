"""Emulator benchmarks: start-up time and memory, and pages served per second.

    python benchmarks/bench_emulator.py            # 100k and 1M assets, up to 10k pages of 100
    python benchmarks/bench_emulator.py --quick    # 100k assets, 300 pages

Each measurement runs the emulator in its own process (`python -m assets_sync.emulator`), so
RSS is the server's alone and the client does not share its GIL. Pages are fetched over one
keep-alive HTTP/1.1 connection per client (`http.client`: lighter than httpx, so that the
client is less of a limit), following tokens (offset mode), `pageSize=100`, `sortBy=updatedAt`,
`asc`: the engine's access pattern. The client decodes every JSON body, as a real client
would; with 2 cores, client and server each get about one. Server CPU per page (user + system
time of the server process) is printed next to every rate: on a shared machine it is the
steadier number.

"cold" pages render every asset for the first time (the cost of a first full sync); "warm"
pages re-read assets still in the emulator's cache of serialized assets (lookback windows,
re-syncs, tests that compare with `truth()`).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
AUTH = ("bench-key", "bench-secret")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(assets: int) -> tuple[subprocess.Popen[str], str, float]:
    """Spawn the emulator; return it, its base URL and seconds until the first page answered."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assets_sync.emulator", "--port", str(port), "--assets",
         str(assets), "--api-key", AUTH[0], "--api-secret", AUTH[1]],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    while True:
        try:
            httpx.get(base + "/assets", params={"pageSize": 1}, auth=AUTH, timeout=5)
            return proc, base, time.perf_counter() - started
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read() if proc.stderr else "emulator died") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def fetch_pages(base: str, pages: int, start_offset: int = 0) -> int:
    """Follow tokens for `pages` pages (wrapping around at the end); return assets seen."""
    seen = 0
    token: str | None = None
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    headers = {"Authorization": "Basic " + base64.b64encode(":".join(AUTH).encode()).decode()}
    try:
        for _ in range(pages):
            params: dict[str, str | int] = {"pageSize": 100, "sortBy": "updatedAt",
                                            "sortDirection": "asc"}  # fmt: skip
            if token:
                params["paginationToken"] = token
            elif start_offset:
                params["paginationToken"] = _offset(start_offset)
            conn.request("GET", f"{url.path}/assets?{urlencode(params)}", headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
            body = orjson.loads(data)
            seen += len(body["assets"])
            token = body.get("nextPaginationToken")
    finally:
        conn.close()
    return seen


def _offset(offset: int) -> str:
    return base64.b64encode(orjson.dumps({"offset": offset, "limit": 100})).decode()


def timed(
    proc: subprocess.Popen[str], base: str, jobs: list[tuple[int, int]]
) -> tuple[float, float]:
    """Run one client thread per (pages, start offset); return (pages/s, server CPU ms/page)."""
    srv = psutil.Process(proc.pid)
    cpu0 = sum(srv.cpu_times()[:2])
    t0 = time.perf_counter()
    threads = [threading.Thread(target=fetch_pages, args=(base, p, o)) for p, o in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = sum(srv.cpu_times()[:2]) - cpu0
    pages = sum(p for p, _ in jobs)
    return pages / wall, cpu * 1000 / pages


def bench(assets: int, pages: int, clients: int) -> dict[str, float]:
    """Cold: every asset read for the first time (rendered). Warm: re-reads (render cache)."""
    proc, base, ready_s = start_server(assets)
    try:
        rss_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
        out: dict[str, float] = {"assets": assets, "ready_s": ready_s, "rss_start_mb": rss_mb}
        cold = min(pages, assets // 100)
        out["cold_1c"], out["cold_1c_cpu"] = timed(proc, base, [(cold, 0)])
        warm = min(1000, cold)
        start = (cold - warm) * 100  # the most recently rendered pages: still cached
        out["warm_1c"], out["warm_1c_cpu"] = timed(proc, base, [(warm, start)])
        per = warm // clients
        jobs = [(per, start + i * per * 100) for i in range(clients)]
        out["warm_nc"], out["warm_nc_cpu"] = timed(proc, base, jobs)
        out["rss_end_mb"] = psutil.Process(proc.pid).memory_info().rss / 2**20
        return out
    finally:
        stop(proc)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="100k assets, 300 pages")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients (second run)")
    args = p.parse_args()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    pages = 300 if args.quick else 10_000
    t0 = time.perf_counter()
    total = 0
    for i in range(1_000_000):  # calibration: how fast is this machine's Python right now?
        total += i
    loop_ms = (time.perf_counter() - t0) * 1000
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"load {os.getloadavg()[0]:.1f}, 1M-iteration Python loop {loop_ms:.0f} ms")  # fmt: skip
    for n in sizes:
        r = bench(n, pages, args.clients)
        print(
            f"assets={n:>9,}  ready={r['ready_s']:.2f}s  rss={r['rss_start_mb']:.0f}MB"
            f"->{r['rss_end_mb']:.0f}MB | cold 1 client {r['cold_1c']:.0f} pages/s"
            f" ({r['cold_1c_cpu']:.2f} ms server CPU/page) | warm 1 client {r['warm_1c']:.0f}"
            f" ({r['warm_1c_cpu']:.2f}) | warm {args.clients} clients {r['warm_nc']:.0f}"
            f" ({r['warm_nc_cpu']:.2f})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
