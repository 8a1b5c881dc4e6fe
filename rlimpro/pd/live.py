"""Play a Pd synth live: start Pd with the generated live player and send it parameters over OSC.

The player patch (template ``live-player.pd``) loads the user's ``synth.pd`` unchanged, plays its
outlet to ``dac~`` (both channels), and listens on a UDP port **of 127.0.0.1 only** with vanilla
``[netreceive -u -b PORT 127.0.0.1]`` (Pd 0.51+ binds the address given after the port; with none it
would listen on every interface, IPv4 and IPv6) + ``[oscparse]``:

- ``/rlimpro/gain f f``     -> the output gain ramps to the first value over the second (ms): silence;
- ``/rlimpro/params f...``  -> the synth's inlet (a list of N floats in [0, 1]); Pd acknowledges on
  its stderr with ``rlimpro-ack: f...`` (the values it passed on, printed to 6 significant digits).
- ``/rlimpro/record f``     -> records the synth's outlet for ``f`` seconds (clipped in Pd to
  ``max_record_seconds``, fixed when Pd starts) into ``record.wav`` in the player's private work
  folder and prints ``rlimpro-recorded: <samples>`` (tests and diagnostics; :meth:`PdLivePlayer.record`
  then copies it where asked). Nothing received from the network names a file.

Pd answers on its stderr, which rlimpro reads anyway (for error messages): ``rlimpro-live-ready:
<port>`` once the patch and the synth are loaded, then the acknowledgements. Pd therefore opens no
socket but its ``netreceive`` on 127.0.0.1 (a ``[netsend -u]`` reply socket would bind 0.0.0.0: Pd
0.53's UDP netsend is unconnected and cannot be given an address), and Python's sending socket is
bound to 127.0.0.1 too.

Example
-------
>>> with PdLivePlayer(spec, audio="jack") as player:   # doctest: +SKIP
...     player.send([0.2, 0.8])
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlimpro.errors import ParameterError, PdError
from rlimpro.pd.patches import fill_template, link_synth, make_workdir, synth_patch
from rlimpro.pd.process import FATAL_PATTERNS, PdProcess, check_pd, explain_fatal
from rlimpro.synths.spec import SynthSpec

AUDIO_FLAGS: dict[str, tuple[str, ...]] = {
    "none": ("-nosound", "-nrt", "-sleepgrain", "0.1"),  # no sound card (tests): real time, low latency
    "default": (),  # Pd's default audio API and device
    "jack": ("-jack",),
    "alsa": ("-alsa",),
}
PORT_ATTEMPTS = 5
AUDIO_SETTLE = 0.5  # seconds to watch for audio-device errors after Pd switched DSP on
AUDIO_ERRORS = re.compile(
    r"ALSA output error|JACK: couldn't connect|audio I/O stuck|couldn't open audio|audio device.*(error|fail)", re.I
)
READY_LINE = "rlimpro-live-ready:"
#: Pd's stderr line prefix of each reply (what the OSC addresses of earlier versions carried).
REPLY_LINES = {"/rlimpro/ack": "rlimpro-ack:", "/rlimpro/recorded": "rlimpro-recorded:"}
ACK_TOLERANCE = 5e-6  # Pd prints floats to 6 significant digits
MAX_RECORD_SECONDS = 10.0  #: default longest recording (the table Pd may grow to, s)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _osc_message(address: str, args: Sequence[float | str]) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, str):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_STRING)
        else:
            b.add_arg(float(a), OscMessageBuilder.ARG_TYPE_FLOAT)
    return b.build().dgram


class PdLivePlayer:
    """A running Pd that plays a synth and takes its parameters over OSC. A context manager.

    Parameters
    ----------
    spec : SynthSpec
        A synth with a Pd patch.
    audio : {"none", "default", "jack", "alsa"}
        ``none``: ``-nosound`` (Pd runs in real time without a sound card; tests). Otherwise the
        audio API Pd plays ``dac~`` through.
    sample_rate : int
        Hz (``-r``; with JACK the server's rate wins).
    port : int, optional
        UDP port Pd listens on (default: a free one).
    startup_timeout : float
        Seconds to wait for Pd to load the patch and say it is ready.
    extra_flags : sequence of str
        More Pd flags (e.g. ``["-audiooutdev", "2"]``).
    pd : str or PathLike, optional
        The Pd executable (default ``$RLIMPRO_PD`` or ``pd`` on PATH).
    max_record_seconds : float
        Longest :meth:`record` (Pd's recording table is never larger).

    Raises
    ------
    PdError
        Pd missing, the synth does not load, Pd dies or does not answer (messages show Pd's last
        stderr lines).
    """

    def __init__(
        self,
        spec: SynthSpec,
        *,
        audio: str = "default",
        sample_rate: int = 44100,
        port: int | None = None,
        startup_timeout: float = 10.0,
        extra_flags: Sequence[str] = (),
        pd: str | os.PathLike | None = None,
        max_record_seconds: float = MAX_RECORD_SECONDS,
    ):
        if audio not in AUDIO_FLAGS:
            raise ParameterError(f"audio {audio!r}: choose one of {', '.join(AUDIO_FLAGS)}")
        if not (8000 <= int(sample_rate) <= 192000):
            raise ParameterError(f"sample_rate {sample_rate} Hz is outside 8000..192000")
        self.spec = spec
        self.n_params = spec.n_params
        self.patch, self.object = synth_patch(spec)
        self.audio = audio
        self.sample_rate = int(sample_rate)
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self.extra_flags = [str(f) for f in extra_flags]
        self.pd = check_pd(pd)
        if not (0 < max_record_seconds <= 600):
            raise ParameterError(f"max_record_seconds {max_record_seconds}: must be in (0, 600]")
        self.max_record_seconds = float(max_record_seconds)
        self.port: int | None = None
        self.process: PdProcess | None = None
        self._work: Path | None = None
        self._send_sock: socket.socket | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> PdLivePlayer:
        """Start Pd and wait until the patch and the synth are loaded.

        Raises
        ------
        PdError
            The synth does not load, Pd exits, or Pd does not answer within ``startup_timeout``.
        """
        if self.process is not None:
            return self
        try:
            self._work = make_workdir("rlimpro-pd-live-")
            synth_path = link_synth(self._work, self.patch.parent)
            self._send_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._send_sock.bind(("127.0.0.1", 0))  # no wildcard binding, not even for sending
            attempts = 1 if self.requested_port else PORT_ATTEMPTS
            for attempt in range(attempts):
                port = self.requested_port or free_udp_port()
                said = self._launch(synth_path, port)
                if said is None:
                    break
                if attempt == attempts - 1:
                    raise PdError(
                        f"Pd could not listen on UDP port {port} (choose another port); Pd said:\n  | {said}"
                    )
            return self
        except BaseException:
            self.stop()
            raise

    def _launch(self, synth_path: str, port: int) -> str | None:
        """Start Pd listening on ``port``: None when ready, Pd's complaint if the port was taken."""
        assert self._work is not None
        fields = {
            "SYNTH_PATH": synth_path,
            "SYNTH": self.object,
            "PORT": port,
            "SAMPLE_RATE": self.sample_rate,
            "MAX_RECORD_SECONDS": f"{self.max_record_seconds:g}",
        }
        patch = self._work / "live.pd"
        patch.write_text(fill_template("live-player.pd", fields))
        flags = ["-noprefs", "-nogui", "-stderr", *AUDIO_FLAGS[self.audio], "-r", str(self.sample_rate)]
        flags += [*self.extra_flags, "-send", "pd dsp 1", patch.name]
        self.process = PdProcess(flags, pd=self.pd, cwd=self._work, what=f"playing synth '{self.spec.name}' live")
        self.port = port
        deadline = time.monotonic() + self.startup_timeout
        ready = False
        while time.monotonic() < deadline:
            # Pd prints its load errors before the patch's loadbang prints the ready line
            ready = ready or any(ln.startswith(READY_LINE) for ln in list(self.process.lines))
            self._check_fatal()
            taken = [ln for ln in list(self.process.lines) if "Address already in use" in ln]
            if taken:
                self.process.stop()
                self.process = None
                return taken[0]
            if ready:
                self._check_audio()
                return None
            time.sleep(0.01)
        self._fail(f"Pd hung: it did not report ready within {self.startup_timeout:g} s and was killed")
        return None  # pragma: no cover - _fail raises

    def _check_audio(self) -> None:
        """With a real audio API, make sure Pd opened its output: a silent live synth is no use."""
        if self.audio == "none":
            return
        assert self.process is not None
        time.sleep(AUDIO_SETTLE)  # DSP (and the audio device) start right after the patch loaded
        bad = [ln for ln in list(self.process.lines) if AUDIO_ERRORS.search(ln)]
        if bad:
            hint = {
                "jack": "start a JACK server first (e.g. `jackd -d alsa`, or `jackd -d dummy` without a sound card)",
                "alsa": "check the sound card (`aplay -l`) or choose the device with extra_flags -audiooutdev N",
            }.get(self.audio, "choose a working audio API (audio='jack' or 'alsa') or device")
            said = "\n".join(f"  | {ln}" for ln in bad[:4])
            self.process.stop()
            raise PdError(f"Pd could not open its audio output (audio={self.audio!r}): {hint}. Pd said:\n{said}")

    def stop(self) -> None:
        """Stop Pd (and its process group), close the sockets, remove the generated patch. Idempotent."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self._send_sock is not None:
            self._send_sock.close()
        self._send_sock = None
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    def __enter__(self) -> PdLivePlayer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ state
    @property
    def alive(self) -> bool:
        """True while Pd runs."""
        return self.process is not None and self.process.alive

    @property
    def pid(self) -> int | None:
        """Pd's process id (also its process group id)."""
        return self.process.pid if self.process is not None else None

    def _fail(self, what: str) -> None:
        proc = self.process
        tail = proc.tail() if proc is not None else "  (Pd was not started)"
        if proc is not None and not proc.alive:
            what = f"{what}: Pd {proc.describe_exit()}"
        if proc is not None:
            proc.stop()
        raise PdError(f"{what} (synth '{self.spec.name}', {self.patch}); last Pd output:\n{tail}")

    def _check_fatal(self) -> None:
        proc = self.process
        if proc is None:
            raise PdError("the Pd live player is not running (stopped, or never started): use it as a context manager or call start()")
        lines = list(proc.lines)
        for i, line in enumerate(lines):
            if any(p.search(line) for p in FATAL_PATTERNS):
                proc.stop()
                raise PdError(f"Pd could not load synth '{self.spec.name}' ({self.patch}): {explain_fatal(lines, i)}")
        if not proc.alive:
            self._fail("Pd stopped")

    def check(self) -> None:
        """Raise :class:`PdError` (with Pd's last stderr lines) if Pd has died."""
        proc = self.process
        if proc is None:
            raise PdError("the Pd live player is not running (stopped, or never started): use it as a context manager or call start()")
        if not proc.alive:
            self._fail("Pd stopped")

    # ------------------------------------------------------------ OSC
    def _send(self, address: str, args: Sequence[float | str]) -> None:
        self.check()
        assert self._send_sock is not None and self.port is not None
        self._send_sock.sendto(_osc_message(address, args), ("127.0.0.1", self.port))

    def _receive(self, *, timeout: float) -> tuple[str, list] | None:
        """Pd's next reply line on stderr as ``(prefix, values)``, or None after ``timeout`` s."""
        import queue

        assert self.process is not None
        try:
            line = self.process.queue.get(timeout=max(timeout, 1e-3))
        except queue.Empty:
            return None
        if line is None:
            return None
        for prefix in REPLY_LINES.values():
            if line.startswith(prefix):
                try:
                    return prefix, [float(v) for v in line[len(prefix) :].split()]
                except ValueError:
                    return None
        return None

    def _drain(self) -> None:
        """Forget the replies waiting (Pd acknowledges every message: keep memory bounded)."""
        import queue

        if self.process is None:
            return
        try:
            while True:
                self.process.queue.get_nowait()
        except queue.Empty:
            pass

    def send_gain(self, gain: float, *, ramp_ms: float) -> None:
        """Ramp the output gain to ``gain`` (in [0, 1]) over ``ramp_ms`` milliseconds (``/rlimpro/gain f f``):
        the player's silence stage (:mod:`rlimpro.synths.silence`)."""
        self._send("/rlimpro/gain", [float(np.clip(gain, 0.0, 1.0)), float(max(ramp_ms, 0.0))])

    def send(self, params: Sequence[float] | np.ndarray, *, wait: float | None = None) -> None:
        """Send new synth parameters (``/rlimpro/params f...``).

        Parameters
        ----------
        params : sequence of float, shape (N,)
            In [0, 1]; clipped.
        wait : float, optional
            Seconds to wait for Pd's ``/rlimpro/ack`` carrying these values (default: do not wait).

        Raises
        ------
        ParameterError
            Wrong count or not finite.
        PdError
            Pd has died (its last stderr lines are in the message), or did not acknowledge in time.
        """
        p = np.asarray(params, dtype=np.float64).reshape(-1)
        if p.size != self.n_params:
            raise ParameterError(f"synth '{self.spec.name}' takes {self.n_params} parameters, got {p.size}")
        if not np.isfinite(p).all():
            raise ParameterError(f"synth '{self.spec.name}': parameters must be finite, got {p.tolist()}")
        values = np.clip(p, 0.0, 1.0).astype(np.float32)  # OSC floats are 32-bit
        self._drain()
        self._send("/rlimpro/params", [float(v) for v in values])
        if wait is None:
            return
        deadline = time.monotonic() + wait
        while True:  # earlier acks may still be queued: wait for the one carrying these values
            got = self.wait_reply("/rlimpro/ack", timeout=max(deadline - time.monotonic(), 0.0))
            if len(got) == len(values) and np.allclose(got, values, rtol=ACK_TOLERANCE, atol=1e-6):
                return

    def wait_reply(self, address: str, *, timeout: float = 2.0) -> list:
        """Wait for Pd's next reply ``address`` (``/rlimpro/ack``, ``/rlimpro/recorded``); its values.

        Raises
        ------
        PdError
            No such reply within ``timeout`` s, or Pd died.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            msg = self._receive(timeout=min(0.1, deadline - time.monotonic()))
            if msg is not None and msg[0] == REPLY_LINES[address]:
                return msg[1]
        self.check()
        raise PdError(f"Pd sent no {address} within {timeout:.1f} s (synth '{self.spec.name}')")

    def record(self, path: str | os.PathLike, *, seconds: float, timeout: float | None = None) -> Path:
        """Record Pd's synth outlet for ``seconds`` and copy the wav file to ``path``.

        Pd writes ``record.wav`` in the player's private work folder (the only file it can write);
        the copy to ``path`` is atomic.

        Returns
        -------
        Path
            The written file (float32 wav at :attr:`sample_rate`).

        Raises
        ------
        ParameterError
            ``seconds`` outside (0, ``max_record_seconds``].
        PdError
            Pd did not confirm the recording in time, or died.
        """
        if not (0 < seconds <= self.max_record_seconds):
            raise ParameterError(f"seconds {seconds}: must be in (0, {self.max_record_seconds:g}] "
                                 "(max_record_seconds, fixed when Pd starts)")
        assert self._work is not None
        made = self._work / "record.wav"
        made.unlink(missing_ok=True)
        self._drain()
        self._send("/rlimpro/record", [float(seconds)])
        self.wait_reply("/rlimpro/recorded", timeout=timeout or seconds + 5.0)
        from rlimpro.tables import atomic_write

        path = Path(path).resolve()
        atomic_write(path, lambda tmp: shutil.copyfile(made, tmp))
        return path
