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


_MALLOC_TUNED = False
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 16 * 2**20  #: blocks above this come from mmap (and go back to the OS at once)
TRIM_THRESHOLD_BYTES = 64 * 2**20  #: free memory kept at the heap top before it is returned to the OS


def keep_freed_memory() -> bool:
    """Let glibc's allocator reuse freed blocks of up to 16 MiB instead of returning them to the OS.

    The analyzer's batch driver allocates and frees a few dozen temporaries of about 2 MiB per kernel
    call. With glibc's defaults they are mapped and unmapped every call, and page-faulting fresh pages
    costs about 40 % of the analysis time (``make bench``). This sets ``M_MMAP_THRESHOLD`` to 16 MiB
    and ``M_TRIM_THRESHOLD`` to 64 MiB, once per process, so the process keeps at most 64 MiB of freed
    memory for reuse. Elsewhere than glibc it does nothing.

    Returns
    -------
    bool
        True when the allocator accepted the settings (now or earlier in this process).
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _MALLOC_TUNED = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return _MALLOC_TUNED


def pool_worker_init() -> None:
    """Initializer for process-pool workers: ignore SIGINT (the parent saves and stops), die at once on
    SIGTERM (the parent's handler is not inherited) and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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


def stop_pool(pool: object) -> None:
    """Stop a ``concurrent.futures.ProcessPoolExecutor`` now: cancel what waits, terminate the workers.

    ``shutdown(wait=True)`` would wait for the chunks being computed (minutes for long sounds): a
    Ctrl-C must act within a second. The workers ignore SIGINT (:func:`pool_worker_init`) and get
    SIGTERM here. (``_processes`` is the executor's own table of worker processes.)
    """
    processes = list(getattr(pool, "_processes", None) or {}.values())
    pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[attr-defined]
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, ValueError, AttributeError):
            pass
    for proc in processes:
        try:
            proc.join(timeout=2.0)
        except (OSError, ValueError, AssertionError, AttributeError):
            pass
