"""The client's pace recorded with each run, and handed to the next one (`StreamState.pace`)."""

from __future__ import annotations

from assets_sync.sink import Pace, RunRecord, StreamKey
from warehouse import open_warehouse

A, B = StreamKey("proj_a"), StreamKey("proj_b")


def run(run_id: str, stream: StreamKey, at: int, outcome: str, pace: Pace | None) -> RunRecord:
    return RunRecord(run_id, stream, "sync", at, at + 10, outcome, pace=pace)


def test_the_latest_successful_run_of_any_stream_gives_the_pace(db_path: str) -> None:
    with open_warehouse(db_path) as wh:
        assert wh.stream_state(A).pace is None  # no run yet: slow start
        wh.end_run(run("r1", A, 1_000, "success", Pace(12.5, True)))
        wh.end_run(run("r2", A, 2_000, "failed", Pace(3.0, True)))  # a failed run's is not
        wh.end_run(run("r3", B, 3_000, "success", None))  # nor a run that recorded none
        assert wh.stream_state(A).pace == Pace(12.5, True)
        wh.end_run(run("r4", B, 4_000, "success", Pace(640.0, False)))
    with open_warehouse(db_path) as wh:  # the API's limits are the key's, not the stream's
        assert wh.stream_state(A).pace == Pace(640.0, False)
        assert wh.connection.execute(
            "SELECT run_id, pace, pace_learned FROM sync_runs ORDER BY run_id"
        ).fetchall() == [
            ("r1", 12.5, True),
            ("r2", 3.0, True),
            ("r3", None, None),
            ("r4", 640.0, False),
        ]
