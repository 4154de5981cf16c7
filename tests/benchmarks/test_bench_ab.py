"""`bench_ab`: alternated rounds of two trees, the paired summary, and the trees it accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_ab import (
    CONTENDER,
    TreeError,
    checked_out,
    markdown,
    order,
    summarize,
    verdict,
)
from harness import ROOT, machine


def _row(floor: float, engine: float, cpu: float = 10.0, peak: float = 200.0) -> dict[str, float]:
    return {
        "floor_work_s": floor,
        "engine_work_s": engine,
        "engine_cpu_s": cpu,
        "engine_peak_mb": peak,
    }


def test_rounds_alternate_which_variant_goes_first() -> None:
    assert [order(i) for i in range(4)] == [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]


def test_the_summary_pairs_each_round_and_takes_lower_medians() -> None:
    rounds = [
        # the box slows down in round 2: both variants' times double, their ratios do not
        {"a": _row(10.0, 15.0), "b": _row(10.0, 12.0, peak=190.0)},
        {"a": _row(20.0, 30.0), "b": _row(20.0, 24.0, peak=210.0)},
        {"a": _row(10.0, 16.0), "b": _row(10.0, 12.0)},
        {"a": _row(10.0, 14.0), "b": _row(10.0, 14.0)},
    ]
    s = summarize(rounds)
    assert s["a"]["ratios"] == [1.5, 1.5, 1.6, 1.4]
    assert s["b"]["ratios"] == [1.2, 1.2, 1.2, 1.4]
    assert s["a"]["median_ratio"] == 1.5  # lower middle of 1.4, 1.5, 1.5, 1.6
    assert s["b"]["median_ratio"] == 1.2
    assert s["a"]["median_engine_work_s"] == 15.0
    assert s["b"]["peak_mb"] == 210.0
    assert s["paired_b_over_a"] == [0.8, 0.8, 0.75, 1.0]
    assert s["median_b_over_a"] == 0.8
    assert (
        verdict(s)
        == "B's ratio to the floor is 20.0 % lower (faster) than A's (paired rounds' median)"
    )


def test_the_verdict_says_slower_and_equal_too() -> None:
    slower = summarize([{"a": _row(10.0, 12.0), "b": _row(10.0, 13.2)}])
    assert verdict(slower).startswith("B's ratio to the floor is 10.0 % higher (slower)")
    same = summarize([{"a": _row(10.0, 12.0), "b": _row(20.0, 24.0)}])
    assert verdict(same).startswith("B's ratio to the floor equals A's")
    assert verdict(summarize([])) == "no round measured both variants"


def test_the_report_shows_every_round_and_both_trees() -> None:
    rounds = [
        {"order": ["a", "b"], "a": _row(10.0, 15.0), "b": _row(10.0, 12.0)},
        {"order": ["b", "a"], "a": _row(20.0, 30.0), "b": _row(20.0, 26.0)},
    ]
    res = {
        "label": "ab-test",
        "assets": 5000,
        "token_mode": "keyset",
        "machine": machine(),
        "trees": {"a": {"spec": "HEAD", "commit": "0123456789abcdef"}, "b": {"spec": "/x"}},
        "rounds": rounds,
        "summary": summarize(rounds),
    }
    md = markdown(res)
    assert "### ab-test: 5,000 assets, 2 round(s), keyset tokens" in md
    assert "- A: `HEAD` (commit 0123456789)" in md and "- B: `/x` (a folder)" in md
    assert "| 1 | A B | 10.00 | 15.00 | 1.50x | 10.00 | 12.00 | 1.20x | 0.800 |" in md
    assert "| 2 | B A | 20.00 | 30.00 | 1.50x | 20.00 | 26.00 | 1.30x | 0.867 |" in md
    assert "B / A = 0.8." in md


def test_a_folder_is_measured_as_it_is(tmp_path: Path) -> None:
    with checked_out(str(ROOT), tmp_path, "b") as tree:
        assert tree.path == ROOT.resolve() and tree.commit is None
    (tmp_path / "not-a-tree").mkdir()
    with (
        pytest.raises(TreeError, match="without assets_sync/"),
        checked_out(str(tmp_path / "not-a-tree"), tmp_path, "b"),
    ):
        pass


def test_a_revision_is_checked_out_for_the_run_and_removed_after(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with checked_out("HEAD", tmp_path, "a") as tree:
        assert tree.commit == head
        assert (tree.path / CONTENDER).is_file() and (tree.path / "assets_sync").is_dir()
    assert not (tmp_path / "a").exists()
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert str(tmp_path / "a") not in listed


def test_the_worktree_is_removed_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), checked_out("HEAD", tmp_path, "a"):
        raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()


def test_neither_a_folder_nor_a_revision_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(TreeError, match="neither a folder nor a git revision"),
        checked_out("no-such-branch-or-folder", tmp_path, "a"),
    ):
        pass
