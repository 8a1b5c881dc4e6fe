"""``live --output supercollider``: a real-time scsynth playing the SynthDef under ``/n_set``.

rlimpro starts ``scsynth`` on a free loopback UDP port (JACK audio: scsynth's Linux driver; its
outputs connect to ``$SC_JACK_DEFAULT_OUTPUTS`` if set), loads the SynthDef (``/d_recv``, waits for
``/done``), starts one node at the first parameters and sends ``/n_set`` per decision that changes them.
On close it asks the node for its controls (``/s_get``) to confirm the last values arrived, sends
``/quit`` and stops scsynth's process group. Start-up has a timeout and shows scsynth's output on failure.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
from typing import Any

import numpy as np

from rlimpro.errors import SynthError
from rlimpro.live.outputs import Sink
from rlimpro.supercollider import osc
from rlimpro.synths.process import kill_group, popen, tail

START_TIMEOUT = 15.0
REPLY_TIMEOUT = 2.0
NODE = 1000


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScsynthPlayer:
    """A real-time scsynth with one node of the synth's SynthDef.

    Parameters
    ----------
    engine : SuperColliderEngine
        Gives the SynthDef, its controls and the physical mapping.
    sample_rate : int
        Hz asked of scsynth (JACK runs at its own rate).
    """

    def __init__(self, engine: Any, *, sample_rate: int):
        self.engine = engine
        self.sample_rate = int(sample_rate)
        self.proc: subprocess.Popen | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.ready = threading.Event()
        self.sock: socket.socket | None = None
        self.port = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.lines.append(line)
            if "server ready" in line:
                self.ready.set()

    def _fail(self, why: str) -> SynthError:
        return SynthError(f"scsynth {why}; scsynth said:\n{tail(chr(10).join(self.lines))}")

    def start(self, params: np.ndarray) -> None:
        """Start scsynth, load the SynthDef and start the node at ``params`` (shape (N,), [0, 1]).

        Raises
        ------
        SynthError
            scsynth cannot start (no JACK server, say), is not ready within :data:`START_TIMEOUT` s,
            or does not load the SynthDef.
        """
        self.port = _free_udp_port()
        args = [self.engine.scsynth, "-u", str(self.port), "-B", "127.0.0.1", "-i", "0", "-o", "1",
                "-D", "0", "-R", "0"]
        try:
            self.proc = popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise SynthError(f"cannot start {args[0]}: {exc.strerror or exc}; {self.engine.install_hint}") from exc
        threading.Thread(target=self._read, name=f"scsynth-{self.proc.pid}", daemon=True).start()
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not self.ready.wait(0.05):
                if self.proc.poll() is not None:
                    raise self._fail(f"exited (code {self.proc.returncode}) before it was ready (is a JACK server running?)")
                if time.monotonic() > deadline:
                    raise self._fail(f"was not ready within {START_TIMEOUT:.0f} s")
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self._send("/d_recv", self.engine.synthdef)
            self._wait_for("/done", what="load the SynthDef")
            values = self.engine.physical_matrix(np.asarray(params, dtype=np.float64))
            self._send("/s_new", self.engine.info.name, NODE, 0, 0, *self.engine._pairs(values))
        except BaseException:
            self.stop()
            raise

    def _send(self, address: str, *args: Any) -> None:
        assert self.sock is not None
        self.sock.sendto(osc.message(address, *args), ("127.0.0.1", self.port))

    def _wait_for(self, address: str, *, what: str) -> list:
        assert self.sock is not None
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"did not {what} within {REPLY_TIMEOUT:.0f} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            addr, args = osc.parse_message(data)
            if addr == "/fail":
                raise self._fail(f"could not {what}: {args}")
            if addr == address:
                return args

    def send(self, params: np.ndarray) -> None:
        """``/n_set`` the node's controls to ``params`` (shape (N,), [0, 1]).

        Raises
        ------
        SynthError
            scsynth has died (its last output is shown).
        """
        self.check()
        values = self.engine.physical_matrix(np.asarray(params, dtype=np.float64))
        self._send("/n_set", NODE, *self.engine._pairs(values))

    def confirm(self, params: np.ndarray) -> bool:
        """Ask the node for its controls (``/s_get``); True when they are ``params``' physical values (float32)."""
        values = self.engine.physical_matrix(np.asarray(params, dtype=np.float64)).astype(np.float32)
        self._send("/s_get", NODE, *[int(c) for c in self.engine.controls])
        args = self._wait_for("/n_set", what="answer /s_get")
        got = np.array(args[2::2], dtype=np.float32)
        return got.shape == values.shape and bool(np.array_equal(got, values))

    def check(self) -> None:
        if not self.alive:
            raise self._fail("died")

    def stop(self) -> None:
        """``/quit``, then stop scsynth's process group (idempotent)."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None and self.sock is not None:
                try:
                    self._send("/quit")
                    self.proc.wait(timeout=2.0)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            kill_group(self.proc)
            if self.sock is not None:
                self.sock.close()
                self.sock = None
            if self.proc.stdout is not None:
                self.proc.stdout.close()


class SuperColliderSink(Sink):
    """A SuperCollider synth played by a real-time scsynth (:class:`ScsynthPlayer`), ``/n_set`` per change."""

    name = "supercollider"

    def __init__(self, *, spec: Any, sample_rate: int, initial_params: np.ndarray):
        self.spec = spec
        self.sample_rate = int(sample_rate)
        self.initial = np.asarray(initial_params, dtype=np.float64).copy()
        self.player: ScsynthPlayer | None = None
        self.sent = 0
        self.acknowledged = False
        self.pid: int | None = None
        self._last: np.ndarray | None = None

    def start(self) -> None:
        from rlimpro.errors import ParameterError
        from rlimpro.synths import make_engine

        if not self.spec.supercollider:
            raise ParameterError(f"--output supercollider: synth '{self.spec.name}' has no SynthDef "
                                 "(add 'supercollider: synth.scsyndef' to its synth.yaml)")
        # any synth with a SynthDef plays here, whatever its main engine (the built-in fm is native)
        spec = self.spec.model_copy(update={"engine": "supercollider"})
        self.player = ScsynthPlayer(make_engine(spec), sample_rate=self.sample_rate)
        self.player.start(self.initial)
        self._last = self.initial

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        assert self.player is not None
        if self._last is not None and np.array_equal(params, self._last):
            self.player.check()
            return
        self.player.send(params)
        self._last = np.array(params)
        self.sent += 1

    def close(self, *, ok: bool) -> None:
        if self.player is None:
            return
        try:
            if ok and self._last is not None and self.player.alive:
                self.acknowledged = self.player.confirm(self._last)
        finally:
            self.pid = self.player.pid
            self.player.stop()
            self.player = None

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "last_params_acknowledged": self.acknowledged, "pid": self.pid}
