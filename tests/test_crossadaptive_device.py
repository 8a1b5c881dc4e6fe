"""Two musicians on two channels of one JACK client, the processed source on its output, in real time.

jackd runs with the dummy driver under a name of its own (found through ``JACK_DEFAULT_SERVER``);
two ``jack_metro`` clients play the source (a 300 Hz beep, 4 per second) and the target (a 2 kHz
beep, 2 per second) into the live process's two input ports, and ``jack_rec`` records its output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from .crossadaptive_support import trained_run
from .jack_support import dummy_jack, require_jack


@pytest.mark.slow
def test_two_device_channels_in_processed_audio_out_on_jack(tmp_path_factory, tmp_path):
    require_jack()
    ws, run = trained_run(tmp_path_factory)
    log = tmp_path / "duo.csv"
    with dummy_jack(tmp_path, prefix="rlimpro-xa", args=("-C", "2", "-P", "2")) as jack:
        jack.metro("source", bpm=240, freq=300, amp=0.5)
        jack.metro("target", bpm=120, freq=2000, amp=0.3)
        task = ["live", "--task", "cross-adaptive", "--model", "latest", "--duration", "6", "--log", str(log)]
        live = jack.rlimpro(ws, *task, "--input", "device", "--channels", "1,2")
        ins = jack.wait_for_ports(lambda p: p.startswith("PortAudio") and ":in_" in p, count=2, timeout=120)
        assert len(ins) == 2, "the live process never opened its two JACK input ports"
        ports = jack.ports()
        jack.connect(next(p for p in ports if p.startswith("source:")), ins[0])
        jack.connect(next(p for p in ports if p.startswith("target:")), ins[1])
        out = next(p for p in sorted(jack.ports()) if p.startswith("PortAudio") and ":out_" in p)
        rec = tmp_path / "processed.wav"
        jack.record(rec, out, seconds=2)
        stdout, stderr = live.communicate(timeout=120)
        assert live.returncode == 0, stderr

    meta = json.loads(log.with_suffix(".json").read_text())
    assert meta["rows"] == int(np.ceil(6 * 22050 / 256)) and meta["stopped_by"] == "duration"
    assert meta["input"]["kind"] == "device" and meta["input"]["channels"] == [1, 2]
    assert meta["input"]["device_rate"] == 48000  # JACK's rate; both channels resampled to 22.05 kHz together
    assert meta["latency"]["n"] == meta["rows"] and meta["latency"]["median_ms"] > 0
    # each stream came from its own channel: the source's beeps are low, the target's high (centroid), and
    # each is loud at its own times only
    import pandas as pd

    frames = pd.read_csv(log)
    src_on = frames["source:loudness-dBFS"] > -30
    tgt_on = frames["target:loudness-dBFS"] > -30
    assert src_on.sum() > 20 and tgt_on.sum() > 10
    assert frames.loc[src_on & ~tgt_on, "source:centroid"].median() < 800
    assert frames.loc[tgt_on & ~src_on, "target:centroid"].median() > 1500
    # the processed source reached JACK: what jack_rec got has the level the log says was played
    audio, sr = sf.read(rec)
    assert sr == 48000 and audio.shape[0] >= 48000
    played_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
    # mean power of the frames after start-up
    logged = 10 ** (frames["processed:loudness-dBFS"].to_numpy()[50:] / 10)
    assert abs(played_db - 10 * np.log10(logged.mean())) < 6
    assert "wrote" not in stdout and "session log" in stdout
