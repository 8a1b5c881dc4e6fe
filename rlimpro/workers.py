"""Helpers for child processes: they die with their parent and leave Ctrl-C to it.

Kept free of heavy imports: worker processes and Pd's pre-exec hook import it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (``PR_SET_PDEATHSIG``).

    A killed run then leaves no workers behind. Elsewhere this is a no-op and the pools' own
    shutdown applies.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def pool_worker_init() -> None:
    """Initializer for process-pool workers: ignore SIGINT (the parent saves and stops) and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread (workers forked inside inherit it): the pool already uses every core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield
