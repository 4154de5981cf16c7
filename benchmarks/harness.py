"""Process harness of the comparison benchmarks: an emulator process, contender processes,
wall time, CPU time and peak RSS of each contender, and the machine they ran on.

Every contender runs as its own process (`python benchmarks/contenders/<x>.py ...` or the
`assets-sync` CLI) against an emulator that is ALSO its own process, over real HTTP on
127.0.0.1. What a contender costs is measured from the outside:

- wall time: `time.perf_counter()` from `Popen` to the child's exit (interpreter start-up and
  imports included); a contender also prints its own JSON line with the time of the work alone;
- peak RSS: the larger of the kernel's `ru_maxrss` of the child (from `os.wait4`, exact for
  that one process) and the peak of the summed RSS of its process tree sampled every 20 ms
  with psutil (covers helper processes a contender may spawn);
- CPU seconds (user + system) of the child, from the same `wait4` rusage: on a shared machine
  they tell the work apart from the waiting. The system share and the minor page faults are
  kept too: unlike the times, the fault count barely moves with the machine's other tenants,
  so it compares two runs' memory churn reliably (benchmarks/RESULTS.md, thirteenth session).

The last stdout line of a contender that parses as a JSON object is its result.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
CONTENDERS = BENCH / "contenders"
KEY, SECRET = "bench-key", "bench-secret"
AUTH = (KEY, SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    """Cores, memory and the load average right now: printed next to every figure."""
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_line(m: Mapping[str, Any]) -> str:
    load = "/".join(f"{x:.1f}" for x in m["load_avg_1_5_15"])
    return (
        f"{m['cores']} cores, {m['memory_gib']:.0f} GiB, Python {m['python']}, "
        f"load average {load} (1/5/15 min) at {m['time_utc']}"
    )


def contender_env(base_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of a contender: credentials in env (never in argv), no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "SCENARIO_API_URL": base_url,
            "SCENARIO_API_KEY": KEY,
            "SCENARIO_API_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class EmulatorProcess:
    """`python -m assets_sync.emulator` in its own process, with admin helpers."""

    def __init__(
        self,
        assets: int,
        *,
        seed: int = 1,
        latency_ms: float = 0.0,
        rate_limit_rps: float | None = None,
        rate_limit_burst: int | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout_s: float = 300.0,
    ) -> None:
        self.assets = assets
        self.port = free_port()
        cmd = [sys.executable, "-m", "assets_sync.emulator", "--port", str(self.port)]
        cmd += ["--assets", str(assets), "--seed", str(seed)]
        cmd += ["--api-key", KEY, "--api-secret", SECRET]
        if latency_ms:
            cmd += ["--latency-ms", str(latency_ms)]
        if rate_limit_rps is not None:
            cmd += ["--rate-limit-rps", str(rate_limit_rps)]
        if rate_limit_burst is not None:
            cmd += ["--rate-limit-burst", str(rate_limit_burst)]
        cmd += list(extra_args)
        self.cmd = cmd
        self.ready_timeout_s = ready_timeout_s
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.admin_url = f"http://127.0.0.1:{self.port}/_emulator"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_s = 0.0

    def __enter__(self) -> EmulatorProcess:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.DEVNULL, stderr=self._log, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        deadline = time.monotonic() + self.ready_timeout_s
        with httpx.Client(auth=AUTH, timeout=10) as c:
            while True:
                try:
                    if c.get(self.admin_url + "/info").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self._log.seek(0)
                    tail = self._log.read().decode(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"emulator did not start: {tail}")
                time.sleep(0.05)
        self.ready_s = time.perf_counter() - t0
        self.reset_stats()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def _admin(self, method: str, name: str, body: Any = None) -> Any:
        with httpx.Client(auth=AUTH, timeout=120) as c:
            r = c.request(method, f"{self.admin_url}/{name}", json=body)
            r.raise_for_status()
            return r.json()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = self._admin("GET", "stats")
        return out

    def reset_stats(self) -> None:
        self._admin("POST", "stats/reset")

    def update(self, n: int) -> list[str]:
        ids: list[str] = self._admin("POST", "update", {"n": n})["ids"]
        return ids

    def delete(self, n: int) -> list[str]:
        ids: list[str] = self._admin("POST", "delete", {"n": n})["ids"]
        return ids

    def usage(self) -> dict[str, float]:
        """The emulator's own CPU seconds and RSS so far (it shares the box with the client)."""
        if self.proc is None:
            return {}
        p = psutil.Process(self.proc.pid)
        t = p.cpu_times()
        return {"cpu_s": round(t.user + t.system, 2), "rss_mb": round(p.memory_info().rss / 2**20)}


