"""Two musicians on two channels of one JACK client, the processed source on its output, in real time.

jackd runs with the dummy driver under a name of its own (found through ``JACK_DEFAULT_SERVER``);
two ``jack_metro`` clients play the source (a 300 Hz beep, 4 per second) and the target (a 2 kHz
beep, 2 per second) into the live process's two input ports, and ``jack_rec`` records its output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from .crossadaptive_support import trained_run

JACK_TOOLS = ("jackd", "jack_wait", "jack_lsp", "jack_connect", "jack_metro", "jack_rec")


def _ports(env: dict) -> list[str]:
    return subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout.split()


@pytest.mark.slow
def test_two_device_channels_in_processed_audio_out_on_jack(tmp_path_factory, tmp_path):
    missing = [t for t in JACK_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: apt-get install jackd2 (make test installs it as root)")
    ws, run = trained_run(tmp_path_factory)
    name = f"rlimpro-xa-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    jack_log = open(tmp_path / "jackd.log", "w")
    log = tmp_path / "duo.csv"
    try:
        procs.append(subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256",
                                       "-C", "2", "-P", "2"], stdout=jack_log, stderr=subprocess.STDOUT, env=env))
        waited = subprocess.run(["jack_wait", "-w", "-t", "15"], capture_output=True, text=True, env=env)
        assert waited.returncode == 0, (tmp_path / "jackd.log").read_text()
        for client, bpm, freq, amp in (("source", "240", "300", "0.5"), ("target", "120", "2000", "0.3")):
            procs.append(subprocess.Popen(["jack_metro", "-n", client, "-b", bpm, "-f", freq, "-A", amp, "-D", "150"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        live = subprocess.Popen(
            [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--task", "cross-adaptive", "--model", "latest",
             "--input", "device", "--channels", "1,2", "--duration", "6", "--log", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        procs.append(live)
        deadline = time.monotonic() + 120
        ins: list[str] = []
        while time.monotonic() < deadline and len(ins) < 2:
            ins = sorted(p for p in _ports(env) if p.startswith("PortAudio") and ":in_" in p)
            time.sleep(0.2)
        assert len(ins) == 2, "the live process never opened its two JACK input ports"
        ports = _ports(env)
        src = next(p for p in ports if p.startswith("source:"))
        tgt = next(p for p in ports if p.startswith("target:"))
        subprocess.run(["jack_connect", src, ins[0]], check=True, env=env)
        subprocess.run(["jack_connect", tgt, ins[1]], check=True, env=env)
        out = sorted(p for p in _ports(env) if p.startswith("PortAudio") and ":out_" in p)[0]
        rec = tmp_path / "processed.wav"
        subprocess.run(["jack_rec", "-f", str(rec), "-d", "2", out], check=True, env=env, timeout=60, capture_output=True)
        stdout, stderr = live.communicate(timeout=120)
        assert live.returncode == 0, stderr
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        jack_log.close()

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
    logged = 10 ** (frames["processed:loudness-dBFS"].to_numpy()[50:] / 10)  # mean power of the frames after start-up
    assert abs(played_db - 10 * np.log10(logged.mean())) < 6
    assert "wrote" not in stdout and "session log" in stdout
