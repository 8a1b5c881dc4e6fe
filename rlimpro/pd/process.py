"""Pure Data process control: find ``pd``, check its version, run it, and never leave it behind.

Every Pd that rlimpro starts runs in its own process group (so a Ctrl-C in the terminal reaches only
Python, which then stops Pd in a ``finally``), has its stderr captured line by line (the last lines go
into every error message), is stopped with its whole group (Pd may fork ``pd-watchdog``) on normal
exit, on error, on Ctrl-C and at interpreter exit, and on Linux is asked by the kernel to die with
its parent (``PR_SET_PDEATHSIG``, set by util-linux's ``setpriv`` or else between fork and exec) if
Python itself is killed.

Facts about Pd 0.53 (Debian ``puredata-core``) this module relies on:

- ``pd -noprefs -nogui -nosound -batch -nrt -stderr`` runs a patch as fast as the CPU allows; the
  patch must switch DSP on itself (``; pd dsp 1``) and end with ``; pd quit``.
- ``-stderr`` is needed for [print] and Pd's errors to reach stderr in ``-nogui`` mode.
- ``-nosound -sleepgrain 0.1`` runs in real time without a sound card (live tests).
"""

from __future__ import annotations

import atexit
import collections
import errno
import functools
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from rlimpro.errors import PdError
from rlimpro.workers import die_with_parent

PD_ENV = "RLIMPRO_PD"
MIN_VERSION = (0, 51)
INSTALL_HINT = "install Pure Data with `apt-get install puredata-core`, or set RLIMPRO_PD to the pd executable"
TAIL_LINES = 200  # stderr lines kept per process
SHOW_LINES = 12  # stderr lines shown in error messages
_VERSION_RE = re.compile(r"Pd-(\d+)\.(\d+)(?:\.(\d+))?")
_LOG_PREFIX = re.compile(r"^verbose\(\d+\):\s?")  # Pd 0.53 tags -stderr lines with their log level
NOISE = re.compile(r"^rlimpro-(row|ack|recorded):|: biggest amplitude = ")  # our progress and reply lines, soundfiler's notes

BATCH_FLAGS = ("-noprefs", "-nogui", "-nosound", "-batch", "-nrt", "-stderr")


# ---------------------------------------------------------------- finding pd
def find_pd(explicit: str | os.PathLike | None = None) -> Path:
    """Locate the ``pd`` executable.

    Parameters
    ----------
    explicit : str or PathLike, optional
        A path or command name; else ``$RLIMPRO_PD``; else ``pd`` on ``PATH``.

    Returns
    -------
    Path
        Absolute path of an executable file.

    Raises
    ------
    PdError
        Not found or not executable; the message names where it looked and the Debian package.
    """
    given = explicit if explicit is not None else os.environ.get(PD_ENV)
    if given:
        where = f"{PD_ENV}={given}" if explicit is None else str(given)
        found = shutil.which(str(given))
        if found is None:
            raise PdError(f"Pure Data not found at {where}: no such executable; {INSTALL_HINT}")
        return Path(found).resolve()
    found = shutil.which("pd")
    if found is None:
        raise PdError(f"Pure Data (pd) is not on PATH; {INSTALL_HINT}")
    return Path(found).resolve()


