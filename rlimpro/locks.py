"""One lock per output table, so two identical commands never compute or write it at once.

:func:`output_lock` holds an advisory ``flock`` on a hidden file beside the output (``.lookup.csv.lock``
for ``synths/fm/lookup.csv``). A second command asking for the same lock waits for it, saying who holds
it (process id, host, command, since when), then re-checks what is already done: it never crashes on
the first one's files and never repeats finished work. The kernel releases the lock when the holder
exits, however it ends (SIGKILL included), so a stale lock cannot block anyone. The holder removes the
lock file when it is done; a waiter that then holds the lock of a removed file tries again on the
new one, so two commands never both hold it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rlimpro.errors import LockedError, storage_error

POLL = 0.1  #: s between two attempts while waiting


def lock_path(output: Path) -> Path:
    """The lock file of ``output``: ``.<name>.lock`` beside it."""
    output = Path(output)
    return output.parent / f".{output.name}.lock"


def describe_holder(path: Path) -> str:
    """Who holds the lock at ``path`` (what the holder wrote into it), for messages."""
    try:
        info = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another rlimpro command"
    since = info.get("since", "?")
    return f"process {info['pid']} on {info.get('host', '?')} (`{info.get('command', '?')}`, since {since})"


@contextlib.contextmanager
def output_lock(
    output: Path,
    *,
    what: str,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold the lock of ``output`` for the ``with`` block.

    Parameters
    ----------
    output : Path
        The table (or ledger) being written; its folder must exist.
    what : str
        What is written, for messages (``"the lookup table of fm"``).
    wait : bool
        Wait for a holder to finish (default); else raise :class:`LockedError` at once.
    on_wait : callable, optional
        Called once with a line saying who holds the lock, when waiting starts.
    timeout : float, optional
        Give up waiting after this many seconds (:class:`LockedError`).

    Raises
    ------
    LockedError
        Held by another command and ``wait`` is False or ``timeout`` passed (names the holder).
    StorageError
        The lock file cannot be created (a read-only folder).
    """
    path = lock_path(output)
    fd = _acquire(path, what=what, wait=wait, on_wait=on_wait, timeout=timeout)
    try:
        stamp = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": shlex.join(["rlimpro", *sys.argv[1:]]) if sys.argv else "rlimpro",
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with contextlib.suppress(OSError):  # who holds it is information, not a requirement
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(stamp).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # still holding it: a waiter sees the file is gone and takes a new one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, *, what: str, wait: bool, on_wait: Callable[[str], None] | None,
             timeout: float | None) -> int:
    """An open descriptor of ``path`` holding its lock (the file at ``path`` is the one locked)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise storage_error(exc, path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(path)
            os.close(fd)
            if not wait:
                raise LockedError(f"{what} is being written by {holder}; wait for it to finish or stop it") from None
            if deadline is not None and time.monotonic() > deadline:
                raise LockedError(f"{what} is still being written by {holder} after {timeout:g} s") from None
            if not told and on_wait is not None:
                on_wait(f"waiting for {holder}, which is writing {what}")
            told = True
            time.sleep(POLL)
            continue
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
