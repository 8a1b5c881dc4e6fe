"""Running the external programs of the synth engines (faust, g++, scsynth) by Pd's rules.

Every program runs in its own process group (a Ctrl-C reaches only Python, which then stops it),
dies with Python where Linux allows (``setpriv --pdeathsig``), has a timeout after which its whole
group is killed, and has its stderr shown (the last lines) when it fails. Nothing is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rlimpro.errors import SynthError

SHOW_LINES = 15
TIMEOUT_ENV = "RLIMPRO_SYNTH_TIMEOUT"


def timeout_seconds(default: float) -> float:
    """``$RLIMPRO_SYNTH_TIMEOUT`` (seconds an engine's program may run: faust, g++, csound, scsynth), else ``default``.

    Raises
    ------
    ParameterError
        The variable is not a positive number.
    """
    from rlimpro.errors import ParameterError

    env = os.environ.get(TIMEOUT_ENV)
    if not env:
        return float(default)
    try:
        value = float(env)
    except ValueError:
        raise ParameterError(f"{TIMEOUT_ENV}={env!r} is not a number of seconds") from None
    if not value > 0:
        raise ParameterError(f"{TIMEOUT_ENV}={env!r} must be > 0 seconds")
    return value


def find_program(name: str, *, env: str | None, install_hint: str, what: str) -> str:
    """Absolute path of ``name`` (or of ``$env`` when set), else a :class:`SynthError` with the install hint."""
    given = os.environ.get(env) if env else None
    found = shutil.which(given or name)
    if found is None:
        where = f"{env}={given}" if given else f"`{name}` on PATH"
        raise SynthError(f"{what} not found ({where}); {install_hint}")
    return found


def tail(text: str, n: int = SHOW_LINES) -> str:
    """The last ``n`` non-empty lines of ``text``, indented as in Pd's error messages."""
    lines = [ln for ln in text.splitlines() if ln.strip()][-n:]
    return "\n".join(f"  | {ln}" for ln in lines) if lines else "  (it printed nothing)"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s process group (it leads its own) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass


def popen(args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
          stdout: int = subprocess.PIPE, stderr: int = subprocess.PIPE) -> subprocess.Popen:
    """Start ``args`` in a new session, asked to die with Python (setpriv) where that exists."""
    from rlimpro.pd.process import death_signal_prefix

    return subprocess.Popen(
        [*death_signal_prefix(), *map(str, args)], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=True,
    )


def run_program(args: Sequence[str], *, what: str, timeout: float, cwd: Path | None = None,
                install_hint: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``args`` to completion; its group is killed on timeout or Ctrl-C.

    Parameters
    ----------
    args : sequence of str
        Executable and arguments.
    what : str
        For messages ("compiling synth 'x' with faust").
    timeout : float
        Seconds before the program counts as hung.
    cwd : Path, optional
    install_hint : str
        Said when the executable cannot be started.
    env : dict, optional
        The program's environment (default: this process's).

    Returns
    -------
    CompletedProcess
        With text ``stdout`` and ``stderr``; the caller checks ``returncode``.

    Raises
    ------
    SynthError
        The program cannot start, or hung (killed after ``timeout`` s; its last output is shown).
    """
    try:
        proc = popen(args, cwd=cwd, env=env)
    except OSError as exc:
        raise SynthError(f"cannot run {args[0]} {what}: {exc.strerror or exc}; {install_hint}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        text = (err or b"").decode("utf-8", "replace") + (out or b"").decode("utf-8", "replace")
        raise SynthError(f"{Path(args[0]).name} hung {what}: killed after {timeout:.0f} s; its last output:\n{tail(text)}") from None
    except BaseException:
        kill_group(proc)
        raise
    finally:
        if proc.returncode is None:
            kill_group(proc)
    return subprocess.CompletedProcess(args, proc.returncode, out.decode("utf-8", "replace"),
                                       err.decode("utf-8", "replace"))
