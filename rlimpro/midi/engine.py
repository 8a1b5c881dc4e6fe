"""``lookup --engine midi --input device``: a hardware or DAW synth's table, recorded in real time.

For each row rlimpro sends every parameter as its control change (synth.yaml's ``midi:`` block: ``ccs``,
``channel``, ``port``), strikes ``note`` if one is given, waits ``settle`` seconds, records ``duration``
seconds from the audio input and releases the note. Rows therefore cost ``settle + duration`` seconds of
real time each (plus one audio block); the lookup prints that estimate before it starts, renders on one
worker, and saves every finished chunk of rows, so an interrupted recording resumes where it stopped.

Before the first row rlimpro waits up to :data:`INPUT_WAIT` seconds for sound on the input, so a cable or
connection that is missing stops the job with a message instead of recording a silent table.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rlimpro.errors import AudioError, ParameterError, SynthError
from rlimpro.midi.cc import CcEncoder, check_ccs
from rlimpro.synths.engine import Engine, check_params, n_samples
from rlimpro.synths.spec import SynthSpec

INPUT_WAIT = 10.0  # s for the first sound to arrive
SOUND_DB = -70.0  # dBFS RMS over 0.1 s that counts as sound arriving
READ_TIMEOUT = 2.0  # s without an input block while recording


def seconds_per_row(spec: SynthSpec, duration: float) -> float:
    """Real time one row costs: the settle time plus the recording."""
    settle = spec.midi.settle if spec.midi is not None else 0.0
    return settle + duration


class MidiEngine(Engine):
    """A MIDI synth recorded through an audio input, one row at a time, in real time.

    Parameters
    ----------
    spec : SynthSpec
        With a ``midi:`` block (``ccs`` one per parameter) and ``midi.input`` (the audio input device,
        set by ``lookup --input``).

    Raises
    ------
    ParameterError
        No CC numbers for the parameters.
    AudioError
        The MIDI port or the audio input cannot be opened.
    """

    name = "midi"
    source_key = "midi"
    has_voice = False  # live: --output midi (rlimpro.midi.sink)
    parallel = False  # one instrument: rows are recorded one after another
    install_hint = "pip install python-rtmidi sounddevice; apt-get install libportaudio2"

    def __init__(self, spec: SynthSpec):
        super().__init__(spec)
        midi = spec.midi
        if midi is None or not midi.ccs:
            raise ParameterError(f"synth '{spec.name}': --engine midi needs midi: {{ccs: [...]}} in its synth.yaml "
                                 "(one CC number per parameter)")
        check_ccs(list(midi.ccs)[: spec.n_params], n_params=spec.n_params, what=f"synth '{spec.name}' midi.ccs")
        self.midi = midi
        self.ccs = list(midi.ccs)[: spec.n_params]
        self._out: Any = None
        self._io: Any = None
        self._rate = 0
        self.port_name = ""

    def _open(self, sample_rate: int) -> None:
        from rlimpro.live.device import DeviceIO, resolve_device
        from rlimpro.midi.ports import open_output

        if self._io is not None and self._rate == sample_rate:
            return
        self.close()
        self._out, self.port_name, _ = open_output(self.midi.port or None)
        device = resolve_device(self.midi.input or None, kind="input")
        self._io = DeviceIO(input_device=device, analysis_rate=sample_rate)
        self._io.start()
        self._rate = sample_rate
        self._send_row(np.array([p.default for p in self.spec.params]))
        self._note(on=True)
        try:
            self._wait_for_sound()
        finally:
            self._note(on=False)

    def _send_row(self, p: np.ndarray) -> None:
        for m in CcEncoder(self.ccs, channel=self.midi.channel).changes(p):  # a fresh encoder: every CC, every row
            self._out.send_message(m)

    def _note(self, *, on: bool) -> None:
        if self.midi.note is None:
            return
        status = (0x90 if on else 0x80) | (self.midi.channel - 1)
        self._out.send_message([status, self.midi.note, self.midi.velocity if on else 0])

    def _drain(self) -> None:
        while self._io.read(timeout=0.0) is not None:
            pass

    def _record(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        got = 0
        while got < n:
            block = self._io.read(timeout=READ_TIMEOUT)
            if block is None:
                raise AudioError(f"no audio block from the input device for {READ_TIMEOUT:.0f} s while recording "
                                 f"synth '{self.spec.name}'")
            take = min(block.size, n - got)
            out[got : got + take] = block[:take]
            got += take
        return out

    def _wait_for_sound(self) -> None:
        deadline = time.monotonic() + INPUT_WAIT
        chunk = max(1, int(0.1 * self._rate))
        while time.monotonic() < deadline:
            x = self._record(chunk)
            if 20 * np.log10(max(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 1e-12)) > SOUND_DB:
                return
        self.close()
        raise SynthError(
            f"no sound from the audio input in {INPUT_WAIT:.0f} s after sending synth '{self.spec.name}' its CCs"
            f"{' and note ' + str(self.midi.note) if self.midi.note is not None else ''} on {self.port_name}: "
            "connect the synth's audio output to the input, and check its MIDI channel"
        )

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """Record each row in real time (CCs, note, ``settle``, ``duration`` of input, note off).

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32
        """
        p = check_params(params, self.n_params, self.spec.name)
        n = n_samples(duration, sample_rate)
        self._open(sample_rate)
        out = np.zeros((p.shape[0], n), dtype=np.float32)
        for b, row in enumerate(p):
            self._send_row(row)
            self._note(on=True)
            try:
                time.sleep(self.midi.settle)
                self._drain()
                out[b] = self._record(n)
            finally:  # Ctrl-C or an error mid-row: the synth is not left holding the note
                self._note(on=False)
        return out

    def close(self) -> None:
        if self._io is not None:
            self._io.close()
            self._io = None
        if self._out is not None:
            try:
                self._out.close_port()
            finally:
                self._out.delete()
                self._out = None
