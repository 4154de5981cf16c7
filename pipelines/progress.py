"""A rich progress display for the CLI, plugged into the jobs as their `progress` resource."""

import time
from typing import Any

from pydantic import PrivateAttr
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from assets_sync.progress import ProgressEvent
from pipelines.resources import ProgressResource, describe, fraction


class RichProgressResource(ProgressResource):
    """Shows a live line on a terminal (stderr); plain lines every few seconds elsewhere."""

    quiet: bool = False
    _progress: Progress | None = PrivateAttr(default=None)
    _task: TaskID | None = PrivateAttr(default=None)
    _console: Console | None = PrivateAttr(default=None)
    _last_line: float = PrivateAttr(default=0.0)

    def start(self, context: Any, title: str) -> None:
        if self.quiet:
            return
        self._console = Console(stderr=True)
        if self._console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(title, total=1.0, detail="")
        else:
            self._console.print(title)
        self._last_line = time.monotonic()

    def event(self, context: Any, event: ProgressEvent) -> None:
        if self.quiet or self._console is None:
            return
        if self._progress is not None and self._task is not None:
            done = fraction(event)
            self._progress.update(
                self._task, completed=done if done is not None else 0.0, detail=describe(event)
            )
            return
        now = time.monotonic()
        if now - self._last_line >= self.log_every_seconds or event.kind == "finish":
            self._last_line = now
            self._console.print(describe(event))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None
