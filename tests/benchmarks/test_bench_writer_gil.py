"""`bench_writer_gil`: the GIL holder and the summary of the writer's runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_writer_gil import GilHolder, summarize


def test_the_summary_gives_medians_and_the_wall_against_no_holder() -> None:
    runs = {
        0.0: [{"wall_s": 3.6, "writer_cpu_s": 3.5}, {"wall_s": 3.8, "writer_cpu_s": 3.6},
              {"wall_s": 3.7, "writer_cpu_s": 3.7}],
        0.5: [{"wall_s": 4.4, "writer_cpu_s": 3.6}, {"wall_s": 4.1, "writer_cpu_s": 3.5},
              {"wall_s": 4.5, "writer_cpu_s": 3.6}],
    }  # fmt: skip
    rows = summarize(runs)
    assert [r["share"] for r in rows] == [0.0, 0.5]
    assert rows[0]["wall_s"] == 3.7 and rows[0]["wall_over_no_holder"] == 1.0
    assert rows[1]["wall_s"] == 4.4 and rows[1]["writer_cpu_s"] == 3.6
    assert rows[1]["wall_over_cpu"] == 1.22 and rows[1]["wall_over_no_holder"] == 1.19
    assert rows[1]["walls_s"] == [4.4, 4.1, 4.5] and rows[1]["rounds"] == 3


def test_the_holder_takes_about_its_share_of_one_core_and_none_at_zero() -> None:
    with GilHolder(0.0) as idle:
        time.sleep(0.05)
    assert idle.cpu_s == 0.0
    with GilHolder(0.5) as half:
        time.sleep(0.3)
    assert 0.05 < half.cpu_s < 0.3
