"""Real time through a real audio server: JACK's dummy driver, the agent reading and writing via PortAudio.

jackd runs with a name of its own (so parallel tests and a user's JACK are untouched); the live process
finds it through ``JACK_DEFAULT_SERVER``. ``jack_metro`` plays the musician (a 440 Hz beep four times a
second) into the agent's input port, and ``jack_rec`` records the agent's output port.
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

from .live_support import trained_run

JACK_TOOLS = ("jackd", "jack_wait", "jack_lsp", "jack_connect", "jack_metro", "jack_rec")


def _require_jack() -> None:
    missing = [t for t in JACK_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: apt-get install jackd2 (make test installs it as root)")


def _wait_for_ports(env: dict, prefix: str, *, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout.split()
        mine = [p for p in ports if p.startswith(prefix)]
        if len(mine) >= 2:
            return mine
        time.sleep(0.2)
    return []


@pytest.mark.slow
def test_live_runs_in_real_time_on_jack(tmp_path_factory, tmp_path):
    _require_jack()
    ws, run_dir = trained_run(tmp_path_factory)
    name = f"rlimpro-test-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    jack_log = open(tmp_path / "jackd.log", "w")
    try:
        jackd = subprocess.Popen(
            ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=jack_log, stderr=subprocess.STDOUT, env=env,
        )
        procs.append(jackd)
        waited = subprocess.run(["jack_wait", "-w", "-t", "15"], capture_output=True, text=True, env=env)
        assert waited.returncode == 0, (tmp_path / "jackd.log").read_text()
        procs.append(subprocess.Popen(["jack_metro", "-n", "musician", "-b", "240", "-f", "440", "-A", "0.5", "-D", "150"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        log = tmp_path / "jack.csv"
        live = subprocess.Popen(
            [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--model", "latest",
             "--duration", "8", "--log", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        procs.append(live)
        ports = _wait_for_ports(env, "PortAudio", timeout=120)
        assert ports, "the live process never opened its JACK ports"
        ins = sorted(p for p in ports if ":in_" in p)
        outs = sorted(p for p in ports if ":out_" in p)
        musician = [p for p in subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout.split()
                    if p.startswith("musician:")]
        subprocess.run(["jack_connect", musician[0], ins[0]], check=True, env=env)
        rec = tmp_path / "agent.wav"
        subprocess.run(["jack_rec", "-f", str(rec), "-d", "2", outs[0]], check=True, env=env, timeout=60,
                       capture_output=True)
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
