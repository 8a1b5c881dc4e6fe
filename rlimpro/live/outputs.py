"""Where the agent's decisions go: the audio device, a sound file, OSC, Pure Data, SuperCollider or MIDI.

Every sink takes one decision at a time through :meth:`Sink.on_decision` (the new parameters, the
agent's descriptors and the musician's hop when there is one) and is closed in a ``finally`` block.
The output specification strings of ``rlimpro live --output`` are parsed by :func:`parse_output`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.audiofile import PendingSoundFile
from rlimpro.errors import AudioError, ParameterError

SOUNDFILE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
#: ``--output pd:<audio>``: Pd's audio (see :data:`rlimpro.pd.live.AUDIO_FLAGS`); ``none`` runs Pd
#: without a sound card (tests), ``default`` is Pd's default audio API.
PD_AUDIO = ("default", "jack", "alsa", "none")
ACK_TIMEOUT = 2.0  # s for Pd to acknowledge the last parameters when the session ends


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """A parsed ``--output`` value.

    ``kind`` is ``device`` (with an optional device name/index in ``target``), ``file`` (a path),
    ``osc`` (``host``/``port``), ``pd`` (Pd's audio API in ``target``), ``supercollider`` (a real-time
    scsynth on JACK) or ``midi`` (a MIDI destination's name fragment in ``target``, '' for a port of its own).
    """

    kind: str
    target: str = ""
    host: str = ""
    port: int = 0

    def describe(self) -> str:
        if self.kind == "osc":
            return f"osc://{self.host}:{self.port}"
        if self.kind == "device":
            return f"device:{self.target}" if self.target else "device"
        if self.kind == "pd":
            return "pd" if self.target in ("", "default") else f"pd:{self.target}"
        if self.kind in ("midi", "supercollider"):
            return f"{self.kind}:{self.target}" if self.target else self.kind
        return self.target


def parse_output(text: str) -> OutputSpec:
    """Parse ``device[:NAME]``, ``pd[:AUDIO]``, ``supercollider``, ``midi[:PORT]``, ``osc://HOST:PORT`` or a
    sound file path (.wav, .flac, .aiff).

    Raises
    ------
    ParameterError
        Anything else (names the value and the accepted forms).
    """
    from rlimpro.live.osc import parse_endpoint

    t = text.strip()
    if t in ("device", "default"):
        return OutputSpec("device")
    if t.startswith("device:"):
        return OutputSpec("device", target=t.split(":", 1)[1])
    if t == "pd" or t.startswith("pd:"):
        audio = t[3:] or "default"
        if audio not in PD_AUDIO:
            raise ParameterError(f"--output {text}: Pd audio must be one of {', '.join(PD_AUDIO)} (e.g. pd:jack)")
        return OutputSpec("pd", target=audio)
    if t == "midi" or t.startswith("midi:"):
        return OutputSpec("midi", target=t[5:])
    if t in ("supercollider", "sc"):
        return OutputSpec("supercollider")
    if t.startswith("osc://"):
        rest = t[len("osc://") :].rstrip("/")
        if ":" not in rest:
            raise ParameterError(f"--output {text}: give the port, e.g. osc://127.0.0.1:9001")
        host, port = parse_endpoint(rest, what="--output")
        if port == 0:
            raise ParameterError(f"--output {text}: port 0 is not a destination")
        return OutputSpec("osc", host=host, port=port)
    suffix = Path(t).suffix.lower()
    if suffix in SOUNDFILE_FORMATS:
        return OutputSpec("file", target=t)
    raise ParameterError(
        f"--output {text}: expected a sound file (.wav, .flac, .aiff), 'device', 'pd', 'supercollider', "
        "'midi[:PORT]' or osc://HOST:PORT"
    )


class Sink:
    """Base class of the decision sinks."""

    name = "sink"

    def start(self) -> None:
        """Open whatever needs opening (called once, before the first decision)."""

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        """One decision: ``params`` (N,) in [0, 1], ``descriptors`` (D,), the musician's ``hop`` or None."""

    def close(self, *, ok: bool) -> None:
        """Release resources; ``ok`` False after an error (files are then discarded)."""

    def stats(self) -> dict[str, Any]:
        return {}


class SoundFileSink(Sink):
    """The native synth rendered into a sound file at the analysis rate, one hop per decision.

    Each decision renders ``hop`` samples ramping from the previous parameters to the new ones (the
    voice's linear in-block ramp). With ``mix`` a second channel holds the musician's hop. Written to
    a hidden temporary file and renamed into place on close, so the file is complete or absent.

    Parameters
    ----------
    path : Path
    voice : Voice
        The native synth's block renderer at ``sample_rate``.
    sample_rate : int
        Hz (the analysis rate).
    hop : int
        Samples rendered per decision.
    mix : bool
        Add the musician as channel 2.
    n_samples : int, optional
        Trim the file to this many samples on close (the input's length; the last hop is padded).
    silence : str
        What the synth does while the musician rests (:mod:`rlimpro.synths.silence`).
    """

    name = "file"
    writes_file = True  #: published together with the session log (see SessionEnd)

    def __init__(self, path: Path, *, voice: Any, sample_rate: int, hop: int, mix: bool, n_samples: int | None = None,
                 silence: str = "hold"):
        from rlimpro.synths.silence import SilenceGain

        self.silence = SilenceGain(silence, hop=hop, sample_rate=sample_rate)
        self.path = Path(path)
        self.voice = voice
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.mix = mix
        self.n_samples = n_samples
        self.frames_written = 0
        self._file: PendingSoundFile | None = None

    def start(self) -> None:
        self._file = PendingSoundFile(self.path, sample_rate=self.sample_rate, channels=2 if self.mix else 1,
                                      fmt=SOUNDFILE_FORMATS[self.path.suffix.lower()])

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        n = self.hop
        if self.n_samples is not None:
            n = min(n, self.n_samples - self.frames_written)
            if n <= 0:
                return
        synth = self.silence.apply(self.voice.render_block(params, self.hop), active)[:n]
        if self.mix:
            musician = np.zeros(n) if hop is None else np.asarray(hop[:n], dtype=np.float64)
            block = np.stack([synth, musician], axis=1)
        else:
            block = synth
        self._file.write(block)
        self.frames_written += n

    @property
    def failed(self) -> bool:
        """A write failed (a full disk): the file will be discarded."""
        return self._file is not None and self._file.error is not None

    def keep_decisions(self, decisions: int) -> None:
        """Cut the file to the audio of the first ``decisions`` decisions (a session log cut short)."""
        frames = decisions * self.hop
        if self.n_samples is not None:
            frames = min(frames, self.n_samples)
        if self._file is not None and frames < self.frames_written:
            self._file.truncate(frames)
            self.frames_written = self._file.frames

    def close(self, *, ok: bool) -> None:
        try:
            if self._file is not None:
                self._file.close(ok=ok)
        finally:
            close_voice = getattr(self.voice, "close", None)  # a Csound instance, a compiled Faust program
            if close_voice is not None:
                close_voice()

    def stats(self) -> dict[str, Any]:
        error = self._file.error if self._file is not None else None
        return {"path": str(self.path), "frames": self.frames_written, "sample_rate": self.sample_rate,
                "channels": 2 if self.mix else 1, **({"error": str(error)} if error is not None else {})}


class TrajectoryFileSink(Sink):
    """A synth without an in-process voice (Pd, SuperCollider) rendered into a sound file when the session ends.

    The parameters of every decision are kept; on close the engine renders them as one trajectory
    (:func:`rlimpro.synths.render_trajectory`, one hop per decision, as its live player plays them) and
    the file is written atomically, trimmed to the input's length. With ``mix`` the musician is channel 2.

    Parameters
    ----------
    path : Path
    spec : SynthSpec
    sample_rate, hop : int
    mix : bool
    n_samples : int, optional
        The input's length in samples.
    silence : str
        What the synth does while the musician rests (:mod:`rlimpro.synths.silence`), applied to the render.
    """

    name = "file"

    def __init__(self, path: Path, *, spec: Any, sample_rate: int, hop: int, mix: bool, n_samples: int | None = None,
                 silence: str = "hold"):
        self.path = Path(path)
        self.spec = spec
        self.silence = silence
        self._active: list[bool] = []
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.mix = mix
        self.n_samples = n_samples
        self.frames_written = 0
        self._params: list[np.ndarray] = []
        self._hops: list[np.ndarray] = []

    def start(self) -> None:
        if self.spec.engine == "midi":
            raise ParameterError(f"--output {self.path}: synth '{self.spec.name}' is a MIDI synth, whose sound rlimpro "
                                 "does not render; record its audio output yourself")

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        self._params.append(np.array(params, dtype=np.float64))
        self._active.append(bool(active))
        if self.mix:
            self._hops.append(np.zeros(self.hop) if hop is None else np.asarray(hop, dtype=np.float64)[: self.hop])

    def close(self, *, ok: bool) -> None:
        if not ok or not self._params:
            return
        from rlimpro.synths import render_trajectory

        audio = render_trajectory(self.spec, np.stack(self._params), hop=self.hop, sample_rate=self.sample_rate,
                                  active=np.array(self._active), silence=self.silence)
        n = audio.shape[0] if self.n_samples is None else min(audio.shape[0], self.n_samples)
        audio = audio[:n].astype(np.float64)
        if self.mix:
            musician = np.zeros(n)
            m = np.concatenate(self._hops)[:n]
            musician[: m.size] = m
            audio = np.stack([audio, musician], axis=1)
        out = PendingSoundFile(self.path, sample_rate=self.sample_rate, channels=2 if self.mix else 1,
                               fmt=SOUNDFILE_FORMATS[self.path.suffix.lower()])
        try:
            out.write(audio)
        except BaseException:
            out.close(ok=False)
            raise
        out.close(ok=True)
        self.frames_written = n

    def stats(self) -> dict[str, Any]:
        return {"path": str(self.path), "frames": self.frames_written, "sample_rate": self.sample_rate,
                "channels": 2 if self.mix else 1, "rendered": "trajectory, when the session ended"}


class DeviceSink(Sink):
    """The native synth on an audio device: publishes parameters to a :class:`~rlimpro.live.device.DeviceIO`."""

    name = "device"

    def __init__(self, device_io: Any):
        self.io = device_io

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        self.io.set_params(params, active=active)

    def stats(self) -> dict[str, Any]:
        return {"sample_rate": self.io.sample_rate, "output_blocks": self.io.output_blocks,
                "xruns": self.io.status_flags}


class OscSink(Sink):
    """``/rlimpro/params`` (and optionally ``/rlimpro/features``) to HOST:PORT per decision."""

    name = "osc"

    def __init__(self, *, host: str, port: int, features: bool = False):
        from rlimpro.live.osc import OscSender

        self.sender = OscSender(host=host, port=port, features=features)

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        self.sender.send(params, descriptors)

    def close(self, *, ok: bool) -> None:
        self.sender.close()

    def stats(self) -> dict[str, Any]:
        host, port = self.sender.address
        return {"to": f"{host}:{port}", "sent": self.sender.sent, "failed": self.sender.failed}


class PdSink(Sink):
    """A Pure Data synth: rlimpro starts Pd with the generated live patch (:class:`rlimpro.pd.live.PdLivePlayer`)
    and sends ``/rlimpro/params`` to it per decision; Pd is stopped on close. If Pd dies, the next
    decision raises :class:`~rlimpro.errors.PdError` with Pd's last stderr lines.

    Parameters
    ----------
    spec : SynthSpec
        A synth with a ``synth.pd``.
    sample_rate : int
        Hz.
    audio : str
        Pd's audio API, one of :data:`PD_AUDIO`.
    hop : int
        Samples per decision (the silence ramps' time unit).
    silence : str
        What the synth does while the musician rests (:mod:`rlimpro.synths.silence`): the player
        patch's gain stage ramps as the file and device outputs do.
    """

    name = "pd"

    def __init__(self, *, spec: Any, sample_rate: int, audio: str = "default", hop: int = 512, silence: str = "hold"):
        from rlimpro.synths.silence import SilenceGain

        self.spec = spec
        self.sample_rate = int(sample_rate)
        self.audio = audio or "default"
        self.silence = SilenceGain(silence, hop=hop, sample_rate=sample_rate)
        self._hop_ms = 1000.0 * hop / sample_rate
        self.player = None
        self.sent = 0
        self.acknowledged = False
        self.pid: int | None = None
        self._last: np.ndarray | None = None

    def start(self) -> None:
        from rlimpro.pd.live import PdLivePlayer

        if not self.spec.pd:
            raise ParameterError(f"--output pd: synth '{self.spec.name}' has no synth.pd")
        self.player = PdLivePlayer(self.spec, audio=self.audio, sample_rate=self.sample_rate)
        self.player.start()

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        before = self.silence.gain
        self.silence.block(active)
        if self.silence.gain != before:  # the hop's ramp, played by the patch's line~
            self.player.send_gain(self.silence.gain, ramp_ms=self._hop_ms)
        if self._last is not None and np.array_equal(params, self._last):
            self.player.check()  # nothing new to send; still notice a dead Pd
            return
        self.player.send(params)
        self._last = np.array(params)
        self.sent += 1

    def close(self, *, ok: bool) -> None:
        if self.player is None:
            return
        try:
            if ok and self._last is not None and self.player.alive:
                # Pd acknowledges the parameters it passed to the synth: confirm the last ones arrived
                self.player.send(self._last, wait=ACK_TIMEOUT)
                self.acknowledged = True
        finally:
            self.pid = self.player.pid
            self.player.stop()
            self.player = None

    def stats(self) -> dict[str, Any]:
        return {"audio": self.audio, "sent": self.sent, "last_params_acknowledged": self.acknowledged,
                "pid": self.pid}


def check_native(spec: Any, what: str) -> None:
    """Refuse audio outputs for a synth whose engine has no in-process voice (Pd, SuperCollider, MIDI)."""
    from rlimpro.synths import engine_class

    if not engine_class(spec.engine).has_voice:
        raise AudioError(
            f"--output {what}: synth '{spec.name}' ({spec.engine} engine) has no voice that renders audio in "
            f"Python; use --output {spec.engine} or --output osc://HOST:PORT"
        )