@functools.lru_cache(maxsize=8)
def pd_version(pd: Path, *, timeout: float = 10.0) -> tuple[int, int, int]:
    """The version of the Pd at ``pd``, as (major, minor, bugfix), e.g. (0, 53, 1).

    Raises
    ------
    PdError
        ``pd -version`` fails, hangs or prints no version.
    """
    try:
        out = subprocess.run(
            [str(pd), "-version"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise PdError(f"`{pd} -version` did not answer within {timeout:.0f} s; is {pd} really Pure Data?") from exc
    except OSError as exc:
        raise PdError(f"cannot run {pd}: {exc.strerror or exc}; {INSTALL_HINT}") from exc
    text = (out.stdout or "") + (out.stderr or "")
    m = _VERSION_RE.search(text)
    if m is None:
        last = text.strip().splitlines()[-1:] or ["(no output)"]
        raise PdError(f"`{pd} -version` printed no Pd version (got: {last[0]}); is {pd} really Pure Data?")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def check_pd(explicit: str | os.PathLike | None = None) -> Path:
    """:func:`find_pd` and check that its version is at least :data:`MIN_VERSION`.

    Raises
    ------
    PdError
        Missing, unusable or too old.
    """
    pd = find_pd(explicit)
    version = pd_version(pd)
    if version[:2] < MIN_VERSION:
        have = ".".join(map(str, version))
        raise PdError(
            f"{pd} is Pd {have}; rlimpro needs Pd >= {MIN_VERSION[0]}.{MIN_VERSION[1]} "
            f"(`apt-get install puredata-core` on Debian 12 gives 0.53)"
        )
    return pd


# ---------------------------------------------------------------- cleanup of every Pd we started
_RUNNING: weakref.WeakSet[PdProcess] = weakref.WeakSet()


def _stop_all() -> None:
    for proc in list(_RUNNING):
        proc.stop()


atexit.register(_stop_all)


@functools.lru_cache(maxsize=1)
def death_signal_prefix() -> tuple[str, ...]:
    """``("setpriv", "--pdeathsig", "TERM")`` where util-linux's setpriv offers it, else ``()``.

    Starting Pd through setpriv gives it the same parent-death signal as :func:`_child_setup` without
    a ``preexec_fn``, so ``subprocess`` can use ``vfork``: starting Pd then costs about 1.6 ms from any
    Python process, where fork + preexec_fn costs 5-14 ms from one that has imported torch (training,
    evaluation) because fork copies its page tables.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    try:
        help_text = subprocess.run([setpriv, "--help"], capture_output=True, text=True, timeout=5.0).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return (setpriv, "--pdeathsig", "TERM") if "--pdeathsig" in help_text else ()


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    """In Pd, before exec: unblock SIGINT (blocked around the fork, see PdProcess) and ask Linux to
    SIGTERM Pd when the thread that started it dies (Python killed with SIGKILL)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent()


# ---------------------------------------------------------------- one running Pd
def _pending_signals_land_here() -> None:
    """A Python-level call: a signal unblocked just before raises its exception here at the latest."""
    return None


class PdProcess:
    """A running Pd: its own process group, stderr captured, stopped with its group on exit.

    Parameters
    ----------
    args : sequence of str
        Command line after the executable (flags, then the patch).
    pd : Path, optional
        The executable (default: :func:`check_pd`).
    cwd : Path, optional
        Working directory.
    what : str
        What this Pd does, for error messages ("rendering synth 'fm'").

    Notes
    -----
    Use as a context manager, or call :meth:`stop` in a ``finally``. Lines of stderr are kept in
    :attr:`lines` (the last :data:`TAIL_LINES`) and also put on :attr:`queue` (``None`` marks EOF).
    """

    def __init__(self, args: Sequence[str], *, pd: Path | None = None, cwd: Path | None = None, what: str = "Pd"):
        self.pd = pd or check_pd()
        self.args = [str(self.pd), *map(str, args)]
        self.what = what
        self.lines: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.queue: queue.Queue[str | None] = queue.Queue()
        in_main = threading.current_thread() is threading.main_thread()
        # A Ctrl-C between fork and the moment this object is registered would orphan Pd: hold
        # SIGINT back until then (it is delivered right after, and cleanup below handles it).
        masked = in_main and hasattr(signal, "pthread_sigmask")
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masked else None
        # In the main thread Pd gets a parent-death signal: through setpriv where it exists (a vfork
        # start; Pd then keeps SIGINT blocked, which does not matter: it runs in its own session and is
        # stopped with SIGTERM/SIGKILL), else through _child_setup after a fork.
        prefix = death_signal_prefix() if in_main else ()
        try:
            try:
                if prefix and not os.access(self.pd, os.X_OK):  # setpriv would report it only as exit 127
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self.pd))
                self._popen = subprocess.Popen(
                    [*prefix, *self.args],
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    preexec_fn=_child_setup if in_main and not prefix else None,
                )
            except OSError as exc:
                raise PdError(f"cannot start {self.pd}: {exc.strerror or exc}; {INSTALL_HINT}") from exc
            self.pid = self._popen.pid
            self.pgid = self.pid  # start_new_session: Pd leads its own group
            _RUNNING.add(self)
            self._reader = threading.Thread(target=self._read_stderr, name=f"pd-stderr-{self.pid}", daemon=True)
            self._reader.start()
        finally:
            if old_mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        try:
            _pending_signals_land_here()
        except BaseException:
            self.stop()
            raise

    def _read_stderr(self) -> None:
        stream = self._popen.stderr
        assert stream is not None
        for raw in iter(stream.readline, b""):
            line = _LOG_PREFIX.sub("", raw.decode("utf-8", "replace").rstrip("\r\n"))
            self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)

    # -- state
    def poll(self) -> int | None:
        """Pd's exit code, or None while it runs."""
        return self._popen.poll() if self._exited() else None

    def _exited(self) -> bool:
        """True once Pd has exited; does not reap it, so its pid keeps naming its group until stop()."""
        if self._popen.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    @property
    def alive(self) -> bool:
        """True while Pd runs."""
        return not self._exited()

    def tail(self, n: int = SHOW_LINES) -> str:
        """Pd's last ``n`` stderr lines, indented, for error messages (``(no output)`` if none)."""
        self._reader.join(timeout=0.2 if not self.alive else 0.0)
        lines = [ln for ln in list(self.lines) if ln.strip() and not NOISE.search(ln)][-n:]
        if not lines:
            return "  (Pd printed nothing)"
        return "\n".join(f"  | {ln}" for ln in lines)

    def describe_exit(self) -> str:
        """"exited with code 1" / "was killed by SIGKILL"."""
        rc = self._popen.poll()
        if rc is None:
            return "is still running"
        if rc < 0:
            try:
                return f"was killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"was killed by signal {-rc}"
        return f"exited with code {rc}"

    # -- stopping
    def wait(self, timeout: float | None = None) -> int:
        """Wait for Pd to exit; on timeout stop it and raise.

        Raises
        ------
        PdError
            Pd did not exit within ``timeout`` seconds (it has been killed).
        """
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise PdError(
                f"Pd {self.what} did not finish within {timeout:.1f} s and was killed; last Pd output:\n{self.tail()}"
            ) from None

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, *, grace: float = 1.0) -> None:
        """Stop Pd and every process of its group: SIGTERM, then SIGKILL after ``grace`` s. Idempotent."""
        if self._popen.returncode is None:
            if not self._exited():
                self._signal_group(signal.SIGTERM)
                deadline = time.monotonic() + grace
                while not self._exited() and time.monotonic() < deadline:
                    time.sleep(0.005)
            # Pd is not reaped yet, so its pid still names its group: children (pd-watchdog) go too
            self._signal_group(signal.SIGKILL)
            self._popen.wait(timeout=5.0)
        elif group_alive(self.pgid):  # reaped elsewhere (wait()): kill what is left of its group
            self._signal_group(signal.SIGKILL)
        self._reader.join(timeout=1.0)
        if self._popen.stderr is not None and not self._reader.is_alive():
            self._popen.stderr.close()
        _RUNNING.discard(self)

    def __enter__(self) -> PdProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort; stop() is the normal path
        try:
            if self._popen.returncode is None:
                self._signal_group(signal.SIGKILL)
        except Exception:
            pass


