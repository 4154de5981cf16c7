"""Repeated rounds of the comparison (`bench_compare.py --rounds N`) and their median.

This box is shared: the same contender's work time moves by about +-10 % from one run to the
next, as much as some targets' margins. A round is one whole `compare` scenario (every
contender, each against a fresh emulator), so its ratios are "from the same run". With
`--rounds N` the rounds alternate contenders in time; the report shows every round's ratios
and takes its tables, plot and target verdicts from the MEDIAN round: the one whose
`engine` work / floor work is the median of the rounds' (with an even N, the lower middle).
A round without an `engine` row is ranked by the `cli`'s wall / floor wall; a round that
has neither ratio (a failed or missing floor or contender) is left out of the median, and
if no round has one, the first round is used. A failed run in any round still fails the
whole benchmark (`bench_compare.failed_runs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: contenders whose ratios the rounds table shows, in this order, when present
SHOWN = ("engine", "engine-nolimit", "cli", "dlt-parquet", "dlt")


def _value(rows: dict[str, Any], name: str, key: str) -> float | None:
    row = rows.get(name) or {}
    if "skipped" in row or not row.get("ok", True):
        return None
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else None


def ratio(rows: dict[str, Any], name: str) -> float | None:
    """`name`'s time over the floor's in one round: work time when both report one (the
    engine's own timer), else process wall time."""
    work, floor_work = _value(rows, name, "work_s"), _value(rows, "floor", "work_s")
    if work is not None and floor_work:
        return work / floor_work
    return wall_ratio(rows, name)


def rank_key(cmp: dict[str, Any]) -> float | None:
    """What a round is ranked by: the engine's ratio, else the CLI's, else None."""
    for name in ("engine", "cli"):
        r = ratio(cmp["rows"], name)
        if r is not None:
            return r
    return None


def median_round(rounds: Sequence[dict[str, Any]]) -> int:
    """The index of the median round (see the module's docstring)."""
    if not rounds:
        raise ValueError("no rounds")
    ranked = [(key, i) for i, cmp in enumerate(rounds) if (key := rank_key(cmp)) is not None]
    if not ranked:
        return 0
    ranked.sort()
    return ranked[(len(ranked) - 1) // 2][1]


def spread(rounds: Sequence[dict[str, Any]], name: str) -> str:
    """`name`'s ratio in every round, in order: `1.52 / 1.55 / 1.61x` ('-' where missing)."""
    values = [ratio(cmp["rows"], name) for cmp in rounds]
    if all(v is None for v in values):
        return "-"
    return " / ".join("-" if v is None else f"{v:.2f}" for v in values) + "x"


def wall_ratio(rows: dict[str, Any], name: str) -> float | None:
    """`name`'s process wall time over the floor's in one round (target 1's measure)."""
    wall, floor_wall = _value(rows, name, "wall_s"), _value(rows, "floor", "wall_s")
    return wall / floor_wall if wall is not None and floor_wall else None


def median_wall_ratio(rounds: Sequence[dict[str, Any]], name: str) -> float | None:
    """`name`'s own median of process wall / floor wall over the rounds (the lower middle with
    an even count), or None if no round has one. Target 1's verdict for every contender comes
    from this, not from the round the tables show (the engine's median by work time)."""
    values = sorted(v for cmp in rounds if (v := wall_ratio(cmp["rows"], name)) is not None)
    return values[(len(values) - 1) // 2] if values else None


def table(rounds: Sequence[dict[str, Any]], chosen: int) -> list[str]:
    """Markdown lines: one row per round, the floor's work and each contender's ratio and
    peak RSS; the round the report's tables come from is marked."""
    names = [n for n in SHOWN if any(n in cmp["rows"] for cmp in rounds)]
    head = "| round | floor work s | " + " | ".join(f"{n} / floor | {n} MB" for n in names) + " |"
    lines = [
        f"{len(rounds)} rounds, each every contender against a fresh emulator; the tables "
        f"above are round {chosen + 1} (the median of the engine's work / floor). Ratios are "
        "of work time where the contender reports one (the engine), else of process wall time.",
        "",
        head,
        "|---|---|" + "---|---|" * len(names),
    ]
    for i, cmp in enumerate(rounds):
        rows = cmp["rows"]
        mark = " (median)" if i == chosen else ""
        cells = [f"{i + 1}{mark}", _num(_value(rows, "floor", "work_s"))]
        for name in names:
            r = ratio(rows, name)
            rss = _value(rows, name, "peak_rss_mb")
            cells += [_num(r) + ("x" if r is not None else ""), _num(rss, 0)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _num(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"
