"""Progress events for whoever watches a run: the CLI's progress bar, Dagster's logs.

The engine emits `ProgressEvent`s with cumulative counters, always from ONE thread at a time
(the writer for syncs; under a lock for reconcile listings), so a listener needs no locking.
A listener that raises does not break the run: its exception is swallowed after the first
report (progress is advisory; data correctness never depends on it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

log = logging.getLogger(__name__)

EventKind = Literal["start", "page", "slice_done", "finish"]


@dataclass(frozen=True)
class ProgressEvent:
    kind: EventKind
    stream_id: str
    run_id: str
    pages: int = 0  # pages stored (sync) or listed (reconcile)
    assets: int = 0  # assets stored or listed, after overlap dedupe
    rejected: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0  # 429 answers
    slices_done: int = 0
    slices_total: int = 0
    window: tuple[int, int] | None = None  # (lo_ms, cursor_ms) of the slice last written
    message: str = ""


class ProgressListener(Protocol):
    def __call__(self, event: ProgressEvent) -> None: ...


class Emitter:
    """Serializes calls to a listener and contains its failures."""

    def __init__(self, listener: ProgressListener | None) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, event: ProgressEvent) -> None:
        if self._listener is None:
            return
        with self._lock:
            try:
                self._listener(event)
            except Exception:  # progress must never fail a run
                if not self._warned:
                    log.exception("progress listener failed; further failures are ignored")
                    self._warned = True


def log_listener(logger: logging.Logger) -> ProgressListener:
    """A listener writing one line per event kind other than `page` (for Dagster logs)."""

    def listen(event: ProgressEvent) -> None:
        if event.kind == "page":
            return
        logger.info(
            "%s %s: %d assets, %d pages, %d requests, %d retries, %d throttled, slices %d/%d %s",
            event.kind,
            event.stream_id,
            event.assets,
            event.pages,
            event.requests,
            event.retries,
            event.throttled,
            event.slices_done,
            event.slices_total,
            event.message,
        )

    return listen
