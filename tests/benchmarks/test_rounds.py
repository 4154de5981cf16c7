"""`bench_compare.py --rounds`: the median round, every round's ratios, and the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import rounds
from bench_compare import failed_runs, markdown, targets

#: what `markdown` reads of a contender's row besides its times and peak
MEASURED = {"cpu_s": 1.0, "requests": 10, "emulator_cpu_s": 1.0, "load_avg_1m": 1.0}


def _row(wall: float, work: float | None, rss: int) -> dict[str, Any]:
    return {"ok": True, "wall_s": wall, "work_s": work, "peak_rss_mb": rss, **MEASURED}


def _round(engine_work: float | None, floor_work: float = 10.0, **extra: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {"floor": _row(floor_work + 0.2, floor_work, 50)}
    if engine_work is not None:
        rows["engine"] = _row(engine_work + 0.3, engine_work, 200)
    rows.update(extra)
    return {"assets": 1000, "rows": rows}


def test_the_median_round_is_the_one_with_the_median_engine_ratio() -> None:
    done = [_round(16.0), _round(15.0), _round(15.5)]
    assert rounds.median_round(done) == 2
    # ranked by the ratio, not the time: 16 s over a 12 s floor is the best round (1.33x), so
    # the median is 15 s (1.50x), where by time alone it would be 15.5 s
    assert rounds.median_round([_round(16.0, 12.0), _round(15.0), _round(15.5)]) == 1
    assert rounds.median_round([_round(13.0), _round(16.0)]) == 0  # even: the lower middle
    assert rounds.median_round([_round(14.0)]) == 0


def test_rounds_without_the_engine_rank_by_the_cli_and_failed_ones_are_left_out() -> None:
    def cli(wall: float) -> dict[str, Any]:
        return _row(wall, None, 280)

    done = [_round(None, cli=cli(30.0)), _round(None, cli=cli(20.0)), _round(None, cli=cli(25.0))]
    assert rounds.median_round(done) == 2  # wall / floor wall: 2.94, 1.96, 2.45
    failed_floor = _round(15.0)
    failed_floor["rows"]["floor"]["ok"] = False
    # left out of the median: of 1.60x and 1.55x, the lower middle
    assert rounds.median_round([_round(16.0), failed_floor, _round(15.5)]) == 2
    assert rounds.median_round([failed_floor]) == 0


@given(st.lists(st.floats(min_value=5.0, max_value=50.0), min_size=1, max_size=9))
def test_the_chosen_round_is_a_lower_median(works: list[float]) -> None:
    done = [_round(w) for w in works]
    chosen = works[rounds.median_round(done)]
    below = sum(w < chosen for w in works)
    above = sum(w > chosen for w in works)
    assert below <= (len(works) - 1) // 2
    assert above <= len(works) // 2


def test_the_report_shows_every_round_and_keeps_the_median_ones_tables() -> None:
    skipped = {"name": "dlt-parquet", "skipped": "dlt not installed"}
    done = [_round(16.0), _round(15.0), _round(15.5)]
    done[1]["rows"]["dlt-parquet"] = skipped
    chosen = rounds.median_round(done)
    assert rounds.spread(done, "engine") == "1.60 / 1.50 / 1.55x"
    assert rounds.spread(done, "cli") == "-"
    lines = rounds.table(done, chosen)
    body = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[0] for line in body] == ["| 1", "| 2", "| 3 (median)"]
    assert "| 1.55x | 200 |" in body[2] and "| - | - |" in body[1]  # dlt-parquet: skipped

    machine = {"load_avg_1_5_15": [1.0, 1.0, 1.0], "cores": 2, "memory_gib": 24,
               "python": "3.11", "time_utc": "2026-11-30T00:00:00Z"}  # fmt: skip
    res: dict[str, Any] = {"label": "r", "compare_rounds": done, "compare_median_round": chosen}
    res["compare"] = dict(done[chosen], machine_before=machine, machine_after=machine)
    res["targets"] = targets(res)
    first = res["targets"][0]
    assert first["measured"].startswith(
        "process, median of the rounds 1.55x (every round: 1.60 / 1.50 / 1.55x)"
    )
    assert first["holds"] is False  # 1.55x
    md = markdown(res)
    assert "3 rounds, each every contender against a fresh emulator" in md
    assert "round 3 (the median" in md


def test_each_contender_is_judged_by_its_own_median_over_the_rounds() -> None:
    # the engine's median round is round 1, where the CLI had its worst ratio (1.47x); the
    # CLI's own median over the rounds is 1.28x, which is what its verdict says
    cli = [_row(14.7, None, 280), _row(11.6, None, 280), _row(12.8, None, 280)]
    done = [_round(w, cli=c) for w, c in zip((12.2, 11.4, 12.5), cli, strict=True)]
    for cmp in done:
        cmp["rows"]["floor"]["wall_s"] = 10.0
    chosen = rounds.median_round(done)
    assert chosen == 0
    assert rounds.median_wall_ratio(done, "cli") == 1.28
    assert rounds.median_wall_ratio(done, "dlt") is None
    res: dict[str, Any] = {"compare_rounds": done, "compare_median_round": chosen}
    res["compare"] = done[chosen]
    verdicts = {t["target"]: t for t in targets(res) if t["target"].startswith("1. full sync")}
    cli_target = verdicts["1. full sync <= 1.3x floor (cli, 1,000 assets)"]
    assert cli_target["holds"] is True
    assert cli_target["measured"].startswith(
        "process, median of the rounds 1.28x (every round: 1.47 / 1.16 / 1.28x)"
    )
    assert "the tables' round: process 1.47x" in cli_target["measured"]
    assert verdicts["1. full sync <= 1.3x floor (engine, 1,000 assets)"]["holds"] is True


@given(st.lists(st.floats(min_value=1.0, max_value=3.0), min_size=1, max_size=9))
def test_a_contenders_median_ratio_is_a_lower_median(walls: list[float]) -> None:
    done = [_round(None, cli=_row(10.0 * w, None, 280)) for w in walls]
    for cmp in done:
        cmp["rows"]["floor"]["wall_s"] = 10.0
    median = rounds.median_wall_ratio(done, "cli")
    assert median is not None
    values = [rounds.wall_ratio(cmp["rows"], "cli") for cmp in done]
    assert median in values
    assert sum(v is not None and v < median for v in values) <= (len(values) - 1) // 2
    assert sum(v is not None and v > median for v in values) <= len(values) // 2


def test_a_failure_in_any_round_fails_the_run() -> None:
    done = [_round(16.0), _round(15.0), _round(15.5)]
    for cmp in done:
        for name, row in cmp["rows"].items():
            row["name"] = name
    chosen = rounds.median_round(done)
    res = {"compare": done[chosen], "compare_rounds": done, "compare_median_round": chosen}
    assert failed_runs(res) == []
    done[0]["rows"]["engine"]["ok"] = False  # not the median round
    assert rounds.median_round(done) != 0
    assert failed_runs(res) == ["engine"]
