"""A real JACK server for the live device tests: jackd with the dummy driver, under a name of its own.

The live process finds the server through ``JACK_DEFAULT_SERVER`` (so parallel tests and a user's JACK
are untouched); ``jack_metro`` clients play the musicians and ``jack_rec`` records what the live
process plays.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

JACK_TOOLS = ("jackd", "jack_wait", "jack_lsp", "jack_connect", "jack_metro", "jack_rec")


def require_jack() -> None:
    """Skip the test when the JACK tools are missing."""
    missing = [t for t in JACK_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: apt-get install jackd2 (make test installs it as root)")


class Jack:
    """A running dummy-driver jackd; :meth:`start` runs clients against it (all stopped on exit)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        """A process with the server's environment, terminated when the server stops."""
        proc = subprocess.Popen(args, env=self.env, **kwargs)
        self.procs.append(proc)
        return proc

    def metro(self, name: str, *, bpm: int, freq: int, amp: float) -> subprocess.Popen:
        """``jack_metro``: a beep of ``freq`` Hz, 150 ms long, ``bpm`` times a minute, as client ``name``."""
        args = ["jack_metro", "-n", name, "-b", str(bpm), "-f", str(freq), "-A", str(amp), "-D", "150"]
        return self.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rlimpro(self, workspace: Path, *args: str) -> subprocess.Popen:
        """``python -m rlimpro --root WORKSPACE ARGS...`` against the server, stdout and stderr piped (text)."""
        cli = [sys.executable, "-m", "rlimpro", "--root", str(workspace), *args]
        return self.start(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, **kwargs)

    def ports(self) -> list[str]:
        return self.run(["jack_lsp"], capture_output=True, text=True).stdout.split()

    def wait_for_ports(self, keep: Callable[[str], bool], *, count: int, timeout: float) -> list[str]:
        """The ports ``keep`` accepts, sorted, once there are ``count`` of them ([] after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = sorted(p for p in self.ports() if keep(p))
            if len(mine) >= count:
                return mine
            time.sleep(0.2)
        return []

    def connect(self, source: str, destination: str) -> None:
        self.run(["jack_connect", source, destination], check=True)

    def record(self, path: Path, port: str, *, seconds: int) -> None:
        """``jack_rec`` ``port`` into ``path`` for ``seconds`` s."""
        self.run(
            ["jack_rec", "-f", str(path), "-d", str(seconds), port],
            check=True,
            timeout=60,
            capture_output=True,
        )


@contextlib.contextmanager
def dummy_jack(tmp_path: Path, *, prefix: str, args: tuple[str, ...] = ()) -> Iterator[Jack]:
    """jackd with the dummy driver at 48 kHz, 256-frame periods (plus ``args``), ready; stopped on exit.

    Every process started through the yielded :class:`Jack` is stopped on exit, the last started first.
    """
    jack = Jack(
        {
            **os.environ,
            "JACK_DEFAULT_SERVER": f"{prefix}-{os.getpid()}",
            "JACK_NO_START_SERVER": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "jackd.log"
    with open(log_path, "w") as jack_log:
        try:
            name = jack.env["JACK_DEFAULT_SERVER"]
            driver = ["-d", "dummy", "-r", "48000", "-p", "256", *args]
            jack.start(
                ["jackd", "-n", name, "--no-realtime", *driver], stdout=jack_log, stderr=subprocess.STDOUT
            )
            waited = jack.run(["jack_wait", "-w", "-t", "15"], capture_output=True, text=True)
            assert waited.returncode == 0, log_path.read_text()
            yield jack
        finally:
            for p in reversed(jack.procs):
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
