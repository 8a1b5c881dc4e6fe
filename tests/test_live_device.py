"""Real time through a real audio server: JACK's dummy driver, the agent reading and writing via PortAudio.

jackd runs with a name of its own (so parallel tests and a user's JACK are untouched); the live process
finds it through ``JACK_DEFAULT_SERVER``. ``jack_metro`` plays the musician (a 440 Hz beep four times a
second) into the agent's input port, and ``jack_rec`` records the agent's output port.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from .jack_support import dummy_jack, require_jack
from .live_support import trained_run


@pytest.mark.slow
def test_live_runs_in_real_time_on_jack(tmp_path_factory, tmp_path):
    require_jack()
    ws, run_dir = trained_run(tmp_path_factory)
    with dummy_jack(tmp_path, prefix="rlimpro-test") as jack:
        jack.metro("musician", bpm=240, freq=440, amp=0.5)
        log = tmp_path / "jack.csv"
        live = jack.rlimpro(
            ws, "live", "--synth", "fm", "--model", "latest", "--duration", "8", "--log", str(log)
        )
        ports = jack.wait_for_ports(lambda p: p.startswith("PortAudio"), count=2, timeout=120)
        assert ports, "the live process never opened its JACK ports"
        ins = sorted(p for p in ports if ":in_" in p)
        outs = sorted(p for p in ports if ":out_" in p)
        musician = [p for p in jack.ports() if p.startswith("musician:")]
        jack.connect(musician[0], ins[0])
        rec = tmp_path / "agent.wav"
        jack.record(rec, outs[0], seconds=2)
        stdout, stderr = live.communicate(timeout=120)
        assert live.returncode == 0, stderr

    assert "audio device running at 48000 Hz" in stdout  # JACK's rate; input resampled to 44.1 kHz
    meta = json.loads(log.with_suffix(".json").read_text())
    hops = int(np.ceil(8 * 44100 / 512))
    assert meta["rows"] == hops and meta["stopped_by"] == "duration"
    assert meta["input"]["kind"] == "device" and meta["input"]["device_rate"] == 48000
    assert meta["decisions"] > 20, "the agent heard the musician and decided"
    assert meta["latency"]["n"] == meta["decisions"] and meta["latency"]["median_ms"] > 0
    device = next(o for o in meta["outputs"] if o["kind"] == "device")
    assert device["output_blocks"] > 8 * 48000 / 256 * 0.5  # JACK pulled the synth for the whole session
    # what JACK got from the agent's output port is the synth playing
    audio, sr = sf.read(rec)
    assert sr == 48000 and audio.shape[0] >= 48000
    assert np.sqrt(np.mean(audio**2)) > 0.05
