"""Rich progress bars on stderr for every loop a user waits for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(description: str, *, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Context manager yielding ``advance(n)``; draws a rich bar on stderr when ``enabled``."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def status_line(message: str, *, enabled: bool = True) -> None:
    """One dim line on stderr (e.g. "waiting for process N, which is writing ..."), beside the progress bars."""
    if not enabled:
        return
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[dim]{escape(message)}[/]")