@dataclass
class Measurement:
    name: str
    cmd: list[str]
    wall_s: float = 0.0
    cpu_s: float = 0.0
    sys_s: float = 0.0  # the kernel's share of cpu_s (page faults, syscalls, futexes)
    minor_faults: int = 0  # pages first touched (or touched again after being returned)
    peak_rss_mb: float = 0.0
    maxrss_mb: float = 0.0  # kernel's ru_maxrss of the child alone
    tree_peak_rss_mb: float = 0.0  # psutil-sampled peak of the child's process tree
    returncode: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    load_avg_1m: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tree_rss(p: psutil.Process) -> int:
    total = 0
    try:
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total


def run_process(
    name: str,
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3600.0,
    poll_s: float = 0.02,
) -> Measurement:
    """Run `cmd` to completion; measure wall, CPU and peak RSS; parse its JSON result line."""
    m = Measurement(name=name, cmd=list(cmd))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, cwd=ROOT,
            env=dict(env) if env is not None else None,
        )  # fmt: skip
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                ps = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                peak = max(peak, _tree_rss(ps))
                done.wait(poll_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
            done.set()
            sampler.join()
        m.wall_s = round(time.perf_counter() - t0, 3)
        proc.returncode = os.waitstatus_to_exitcode(status)
        m.returncode = proc.returncode
        m.cpu_s = round(ru.ru_utime + ru.ru_stime, 2)
        m.sys_s = round(ru.ru_stime, 2)
        m.minor_faults = ru.ru_minflt
        m.maxrss_mb = round(ru.ru_maxrss / 1024, 1)  # Linux: KiB
        m.tree_peak_rss_mb = round(peak / 2**20, 1)
        m.peak_rss_mb = max(m.maxrss_mb, m.tree_peak_rss_mb)
        m.load_avg_1m = round(os.getloadavg()[0], 2)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        m.stderr_tail = err.read().decode(errors="replace")[-3000:]
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                m.result = json.loads(line)
                break
            except ValueError:
                continue
    return m


def output_dir(out_dir: str | None, quick: bool, prefix: str) -> Path:
    """Where a benchmark writes its results: `out_dir` if given, a fresh temporary folder for a
    `--quick` smoke (its numbers are not results), else `benchmarks/results`. Created."""
    if out_dir:
        path = Path(out_dir)
    elif quick:
        path = Path(tempfile.mkdtemp(prefix=prefix))
    else:
        path = BENCH / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def publish(out_dir: Path, label: str, res: dict[str, Any], md: str) -> Path:
    """Write a benchmark's `<label>.json` (`res`) and `<label>.md` (`md`), print the markdown,
    and say on stderr where the results went (with `res["total_s"]` when there is one)."""
    path = out_dir / f"{label}.json"
    path.write_text(json.dumps(res, indent=2, default=str))
    (out_dir / f"{label}.md").write_text(md)
    print(md)
    took = f" in {res['total_s']} s" if "total_s" in res else ""
    print(f"[{time.strftime('%H:%M:%S')}] done{took}: {path}", file=sys.stderr, flush=True)
    return path


def python_cmd(script: str, *args: str) -> list[str]:
    return [sys.executable, str(CONTENDERS / script), *args]


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)
