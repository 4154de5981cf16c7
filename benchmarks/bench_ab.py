"""Is B faster than A? Two code trees' full syncs, alternated, each against its own floor.

    python benchmarks/bench_ab.py --a HEAD --assets 1000000 --rounds 3 --label ab-1m-mychange
    python benchmarks/bench_ab.py --a main --b /tmp/experiment --token-mode keyset
    python benchmarks/bench_ab.py --quick      # 5,000 assets, 1 round: the CI smoke

This box is shared: the same sync's time moves by 10-35 % within an hour, more than most
changes are worth. So a change is judged the way target 1 is (issue 7): the engine's work time
over the floor's, both measured in the same minute, and A and B alternate within every round
(A then B in odd rounds, B then A in even ones, so a drifting box favours neither). Each
measurement gets a fresh emulator (same seed, same data, equally cold), its own process, over
loopback HTTP, as in `bench_compare.py`: the floor (`contenders/floor.py`, always this tree's),
then the engine contender of the tree being measured (`<tree>/benchmarks/contenders/
assets_sync_run.py`, with only that tree on `PYTHONPATH`) into a fresh warehouse.

`--a` and `--b` each name a tree: a folder holding `assets_sync/` (a checkout, a worktree), or
a git revision of this repository, checked out into a temporary worktree for the run and
removed after it. The defaults compare `HEAD` (A) with the working tree (B): "does my
uncommitted change help?".

Reported per variant: every round's ratio, the median (the lower middle with an even count),
the engine's work, CPU and peak RSS; and B against A as the median of the rounds' paired
ratios (B's ratio over A's in the same round), the least exposed to the box's drift. Every run
must have stored every asset (`counts.new` = `--assets`), or the benchmark fails.

Output: `<out-dir>/<label>.json` and `.md` (`--out-dir` default `benchmarks/results`; a
temporary folder for `--quick`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import log, measure
from harness import ROOT, EmulatorProcess, machine, machine_line, output_dir, publish, python_cmd

VARIANTS = ("a", "b")
CONTENDER = Path("benchmarks") / "contenders" / "assets_sync_run.py"


class TreeError(ValueError):
    """A `--a` / `--b` that names neither a source tree nor a git revision."""


@dataclass(frozen=True)
class Tree:
    spec: str  # as given
    path: Path  # the tree's root
    commit: str | None  # the revision checked out, for a git revision


def order(round_index: int) -> tuple[str, str]:
    """The variants' order in round `round_index` (0-based): A first, then B first, and so on."""
    return VARIANTS if round_index % 2 == 0 else (VARIANTS[1], VARIANTS[0])


def _is_tree(path: Path) -> bool:
    return (path / "assets_sync").is_dir() and (path / CONTENDER).is_file()


@contextmanager
def checked_out(spec: str, scratch: Path, name: str) -> Iterator[Tree]:
    """`spec` as a tree: a folder as it is, or a git revision in a worktree under `scratch`,
    removed on exit (also after a failure)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not _is_tree(path):
            raise TreeError(f"{spec}: a folder without assets_sync/ and {CONTENDER}")
        yield Tree(spec, path.resolve(), None)
        return
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if rev.returncode != 0:
        raise TreeError(f"{spec}: neither a folder nor a git revision of {ROOT}")
    commit = rev.stdout.strip()
    where = scratch / name
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), commit],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        if not _is_tree(where):
            raise TreeError(f"{spec} ({commit[:10]}) has no {CONTENDER}: too old to measure")
        yield Tree(spec, where, commit)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)],
            check=False, capture_output=True,
        )  # fmt: skip


def lower_median(values: Sequence[float]) -> float | None:
    return statistics.median_low(values) if values else None


def summarize(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per variant: ratios, medians; and B against A, paired by round.

    `rounds[i][variant]` holds `floor_work_s`, `engine_work_s`, `engine_cpu_s`,
    `engine_peak_mb`."""
    out: dict[str, Any] = {}
    for v in VARIANTS:
        rows = [r[v] for r in rounds if v in r]
        ratios = [row["engine_work_s"] / row["floor_work_s"] for row in rows]
        out[v] = {
            "ratios": [round(x, 3) for x in ratios],
            "median_ratio": _r(lower_median(ratios)),
            "median_engine_work_s": _r(lower_median([row["engine_work_s"] for row in rows])),
            "median_engine_cpu_s": _r(lower_median([row["engine_cpu_s"] for row in rows])),
            "peak_mb": max((row["engine_peak_mb"] for row in rows), default=None),
        }
    paired = [
        (r["b"]["engine_work_s"] / r["b"]["floor_work_s"])
        / (r["a"]["engine_work_s"] / r["a"]["floor_work_s"])
        for r in rounds
        if "a" in r and "b" in r
    ]
    out["paired_b_over_a"] = [round(x, 3) for x in paired]
    out["median_b_over_a"] = _r(lower_median(paired))
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def verdict(summary: dict[str, Any]) -> str:
    """One sentence: how B's ratio to the floor compares with A's."""
    change = summary["median_b_over_a"]
    if change is None:
        return "no round measured both variants"
    pct = (change - 1) * 100
    if abs(pct) < 0.05:
        return "B's ratio to the floor equals A's (paired rounds' median)"
    word = "lower (faster)" if pct < 0 else "higher (slower)"
    return f"B's ratio to the floor is {abs(pct):.1f} % {word} than A's (paired rounds' median)"


