"""`bench_bound.bound`: the two lower bounds of a full sync's wall, from its parts alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_bound import bound


def _rows(write_wall_s: float, write_cpu_s: float) -> dict[str, dict[str, object]]:
    part = {"wall_s": 1.0, "cpu_s": 1.0}
    return {
        "floor": {"work_s": 10.0, "emulator_cpu_s": 4.0},
        "engine": {"work_s": 20.0, "cpu_s": 18.0, "emulator_cpu_s": 5.0},
        "parts": {
            "result": {
                "fetch": {"wall_s": 10.0, "cpu_s": 3.0},
                "parse": part,
                "normalize": {"wall_s": 2.0, "cpu_s": 2.5},
                "write": {"wall_s": write_wall_s, "cpu_s": write_cpu_s},
            }
        },
    }


def test_the_cpu_bound_counts_every_part_once_over_the_cores() -> None:
    b = bound(_rows(write_wall_s=6.0, write_cpu_s=6.0), cores=2)
    # fetch 3 + normalize beyond parsing 1.5 + writer 6 + the floor's emulator 4 = 14.5 s
    assert b["cpu_needed_s"] == 14.5 and b["least_wall_s"] == 7.25
    assert b["bound_ratio"] == 0.72
    assert b["writer_ratio"] == 0.6 and b["least_ratio"] == 0.72  # the cores bind first
    assert b["overhead_cpu_s"] == pytest.approx(18.0 - 10.5)
    assert b["engine_ratio"] == 2.0 and b["engine_busy_cores"] == 1.15


def test_the_one_writer_bounds_the_wall_whatever_the_cores() -> None:
    b = bound(_rows(write_wall_s=12.7, write_cpu_s=12.5), cores=2)
    assert b["bound_ratio"] == 1.05  # (3 + 1.5 + 12.5 + 4) / 2 over the floor's 10 s
    assert b["writer_wall_s"] == 12.7 and b["writer_ratio"] == 1.27
    assert b["least_ratio"] == 1.27  # more cores would not help: one writer