def group_alive(pgid: int) -> bool:
    """True if any process of process group ``pgid`` still exists (zombies excluded)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False  # the usual case, answered without reading /proc
    except PermissionError:
        pass  # someone else's group: /proc tells
    # a member exists, but it may be a zombie: only /proc tells them apart
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the command (which may contain spaces) start after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return not Path("/proc").is_dir()  # non-Linux: killpg's answer is all there is


# ---------------------------------------------------------------- batch runs
FATAL_PATTERNS = (
    re.compile(r"couldn't create"),
    re.compile(r"connection failed"),
    re.compile(r"can't open"),
    re.compile(r": no such object"),
)


def explain_fatal(lines: Sequence[str], index: int) -> str:
    """Pd's own words about the fatal line ``lines[index]`` (with the lines just before it) and a hint."""
    context = [ln for ln in lines[max(0, index - 4) : index + 1] if ln.strip() and not NOISE.search(ln)]
    line = lines[index]
    if "couldn't create" in line:
        hint = (
            "an object in the synth could not be created: a typo, or an external vanilla Pd lacks "
            "(rlimpro starts Pd with -noprefs: load externals from synth.pd with a declare -lib object)"
        )
    elif "rlimpro-host 0 0 1 0" in line or "->canvas)" in line:
        hint = "the synth has no inlet: synth.pd needs one inlet object taking the list of parameters"
    elif "rlimpro-host 1 0 2 0" in line or "->dac~" in line or "->tabwrite~" in line or "(canvas->*~)" in line:
        hint = "the synth has no signal outlet: synth.pd needs one outlet~ object"
    elif ": no such object" in line:
        hint = "the synth is not a valid Pd patch (Pd met a line it cannot run): save it from Pd as synth.pd"
    elif "can't open" in line:
        hint = "a file the synth reads is missing (paths are relative to synth.pd's folder)"
    else:
        hint = "the patch is broken"
    said = "\n".join(f"  | {ln}" for ln in context)
    return f"{hint}. Pd said:\n{said}"


