"""Ctrl-C and SIGTERM as events: a stop flag that loops check, never an exception inside a write.

Three pieces, process-wide because signals are:

- :func:`track_partial` / :func:`untrack_partial`: the temporary files being written right now (each is
  renamed into place once complete). A hard quit removes them, so only complete files are left.
- :func:`critical`: a section that publishes files (rename the log, then write its sidecar); a hard
  quit asked for inside it waits until the section ends.
- :class:`StopSignals`: the SIGINT/SIGTERM handler the ``rlimpro`` command installs for its whole life
  (:func:`rlimpro.cli.main`); :func:`stop_signals` gives a command the installed one (or installs one
  for the ``with`` block, when rlimpro runs inside another program).

What a signal does under :class:`StopSignals`:

1. The first sets :attr:`StopSignals.stop`. Inside :func:`deferred` (a live session's hop loop and its
   teardown) that is all: the loop sees the flag between two hops and ends, and everything complete
   is saved. Outside it (set-up, where nothing has been written yet) it also raises
   :class:`KeyboardInterrupt` at once, as Python's default handler would.
2. A second one within :data:`SECOND_SIGNAL_WINDOW` seconds quits at once (exit status 130): partial
   files are removed first, and a quit asked for inside :func:`critical` happens when it ends.

3. Once the command is over (:func:`exiting`), signals are ignored while the interpreter shuts down:
   everything is saved by then, and a Ctrl-C there would otherwise print a traceback from a library's
   clean-up (torch's) or, once Python has given the signals back to the system, kill the process
   by SIGINT instead of letting it end with the command's status.

A SIGINT that was ignored when the process started (a background job of a non-interactive shell,
``nohup``) stays ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

SECOND_SIGNAL_WINDOW = 2.0  #: s: a second Ctrl-C within this quits at once
EXIT_INTERRUPTED = 130

_partials: set[str] = set()
_state: dict = {"critical": 0, "deferred": 0, "quit_pending": False, "exit_code": None, "installed": None,
                "redelivered": False}
#: Functions Python calls from the garbage collector or a weakref: an exception raised inside them is
#: printed ("Exception ignored in ...") and swallowed, so a KeyboardInterrupt must not be raised there.
_SWALLOWING = ("__del__", "cb", "_remove", "callback", "_cleanup")


def track_partial(path: str | os.PathLike) -> None:
    """Register a temporary file being written (removed by a hard quit)."""
    _partials.add(os.fspath(path))


def untrack_partial(path: str | os.PathLike) -> None:
    """Forget a temporary file (it was renamed into place or removed)."""
    _partials.discard(os.fspath(path))


def partial_files() -> list[Path]:
    """The temporary files registered now."""
    return [Path(p) for p in list(_partials)]


def remove_partials() -> None:
    """Delete every registered temporary file."""
    for p in list(_partials):
        with contextlib.suppress(OSError):
            os.unlink(p)
        _partials.discard(p)


def flush_streams() -> None:
    """Flush stdout and stderr (before ``os._exit``)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def quit_now(code: int = EXIT_INTERRUPTED) -> None:
    """Remove the partial files and end the process at once (no clean-up handlers run)."""
    remove_partials()
    with contextlib.suppress(Exception):
        sys.stderr.write("rlimpro: stopped at once (second interrupt); partial files were removed\n")
    flush_streams()
    os._exit(code)


def exiting(code: int) -> None:
    """The command is over with status ``code``: from now on SIGINT and SIGTERM are ignored (an ignored
    signal stays ignored through the interpreter's shutdown; a Python handler would not)."""
    _state["exit_code"] = int(code)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section a hard quit waits for (publishing a file and its sidecar)."""
    _state["critical"] += 1
    try:
        yield
    finally:
        _state["critical"] -= 1
        if _state["critical"] == 0 and _state["quit_pending"]:
            quit_now()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside, a first signal only sets the stop flag (the loop checks it); outside, it also raises."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1


class StopFlag(threading.Event):
    """A :class:`threading.Event` that remembers why it was set (``reason``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""

    def set(self, reason: str = "stop requested") -> None:  # type: ignore[override]
        if not self.is_set():
            self.reason = reason
        super().set()


class StopSignals:
    """SIGINT and SIGTERM handlers for one command (a context manager; a no-op outside the main thread).

    Attributes
    ----------
    stop : StopFlag
        Set by the first signal, with ``reason`` ``"interrupted"``.
    signals : list of str
        Names of the signals received (``"SIGINT"``, ``"SIGTERM"``).
    """

    def __init__(self) -> None:
        self.stop = StopFlag()
        self.signals: list[str] = []
        self._last: float | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> StopSignals:
        """Handle SIGINT and SIGTERM from now on (main thread only; an ignored SIGINT stays ignored)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:  # ignored by whoever started us: keep it so
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
        if _state["installed"] is None:
            _state["installed"] = self
        return self

    def uninstall(self) -> None:
        """Give the signals back to the handlers they had."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
        if _state["installed"] is self:
            _state["installed"] = None

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if _state["redelivered"]:  # our own re-delivery of a signal that arrived in a finalizer
            _state["redelivered"] = False
            if not _state["deferred"]:
                raise KeyboardInterrupt
            return
        self.signals.append(signal.Signals(signum).name)
        if _state["exit_code"] is not None:  # the command is over and saved: end now
            flush_streams()
            os._exit(_state["exit_code"])
        if self.stop.is_set() and self._last is not None and now - self._last <= SECOND_SIGNAL_WINDOW:
            if _state["critical"]:
                _state["quit_pending"] = True
                return
            quit_now()
        self._last = now
        self.stop.set("interrupted")
        if not _state["deferred"]:
            if _in_finalizer(frame):  # raise it a moment later, where it is not swallowed
                _redeliver(signum)
                return
            raise KeyboardInterrupt


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether ``frame`` (or its caller) is a finalizer or weakref callback (see :data:`_SWALLOWING`)."""
    for _ in range(3):
        if frame is None:
            return False
        if frame.f_code.co_name in _SWALLOWING:
            return True
        frame = frame.f_back
    return False


def _redeliver(signum: int) -> None:
    import _thread

    def again() -> None:
        _state["redelivered"] = True
        _thread.interrupt_main(signum)

    timer = threading.Timer(0.01, again)
    timer.daemon = True
    timer.start()


def installed() -> StopSignals | None:
    """The :class:`StopSignals` handling this process's signals, if any."""
    return _state["installed"]


@contextlib.contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """The process's :class:`StopSignals` (the ``rlimpro`` command's), or one installed for the block."""
    installed = _state["installed"]
    if installed is not None:
        yield installed
        return
    with StopSignals() as signals:
        yield signals