def markdown(res: dict[str, Any]) -> str:
    s = res["summary"]
    trees = res["trees"]
    lines = [
        f"### {res['label']}: {res['assets']:,} assets, {len(res['rounds'])} round(s), "
        f"{res['token_mode']} tokens",
        "",
        machine_line(res["machine"]),
        "",
        f"- A: `{trees['a']['spec']}`" + _commit(trees["a"]),
        f"- B: `{trees['b']['spec']}`" + _commit(trees["b"]),
        "",
        "| round | order | A floor s | A engine s | A / floor | B floor s | B engine s "
        "| B / floor | B / A |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(res["rounds"]):
        a, b = r["a"], r["b"]
        ra = a["engine_work_s"] / a["floor_work_s"]
        rb = b["engine_work_s"] / b["floor_work_s"]
        lines.append(
            f"| {i + 1} | {' '.join(x.upper() for x in r['order'])} | {a['floor_work_s']:.2f} "
            f"| {a['engine_work_s']:.2f} | {ra:.2f}x | {b['floor_work_s']:.2f} "
            f"| {b['engine_work_s']:.2f} | {rb:.2f}x | {rb / ra:.3f} |"
        )
    lines += [
        "",
        "| variant | median engine / floor | median engine work s | median engine CPU s "
        "| peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        x = s[v]
        lines.append(
            f"| {v.upper()} | {x['median_ratio']}x | {x['median_engine_work_s']} "
            f"| {x['median_engine_cpu_s']} | {x['peak_mb']} |"
        )
    lines += ["", f"**{verdict(s)}**: B / A = {s['median_b_over_a']}.", ""]
    return "\n".join(lines)


def _commit(tree: dict[str, Any]) -> str:
    return f" (commit {tree['commit'][:10]})" if tree.get("commit") else " (a folder)"


def measure_variant(
    tree: Tree, n: int, args: argparse.Namespace, work: Path, tag: str
) -> dict[str, Any]:
    """Floor then engine, each against a fresh emulator; the row `summarize` reads."""
    tokens = ["--token-mode", args.token_mode]
    with EmulatorProcess(n, seed=args.seed, extra_args=tokens) as emu:
        floor = measure(emu, f"floor ({tag})", python_cmd("floor.py"), args.timeout, {})
    warehouse = work / f"{tag}.duckdb"
    cmd = [sys.executable, str(tree.path / CONTENDER), "--warehouse", str(warehouse)]
    with EmulatorProcess(n, seed=args.seed, extra_args=tokens) as emu:
        engine = measure(emu, f"engine ({tag})", cmd, args.timeout, {"PYTHONPATH": str(tree.path)})
    for path in work.glob(f"{tag}.duckdb*"):
        path.unlink()
    for row in (floor, engine):
        if not row["ok"]:
            raise RuntimeError(f"{row['name']} failed: {row.get('stderr_tail', '')[-800:]}")
    source = engine["result"].get("source")  # absent from contenders older than bench_ab
    if source is not None and Path(source) != tree.path.resolve():
        raise RuntimeError(f"{tag}: the engine ran the code of {source}, not {tree.path}")
    stored = engine["result"].get("counts", {}).get("new")
    if stored != n or floor["result"].get("assets") != n:
        raise RuntimeError(
            f"{tag}: the engine stored {stored} and the floor read "
            f"{floor['result'].get('assets')} of {n} assets"
        )
    return {
        "floor_work_s": floor["work_s"],
        "engine_work_s": engine["work_s"],
        "engine_cpu_s": engine["cpu_s"],
        "engine_peak_mb": engine["peak_rss_mb"],
        "floor_emulator_cpu_s": floor.get("emulator_cpu_s"),
        "engine_emulator_cpu_s": engine.get("emulator_cpu_s"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--a", default="HEAD", help="tree A: a folder or a git revision (HEAD)")
    p.add_argument("--b", default=str(ROOT), help="tree B: a folder or a git revision (this tree)")
    p.add_argument("--assets", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--token-mode", choices=("offset", "keyset"), default="offset")
    p.add_argument("--quick", action="store_true", help="5,000 assets, 1 round: the CI smoke")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=3600.0, help="per process")
    p.add_argument("--out-dir", default=None, help="default benchmarks/results (quick: a tmp dir)")
    p.add_argument("--label", default=None)
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    n = 5_000 if args.quick else args.assets
    rounds_n = 1 if args.quick else args.rounds
    label = args.label or f"ab-{n}"
    out_dir = output_dir(args.out_dir, args.quick, "bench-ab-")
    scratch = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    t0 = time.perf_counter()
    res: dict[str, Any] = {"label": label, "assets": n, "token_mode": args.token_mode}
    res["machine"] = machine()
    try:
        with (
            checked_out(args.a, scratch, "a") as tree_a,
            checked_out(args.b, scratch, "b") as tree_b,
        ):
            trees = {"a": tree_a, "b": tree_b}
            res["trees"] = {v: {"spec": t.spec, "commit": t.commit} for v, t in trees.items()}
            rounds: list[dict[str, Any]] = []
            for i in range(rounds_n):
                row: dict[str, Any] = {"order": list(order(i))}
                for v in order(i):
                    log(f"round {i + 1}/{rounds_n}: {v.upper()} ({trees[v].spec}), {n} assets")
                    row[v] = measure_variant(trees[v], n, args, scratch, f"{v}{i}")
                rounds.append(row)
    except (TreeError, RuntimeError) as exc:
        log(f"FAILED: {exc}")
        sys.exit(1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    res["rounds"] = rounds
    res["summary"] = summarize(rounds)
    res["total_s"] = round(time.perf_counter() - t0, 1)
    publish(out_dir, label, res, markdown(res))


if __name__ == "__main__":
    main()