def run_batch(
    patch: Path,
    *,
    sample_rate: int,
    what: str,
    stall_timeout: float,
    on_progress: Callable[[str], None] | None = None,
    progress_prefix: str = "rlimpro-row:",
    pd: Path | None = None,
    fatal: Sequence[re.Pattern[str]] = FATAL_PATTERNS,
) -> list[str]:
    """Run ``patch`` in ``pd -batch`` until it quits; return Pd's stderr lines.

    Parameters
    ----------
    patch : Path
        A patch that switches DSP on, does its work and sends ``pd quit``.
    sample_rate : int
        Hz, passed as ``-r``.
    what : str
        For error messages ("rendering synth 'fm'").
    stall_timeout : float
        Seconds Pd may go without printing a line that starts with ``progress_prefix`` (counted from
        start-up) before it is considered hung and killed.
    on_progress : callable, optional
        Called with each progress line.
    progress_prefix : str
        Marks progress lines.
    pd : Path, optional
        Executable (default :func:`check_pd`).
    fatal : sequence of compiled regex
        A stderr line matching one of these stops Pd at once (e.g. the synth does not load).

    Returns
    -------
    list of str
        Every stderr line.

    Raises
    ------
    PdError
        Pd printed a fatal error, hung (no progress for ``stall_timeout`` s), exited with an error
        code, or ran into Ctrl-C (re-raised as KeyboardInterrupt after Pd is stopped). Messages show
        Pd's last stderr lines.
    """
    args = [*BATCH_FLAGS, "-r", str(int(sample_rate)), patch.name]
    lines: list[str] = []
    with PdProcess(args, pd=pd, cwd=patch.parent, what=what) as proc:
        deadline = time.monotonic() + stall_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.stop()
                raise PdError(
                    f"Pd hung {what}: no progress for {stall_timeout:.1f} s, so it was killed "
                    f"(raise the timeout with RLIMPRO_PD_TIMEOUT=<seconds> if the synth is just slow); "
                    f"last Pd output:\n{proc.tail()}"
                )
            try:
                line = proc.queue.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:  # EOF: Pd exited
                break
            lines.append(line)
            if any(p.search(line) for p in fatal):
                proc.stop()
                raise PdError(f"Pd failed {what}: {explain_fatal(lines, len(lines) - 1)}")
            if line.startswith(progress_prefix):
                deadline = time.monotonic() + stall_timeout
                if on_progress is not None:
                    on_progress(line)
        rc = proc.wait(timeout=5.0)
        if rc != 0:
            raise PdError(f"Pd {proc.describe_exit()} {what}; last Pd output:\n{proc.tail()}")
    return lines
