"""Side-by-side benchmark (issue 7): floor vs dlt vs assets-sync, each in its own process,
against the emulator in its own process, over real HTTP on 127.0.0.1.

    python benchmarks/bench_compare.py                      # 100k assets, every scenario
    python benchmarks/bench_compare.py --assets 1000000 --contenders floor,engine
    python benchmarks/bench_compare.py --profile pyspy      # + profile of the engine's full sync
    python benchmarks/bench_compare.py --quick              # tiny sizes, CI smoke (< 60 s)
    python benchmarks/bench_compare.py --assets 1000000 --contenders floor,engine,cli \
        --skip-reconcile --rounds 3      # three whole rounds; the median one is reported

Scenarios (`--scenarios`, comma separated):

- `compare`: a full load of N assets by every contender, each against a FRESH emulator (same
  seed, so the same data, and an equally cold render cache):
  `floor` (bare httpx paging, JSON parsed and dropped), `dlt` and `dlt-parquet` (dlt's REST API
  source, incremental on updatedAt, merge into DuckDB; skipped when dlt is not installed:
  `pip install -e '.[bench]'`), `engine` (assets-sync's `run_sync` alone, no Dagster, then a
  no-op incremental, an incremental after 1 % of the assets changed and a reconcile, all on
  the same emulator and warehouse), `engine-nolimit` (the same full sync with the client's
  rate limiter lifted) and `cli` (`python -m pipelines sync --no-export --quiet
  --settle-lag-seconds 0`: the same four runs through Dagster, as a user runs them).
- `latency`: 100 ms per request, no rate limit: a first sync as one sequential stream
  (`--slices 1 --concurrency 1`) vs the defaults (16 slices, 12 at once) vs 16/8 and 16/16.
- `ratelimit`: an emulator token bucket of R requests/s: throughput vs R, share of 429s.

Wall time, CPU seconds and peak RSS of each contender process come from `harness.py`; request
counts from the emulator's `/_emulator/stats`. Output: `<out-dir>/<label>.json` and
`<out-dir>/<label>.md` (the tables, with the machine and its load average next to each),
plus the markdown on stdout. `--quick` writes to a temporary folder unless `--out-dir` is set.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rounds as rounds_mod
from harness import (
    BENCH,
    EmulatorProcess,
    Measurement,
    contender_env,
    machine,
    machine_line,
    publish,
    python_cmd,
    run_process,
)

ALL_CONTENDERS = ("floor", "dlt", "dlt-parquet", "engine", "engine-nolimit", "cli")
QUICK_CONTENDERS = ("floor", "dlt-parquet", "engine", "cli")
ALL_SCENARIOS = ("compare", "latency", "ratelimit")
NO_LIMIT = "100000"  # client limiter max_rate that never binds on loopback


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _row(m: Measurement, emu: EmulatorProcess, before: dict[str, Any]) -> dict[str, Any]:
    stats = emu.stats()
    usage = emu.usage()
    row: dict[str, Any] = {
        "name": m.name,
        "ok": m.ok,
        "wall_s": m.wall_s,
        "work_s": m.result.get("work_s"),
        "cpu_s": m.cpu_s,
        "sys_s": m.sys_s,
        "minor_faults": m.minor_faults,
        "peak_rss_mb": m.peak_rss_mb,
        "maxrss_mb": m.maxrss_mb,
        "tree_peak_rss_mb": m.tree_peak_rss_mb,
        "requests": stats["requests"],
        "status_429": stats["status_429"],
        "by_status": stats["by_status"],
        "assets_served": stats.get("assets_served"),
        "emulator_cpu_s": round(usage.get("cpu_s", 0.0) - before.get("cpu_s", 0.0), 2),
        "emulator_rss_mb": usage.get("rss_mb"),
        "load_avg_1m": m.load_avg_1m,
        "result": m.result,
    }
    if not m.ok:
        row["stderr_tail"] = m.stderr_tail
        log(f"  !! {m.name} exited {m.returncode}: {m.stderr_tail[-800:]}")
    return row


def measure(
    emu: EmulatorProcess, name: str, cmd: list[str], timeout_s: float, env_extra: dict[str, str]
) -> dict[str, Any]:
    emu.reset_stats()
    before = emu.usage()
    m = run_process(name, cmd, env=contender_env(emu.base_url, env_extra), timeout_s=timeout_s)
    row = _row(m, emu, before)
    log(
        f"  {name}: wall {m.wall_s:.2f}s work {row['work_s']} cpu {m.cpu_s:.1f}s "
        f"rss {m.peak_rss_mb:.0f}MB requests {row['requests']} (load {m.load_avg_1m})"
    )
    return row


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.timeout = args.timeout

    def emulator(self, assets: int, **kw: Any) -> EmulatorProcess:
        tokens = ["--token-mode", self.args.token_mode]
        return EmulatorProcess(assets, seed=self.args.seed, extra_args=tokens, **kw)

    # -- scenario 1 -------------------------------------------------------------------------
    def compare(self, n: int, contenders: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"assets": n, "machine_before": machine(), "rows": {}}
        have_dlt = importlib.util.find_spec("dlt") is not None
        for name in contenders:
            if name.startswith("dlt") and not have_dlt:
                log(f"{name}: skipped (dlt not installed; pip install -e '.[bench]')")
                out["rows"][name] = {"name": name, "skipped": "dlt not installed"}
                continue
            log(f"compare {name}: {n} assets")
            with self.emulator(n) as emu:
                out["emulator_ready_s"] = round(emu.ready_s, 2)
                out["rows"].update(self._contender(emu, name, n))
        out["machine_after"] = machine()
        return out

    def _contender(self, emu: EmulatorProcess, name: str, n: int) -> dict[str, Any]:
        d = self.work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        rows: dict[str, Any] = {}
        if name == "floor":
            rows["floor"] = measure(emu, name, python_cmd("floor.py"), self.timeout, {})
        elif name in ("dlt", "dlt-parquet"):
            fmt = "parquet" if name == "dlt-parquet" else "default"
            cmd = python_cmd("dlt_source.py", "--dir", str(d), "--format", fmt)
            rows[name] = measure(emu, name, cmd, self.timeout, {})
        elif name in ("engine", "engine-nolimit"):
            wh = str(d / "wh.duckdb")

            def engine(*extra: str) -> list[str]:
                cmd = python_cmd("assets_sync_run.py", "--warehouse", wh, *extra)
                limit = ["--max-rate", NO_LIMIT] if name == "engine-nolimit" else []
                return [*cmd, *limit]

            rows[name] = measure(emu, name, engine(), self.timeout, {})
            if name == "engine" or not self.args.quick:
                rows.update(self._incrementals(emu, n, name, engine, quick=self.args.quick))
        elif name == "cli":
            wh = str(d / "wh.duckdb")

            def cli(*extra: str) -> list[str]:
                command = extra[0] if extra else "sync"
                cmd = [sys.executable, "-m", "pipelines", command, "--warehouse", wh, "--quiet",
                       "--settle-lag-seconds", "0"]  # fmt: skip
                return cmd + (["--no-export"] if command == "sync" else [])

            rows["cli"] = measure(emu, "cli", cli(), self.timeout, {"DAGSTER_HOME": str(d)})
            if not self.args.quick:  # the engine's incrementals cover the paths in the smoke
                rows.update(self._incrementals(emu, n, "cli", cli, {"DAGSTER_HOME": str(d)}))
        return rows

    def _incrementals(
        self,
        emu: EmulatorProcess,
        n: int,
        prefix: str,
        cmd_for: Callable[..., list[str]],
        env: dict[str, str] | None = None,
        *,
        quick: bool = False,
    ) -> dict[str, Any]:
        env = env or {}
        rows: dict[str, Any] = {}
        rows[f"{prefix}-noop"] = measure(emu, f"{prefix}-noop", cmd_for(), self.timeout, env)
        # 1 % of the assets changed, spread in time: admin updates of 10 assets each (one
        # admin call stamps all its assets with ONE updatedAt ms, so 10 per ms here).
        changed = max(1, n // 100)
        chunk = min(10, changed)
        for _ in range(math.ceil(changed / chunk)):
            emu.update(chunk)
        row = measure(emu, f"{prefix}-1pct", cmd_for(), self.timeout, env)
        row["changed"] = chunk * math.ceil(changed / chunk)
        rows[f"{prefix}-1pct"] = row
        if quick:
            return rows
        # The same 1 % as one bulk edit: every changed asset shares one updatedAt ms (a tie
        # group of `changed` assets, larger than a page: the token-following path).
        emu.update(changed)
        row = measure(emu, f"{prefix}-1pct-bulk", cmd_for(), self.timeout, env)
        row["changed"] = changed
        # The spread changes above are minutes old, inside the sync's 15-minute lookback, so
        # this window holds them too and they are read again: reported beside the bound.
        row["also_in_lookback"] = rows[f"{prefix}-1pct"]["changed"]
        rows[f"{prefix}-1pct-bulk"] = row
        if self.args.skip_reconcile:
            return rows
        deleted = max(1, n // 1000)
        emu.delete(deleted)
        mode = ["--mode", "reconcile"] if prefix.startswith("engine") else ["reconcile"]
        row = measure(emu, f"{prefix}-reconcile", cmd_for(*mode), self.timeout, env)
        row["deleted_upstream"] = deleted
        rows[f"{prefix}-reconcile"] = row
        return rows

    # -- profile ----------------------------------------------------------------------------
    def profile(self, n: int, how: str) -> str:
        """One more engine full sync against a fresh emulator, under a profiler (not timed)."""
        log(f"profile ({how}) of the engine's full sync: {n} assets")
        wh = str(self.work / "profiled.duckdb")
        cmd = python_cmd("assets_sync_run.py", "--warehouse", wh)
        prof = self.work / ("engine_full.prof" if how == "cprofile" else "engine_full.pyspy.txt")
        if how == "cprofile":
            cmd += ["--cprofile", str(prof)]
        else:
            cmd = pyspy_cmd(prof, cmd)
        with self.emulator(n) as emu:
            row = measure(emu, f"engine under {how}", cmd, self.timeout, {})
        if not prof.exists():
            return f"(no profile: {row.get('stderr_tail', '')[-500:]})"
        head = f"engine full sync under {how}: wall {row['wall_s']} s, work {row['work_s']} s\n"
        if how == "cprofile":
            return head + summarize_cprofile(prof)
        return head + summarize_pyspy(prof)

    # -- scenario 3 -------------------------------------------------------------------------
    def latency(self, n: int, latency_ms: float) -> dict[str, Any]:
        out: dict[str, Any] = {"assets": n, "latency_ms": latency_ms, "machine_before": machine()}
        variants = {
            "sequential (1 slice, 1 at once)": ["--slices", "1", "--concurrency", "1"],
            "defaults (16 slices, 12 at once)": [],
            "16 slices, 8 at once (the defaults before)": ["--concurrency", "8"],
            "16 slices, 16 at once": ["--concurrency", "16"],
        }  # fmt: skip
        if self.args.quick:
            variants = dict(list(variants.items())[:2])
        rows: dict[str, Any] = {}
        for label, extra in variants.items():
            log(f"latency {latency_ms} ms, {n} assets: {label}")
            wh = self.work / f"latency-{len(rows)}.duckdb"
            with self.emulator(n, latency_ms=latency_ms) as emu:
                cmd = python_cmd("assets_sync_run.py", "--warehouse", str(wh), *extra)
                rows[label] = measure(emu, label, cmd, self.timeout, {})
        out["rows"] = rows
        out["machine_after"] = machine()
        return out

    # -- scenario 4 -------------------------------------------------------------------------
    def ratelimit(self, rates: list[float], seconds: float, burst: int) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds_target": seconds, "burst": burst,
                               "machine_before": machine()}  # fmt: skip
        rows: dict[str, Any] = {}
        for r in rates:
            n = max(500, int(r * seconds * 100))
            log(f"ratelimit {r} req/s (burst {burst}): {n} assets")
            wh = self.work / f"rate-{r}.duckdb"
            with self.emulator(n, rate_limit_rps=r, rate_limit_burst=burst) as emu:
                cmd = python_cmd("assets_sync_run.py", "--warehouse", str(wh))
                row = measure(emu, f"R={r:g}", cmd, self.timeout, {})
            row["rate"] = r
            row["assets"] = n
            engine_s = row["result"].get("engine_s") or row["work_s"] or row["wall_s"]
            ok = row["by_status"].get("200", 0)
            row["throughput_rps"] = round(row["requests"] / engine_s, 2) if engine_s else None
            row["ok_rps"] = round(ok / engine_s, 2) if engine_s else None
            row["share_429"] = round(row["status_429"] / max(1, row["requests"]), 4)
            rows[f"{r:g}"] = row
        out["rows"] = rows
        out["machine_after"] = machine()
        return out


def pyspy_cmd(out: Path, cmd: list[str]) -> list[str]:
    spy = shutil.which("py-spy")
    if spy is None:
        log("py-spy not found: profiling skipped (pip install py-spy)")
        return cmd
    return [spy, "record", "--format", "raw", "--rate", "100", "--threads", "--nonblocking",
            "-o", str(out), "--", *cmd]  # fmt: skip


# -- targets and markdown ------------------------------------------------------------------


def _get(rows: dict[str, Any], name: str, key: str) -> Any:
    row = rows.get(name) or {}
    return row.get(key) if "skipped" not in row else None


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(float(a) / float(b), 2)


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    t: list[dict[str, Any]] = []
    cmp = res.get("compare")
    if cmp:
        rows, n = cmp["rows"], cmp["assets"]
        fw, fwork = _get(rows, "floor", "wall_s"), _get(rows, "floor", "work_s")
        for who in ("engine", "engine-nolimit", "cli"):
            w, work = _get(rows, who, "wall_s"), _get(rows, who, "work_s")
            if w is None:
                continue
            rw, rwork = _ratio(w, fw), _ratio(work, fwork)
            measured = f"process {_f(rw)}x, work {_f(rwork)}x"
            verdict = rw
            if res.get("compare_rounds"):
                # each contender is judged by its own median over the rounds; the tables'
                # round is the engine's median, which need not be this contender's
                verdict = rounds_mod.median_wall_ratio(res["compare_rounds"], who)
                walls = [rounds_mod.wall_ratio(cmp["rows"], who) for cmp in res["compare_rounds"]]
                measured = (f"process, median of the rounds {_f(verdict)}x (every "
                            f"round: {' / '.join(_f(v) for v in walls)}x); "
                            f"the tables' round: {measured}")  # fmt: skip
            t.append({"target": f"1. full sync <= 1.3x floor ({who}, {n:,} assets)",
                      "measured": measured,
                      "holds": bool(verdict is not None and verdict <= 1.3)})  # fmt: skip
            rss = _get(rows, who, "peak_rss_mb")
            t.append(
                {
                    "target": f"1. peak RSS < 300 MB ({who}, {n:,} assets)",
                    "measured": f"{rss} MB",
                    "holds": rss is not None and rss < 300,
                }
            )
        dp_w, dp_rss = _get(rows, "dlt-parquet", "wall_s"), _get(rows, "dlt-parquet", "peak_rss_mb")
        for who in ("engine", "cli"):
            w, rss = _get(rows, who, "wall_s"), _get(rows, who, "peak_rss_mb")
            if dp_w is None or w is None:
                continue
            sp, mem = _ratio(dp_w, w), _ratio(dp_rss, rss)
            t.append({"target": f"2. vs dlt parquet: >= 5x faster, >= 3x less memory ({who})",
                      "measured": f"{sp}x faster, {mem}x less memory",
                      "holds": bool(sp and mem and sp >= 5 and mem >= 3)})  # fmt: skip
        for who in ("engine", "engine-nolimit", "cli"):
            row = rows.get(f"{who}-1pct")
            if not row:
                continue
            for variant in ("1pct", "1pct-bulk"):
                v = rows.get(f"{who}-{variant}")
                if not v:
                    continue
                limit = math.ceil(v["changed"] / 100) + 2
                how = "spread in time" if variant == "1pct" else "one bulk edit, one ms"
                measured = f"{v['requests']} requests for {v['changed']} changed (limit {limit})"
                if v.get("also_in_lookback"):
                    # the bound for every changed asset the window holds: the verdict's
                    both = v["changed"] + v["also_in_lookback"]
                    limit = math.ceil(both / 100) + 2
                    measured += (f"; the window also re-reads the {v['also_in_lookback']} spread"
                                 f" changes (15-min lookback): {both} changed in it, "
                                 f"ceil/100+2 = {limit}")  # fmt: skip
                t.append({"target": f"5. 1% changed ({how}): requests <= ceil(changed/100)+2 "
                          f"({who})", "measured": measured,
                          "holds": v["requests"] <= limit})  # fmt: skip
            full = rows.get(who) or {}
            share: float | None
            if who.startswith("engine"):
                share = row["work_s"] / full["work_s"] if full.get("work_s") else None
                how = "engine work time"
            else:
                noop = rows.get("cli-noop") or {}
                extra = row["wall_s"] - noop.get("wall_s", 0.0)
                share = extra / full["wall_s"] if full.get("wall_s") else None
                how = "CLI wall minus no-op CLI wall"
            t.append({"target": f"5. 1% changed: time beyond start-up <= 3% of full ({who})",
                      "measured": f"{share if share is None else round(share * 100, 1)}% ({how})",
                      "holds": share is not None and share <= 0.03})  # fmt: skip
            noop_row = rows.get(f"{who}-noop") or {}
            t.append({"target": f"6. no-op incremental: exactly 1 request ({who})",
                      "measured": f"{noop_row.get('requests')} requests",
                      "holds": noop_row.get("requests") == 1})  # fmt: skip
    lat = res.get("latency")
    if lat:
        rows = lat["rows"]
        seq = _get(rows, "sequential (1 slice, 1 at once)", "work_s")
        for label in rows:
            if label.startswith("sequential"):
                continue
            sp = _ratio(seq, _get(rows, label, "work_s"))
            t.append(
                {
                    "target": f"3. {lat['latency_ms']:g} ms latency: >= 6x sequential ({label})",
                    "measured": f"{sp}x",
                    "holds": sp is not None and sp >= 6,
                }
            )
    rl = res.get("ratelimit")
    if rl:
        for r, row in rl["rows"].items():
            share = row["share_429"]
            good = (row["ok"] and row["ok_rps"] is not None and row["ok_rps"] >= 0.9 * row["rate"]
                    and share < 0.05)  # fmt: skip
            pct = round(100 * row["ok_rps"] / row["rate"]) if row["ok_rps"] else None
            t.append({"target": f"4. R={r} req/s: >= 90% of R, 429s < 5%, no failure",
                      "measured": f"{row['ok_rps']} ok req/s ({pct}% of R), 429 "
                      f"{share * 100:.1f}%, ok={row['ok']}", "holds": good})  # fmt: skip
    return t


def failed_runs(res: dict[str, Any]) -> list[str]:
    """The contender runs that failed, in any scenario and in any round of `compare`."""
    scenarios_run = [res.get(sc) or {} for sc in ("compare", "latency", "ratelimit")]
    scenarios_run += res.get("compare_rounds", [])
    return sorted(
        {
            row["name"]
            for sc in scenarios_run
            for row in sc.get("rows", {}).values()
            if "skipped" not in row and not row.get("ok")
        }
    )


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _count(n: Any) -> str:
    """A count in the table: 4.12M, 19.6k, 812 (or "-" when not recorded)."""
    if not isinstance(n, int):
        return "-"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n / 1e3:.1f}k" if n >= 10_000 else str(n)


def markdown(res: dict[str, Any]) -> str:
    lines: list[str] = [f"### {res['label']}", ""]
    cmp = res.get("compare")
    if cmp:
        rows = cmp["rows"]
        fw, fwork = _get(rows, "floor", "wall_s"), _get(rows, "floor", "work_s")
        lines += [f"Full load of {cmp['assets']:,} assets, each contender against a fresh "
                  f"emulator ({res.get('token_mode', 'offset')} tokens). Machine: "
                  f"{machine_line(cmp['machine_before'])}; after: load "
                  f"{'/'.join(f'{x:.1f}' for x in cmp['machine_after']['load_avg_1_5_15'])}.",
                  "", "| contender | process wall s | work s | CPU s (system) | minor faults "
                  "| peak RSS MB | requests | wall / floor | work / floor | emulator CPU s "
                  "| load 1m |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, row in rows.items():
            if "skipped" in row:
                lines.append(f"| {name} | skipped: {row['skipped']} ||||||||||")
                continue
            lines.append(
                f"| {name}{'' if row['ok'] else ' (FAILED)'} | {_f(row['wall_s'])} "
                f"| {_f(row['work_s'])} | {_f(row['cpu_s'], 1)} ({_f(row.get('sys_s'), 1)}) "
                f"| {_count(row.get('minor_faults'))} | {_f(row['peak_rss_mb'], 0)} "
                f"| {_f(row['requests'])} | {_f(_ratio(row['wall_s'], fw))} "
                f"| {_f(_ratio(row['work_s'], fwork))} | {_f(row['emulator_cpu_s'], 1)} "
                f"| {_f(row['load_avg_1m'])} |"
            )
        lines.append("")
        if res.get("compare_rounds"):
            lines += rounds_mod.table(res["compare_rounds"], res["compare_median_round"])
    lat = res.get("latency")
    if lat:
        rows = lat["rows"]
        seq = _get(rows, "sequential (1 slice, 1 at once)", "work_s")
        lines += [f"First sync of {lat['assets']:,} assets with {lat['latency_ms']:g} ms per "
                  f"request, no rate limit (engine alone). Machine: "
                  f"{machine_line(lat['machine_before'])}.", "",
                  "| variant | work s | requests | req/s | speed-up vs sequential | peak RSS MB |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for label, row in rows.items():
            rps = _ratio(row["requests"], row["work_s"])
            lines.append(
                f"| {label} | {_f(row['work_s'])} | {_f(row['requests'])} | {_f(rps, 1)} "
                f"| {_f(_ratio(seq, row['work_s']))} | {_f(row['peak_rss_mb'], 0)} |"
            )
        lines.append("")
    rl = res.get("ratelimit")
    if rl:
        lines += [f"Emulator token bucket of R req/s (burst {rl['burst']}), first sync sized for "
                  f"~{rl['seconds_target']:g} s at R (engine alone, default client limiter). "
                  f"Machine: {machine_line(rl['machine_before'])}.", "",
                  "| R req/s | assets | engine s | requests | ok req/s | % of R | 429 share "
                  "| run ok |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r, row in rl["rows"].items():
            lines.append(
                f"| {r} | {_f(row['assets'])} | {_f(row['result'].get('engine_s'))} "
                f"| {_f(row['requests'])} | {_f(row['ok_rps'], 1)} "
                f"| {_f(round(100 * row['ok_rps'] / row['rate']) if row['ok_rps'] else None)}% "
                f"| {row['share_429'] * 100:.1f}% | {row['ok']} |"
            )
        lines.append("")
    tg = res.get("targets") or []
    if tg:
        lines += ["| target | measured (same run) | holds |", "|---|---|---|"]
        lines += [f"| {x['target']} | {x['measured']} | {'yes' if x['holds'] else 'NO'} |"
                  for x in tg]  # fmt: skip
        lines.append("")
    if res.get("profile"):
        lines += ["Profile of the engine's full sync:", "", "```", res["profile"], "```", ""]
    return "\n".join(lines)


# -- profiles ------------------------------------------------------------------------------


def summarize_cprofile(path: Path, top: int = 25) -> str:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def summarize_pyspy(path: Path, top: int = 25) -> str:
    """Collapsed stacks (py-spy --format raw) -> self and inclusive sample shares per function,
    over the samples of the threads that were on CPU or waiting (py-spy samples all)."""
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")[1:]]  # fmt: skip
        if not frames:
            continue
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl_n[f] = incl_n.get(f, 0) + n
    if not total:
        return "(no samples)"
    out = [f"{total} samples (all threads, idle waits included)", "", "self %  function"]
    for f, n in sorted(self_n.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / total:5.1f}  {f}")
    out += ["", "incl %  function"]
    for f, n in sorted(incl_n.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / total:5.1f}  {f}")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: the CI smoke (< 60 s)")
    p.add_argument("--assets", type=int, default=None, help="compare: assets (default 100000)")
    p.add_argument(
        "--contenders",
        default=None,
        help=f"default {','.join(ALL_CONTENDERS)} (quick: without dlt, engine-nolimit)",
    )
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--latency-assets", type=int, default=None, help="default 20000")
    p.add_argument("--rates", default=None, help="ratelimit: R values (default 5,20,50)")
    p.add_argument("--rate-seconds", type=float, default=None, help="default 12")
    p.add_argument("--rate-burst", type=int, default=10)
    p.add_argument("--skip-reconcile", action="store_true", help="compare: no reconcile runs")
    p.add_argument(
        "--rounds", type=int, default=1, help="compare: whole rounds; the median one is reported"
    )
    p.add_argument("--profile", choices=("none", "pyspy", "cprofile"), default="none")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--token-mode",
        choices=("offset", "keyset"),
        default="offset",
        help="the emulator's pagination tokens (offset: the harder case, and the default)",
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="per contender process")
    p.add_argument("--out-dir", default=None, help="default benchmarks/results (quick: a tmp dir)")
    p.add_argument("--label", default=None)
    p.add_argument("--keep-work", action="store_true", help="keep warehouses and dlt folders")
    args = p.parse_args()
    q = args.quick
    n = args.assets or (2_000 if q else 100_000)
    lat_n = args.latency_assets or (600 if q else 20_000)
    rates = [float(x) for x in (args.rates or ("10" if q else "5,20,50")).split(",")]
    rate_s = args.rate_seconds or (2.0 if q else 12.0)
    default = QUICK_CONTENDERS if q else ALL_CONTENDERS
    contenders = [c for c in (args.contenders or ",".join(default)).split(",") if c]
    scenarios = [s for s in args.scenarios.split(",") if s]
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    for c in contenders:
        if c not in ALL_CONTENDERS:
            p.error(f"unknown contender {c!r}; choose from {ALL_CONTENDERS}")
    label = args.label or (f"quick-{n}" if q else f"compare-{n}")
    out_dir = Path(args.out_dir) if args.out_dir else (
        Path(tempfile.mkdtemp(prefix="bench-compare-")) if q else BENCH / "results")  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-compare-work-"))
    runner = Runner(args, work)
    res: dict[str, Any] = {"label": label, "quick": q, "machine": machine()}
    res["token_mode"] = args.token_mode
    t0 = time.perf_counter()
    try:
        if "compare" in scenarios:
            done: list[dict[str, Any]] = []
            for i in range(args.rounds):
                if args.rounds > 1:
                    log(f"compare: round {i + 1} of {args.rounds}")
                done.append(runner.compare(n, contenders))
            chosen = rounds_mod.median_round(done)
            res["compare"] = done[chosen]
            if len(done) > 1:
                res["compare_rounds"], res["compare_median_round"] = done, chosen
        if "latency" in scenarios:
            res["latency"] = runner.latency(lat_n, args.latency_ms)
        if "ratelimit" in scenarios:
            res["ratelimit"] = runner.ratelimit(rates, rate_s, args.rate_burst)
        if args.profile != "none":
            res["profile"] = runner.profile(n, args.profile)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work folder kept: {work}")
    res["total_s"] = round(time.perf_counter() - t0, 1)
    res["targets"] = targets(res)
    publish(out_dir, label, res, markdown(res))
    failed = failed_runs(res)
    if failed:
        log(f"FAILED contender runs: {failed}")
        sys.exit(1)


if __name__ == "__main__":
    main()
