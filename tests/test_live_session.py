"""``rlimpro live`` end to end on a real trained run: rehearsal, scoring, real-time pace, Ctrl-C, bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors import DESCRIPTORS

from .live_support import HELD_OUT, trained_run

pytestmark = pytest.mark.slow  # the first test trains the run (about 20-40 s)

PARAMS = ["param-0", "param-1", "param-2"]
TARGET = [f"target:{d}" for d in DESCRIPTORS]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


def live(ws: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", *args])


def test_rehearsal_writes_the_input_length_and_a_log_that_scores_like_evaluate(run, tmp_path):
    ws, run_dir = run
    out, log = tmp_path / "out.wav", tmp_path / "take.csv"
    res = live(ws, "--model", "latest", "--input", f"corpora/demo/audio/{HELD_OUT}.wav",
               "--output", str(out), "--fast", "--mix", "--log", str(log))
    assert res.exit_code == 0, res.output
    assert "decision latency per hop: median" in res.output

    # audio of the input's length: the synth, and the musician on channel 2
    audio, sr = sf.read(out)
    source, sr_in = sf.read(ws / "corpora" / "demo" / "audio" / f"{HELD_OUT}.wav")
    assert sr == sr_in == 44100
    assert audio.shape == (source.shape[0], 2)
    np.testing.assert_allclose(audio[:, 1], source, atol=1e-6, rtol=0)
    assert np.sqrt(np.mean(audio[:, 0] ** 2)) > 0.05  # the synth plays throughout
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    # one row per analysis frame: the musician's descriptors are the corpus table's
    table = pd.read_csv(log)
    corpus = pd.read_csv(ws / "corpora" / "demo" / "features" / f"{HELD_OUT}.csv")
    assert len(table) == len(corpus)
    np.testing.assert_allclose(table["time"], corpus["time"], atol=1e-9)
    np.testing.assert_array_equal(table["active"], corpus["active"])
    np.testing.assert_allclose(table[TARGET].to_numpy(), corpus[list(DESCRIPTORS)].to_numpy(), rtol=1e-5, atol=1e-4)
    assert ((table[PARAMS] >= 0) & (table[PARAMS] <= 1)).all().all()

    # live follows exactly the trajectory evaluation computed with SB3's predict
    traj = pd.read_csv(run_dir / "trajectories" / f"{HELD_OUT}.csv")
    played = table[table["active"] == 1]
    np.testing.assert_allclose(played[PARAMS].to_numpy(), traj[PARAMS].to_numpy(), atol=1e-9, rtol=0)

    # the sidecar
    meta = json.loads(log.with_suffix(".json").read_text())
    assert meta["run"] == str(run_dir) and meta["synth"] == "fm" and meta["algorithm"] == "PPO"
    assert meta["analysis"]["hop"] == 512 and meta["input"]["kind"] == "file"
    assert meta["latency"]["n"] == int(corpus["active"].sum()) and meta["latency"]["p99_ms"] > 0
    assert meta["stopped_by"] == "end of input"

    # scored by rlimpro evaluate --log: within 5 % of rlimpro evaluate on that file
    scored = CliRunner().invoke(app, ["--root", str(ws), "evaluate", "latest", "--synth", "fm", "--log", str(log)])
    assert scored.exit_code == 0, scored.output
    live_rmse = float(re.search(r"distance agent ([0-9.]+)", scored.output).group(1))
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    ref = evaluation["files"][HELD_OUT]["rmse"]["agent"]
    assert abs(live_rmse - ref) <= 0.05 * ref, (live_rmse, ref)


@pytest.mark.parametrize("silence", ["fade", "gate", "hold"])
def test_the_synth_rests_when_the_musician_rests(run, tmp_path, silence):
    """With the default ``fade`` the output is below -60 dBFS from 150 ms after the musician goes silent until
    they play again (``gate`` sooner); ``hold`` drones on (rlimpro 0.1)."""
    import shutil

    import yaml

    ws, run_dir = run
    copy = ws / "other-runs" / f"{run_dir.name}-{silence}"  # not under synths/fm/models: 'latest' stays the run
    shutil.copytree(run_dir, copy, dirs_exist_ok=True)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    cfg["silence"] = silence
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    sr, hop = 44100, 512
    t = np.arange(int(0.6 * sr)) / sr
    note = 0.3 * np.sin(2 * np.pi * 330 * t)
    musician = np.concatenate([note, np.zeros(int(0.8 * sr)), note])
    sf.write(tmp_path / "rests.wav", musician, sr)
    out = tmp_path / "out.wav"
    res = live(ws, "--model", str(copy), "--input", str(tmp_path / "rests.wav"), "--output", str(out), "--fast",
               "--log", str(tmp_path / "rests.csv"))
    assert res.exit_code == 0, res.output
    audio, _ = sf.read(out)
    active = pd.read_csv(tmp_path / "rests.csv")["active"].to_numpy()
    first_rest = int(np.argmax(active == 0))
    back = first_rest + int(np.argmax(active[first_rest:] == 1))
    after = int(np.ceil(0.150 * sr / hop))
    rest = audio[(first_rest + after) * hop : back * hop]
    loudest = 20 * np.log10(max(np.sqrt(np.max(np.convolve(rest**2, np.ones(1024) / 1024, "valid"))), 1e-6))
    if silence == "hold":
        assert loudest > -20.0
    else:
        assert loudest < -60.0
        assert np.sqrt(np.mean(audio[(back + 2) * hop : (back + 20) * hop] ** 2)) > 0.1  # back with the next note
    assert json.loads((tmp_path / "rests.json").read_text())["silence"] == silence


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_real_time_pace_with_duration(run, tmp_path):
    ws, _ = run
    out, log = tmp_path / "rt.wav", tmp_path / "rt.csv"
    res = live(ws, "--input", str(ws / "corpora" / "demo" / "audio" / "08-wind-pentatonic.wav"),
               "--output", str(out), "--log", str(log), "--duration", "0.5")
    assert res.exit_code == 0, res.output
    meta = json.loads(log.with_suffix(".json").read_text())
    hops = int(np.ceil(0.5 * 44100 / 512))
    assert meta["rows"] == hops and meta["stopped_by"] == "duration"
    assert meta["input"]["fast"] is False
    assert sf.info(out).frames == hops * 512


def test_default_log_goes_to_the_run(run):
    ws, run_dir = run
    res = live(ws, "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", "take.flac", "--fast",
               "--duration", "0.2")
    assert res.exit_code == 0, res.output
    logs = sorted((run_dir / "sessions").glob("*.csv"))
    assert logs and logs[-1].with_suffix(".json").is_file()
    assert (ws / "take.flac").is_file()  # relative outputs resolve against the workspace


def test_ctrl_c_stops_cleanly(run, tmp_path):
    ws, _ = run
    out, log = tmp_path / "cc.wav", tmp_path / "cc.csv"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm",
         "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", str(out), "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job ignores SIGINT
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "press Ctrl-C" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        assert "press Ctrl-C" in line, proc.stderr.read()
        time.sleep(1.0)  # about 86 hops at real-time pace
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped (Ctrl-C); everything is saved" in stdout
    meta = json.loads(log.with_suffix(".json").read_text())
    assert meta["stopped_by"] == "interrupted" and 0 < meta["rows"] < 646
    assert len(pd.read_csv(log)) == meta["rows"]
    assert sf.info(out).frames == meta["rows"] * 512  # the audio file is complete too
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sigterm_stops_cleanly_too(run, tmp_path):
    ws, _ = run
    log = tmp_path / "term.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm",
         "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", str(tmp_path / "t.wav"), "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "press Ctrl-C" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
        time.sleep(0.5)
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert json.loads(log.with_suffix(".json").read_text())["stopped_by"] == "interrupted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fast"], "--fast plays a file"),
        (["--input", "corpora/demo/audio/07-pluck-minor.wav", "--mix", "--fast", "--output", "osc://127.0.0.1:9"],
         "--mix adds the musician"),
        (["--input", "corpora/demo/audio/07-pluck-minor.wav", "--output", "take.mp3"], "expected a sound file"),
        (["--input", "corpora/demo/audio/nope.wav", "--fast", "--output", "x.wav"], "nope.wav: no such audio file"),
        (["--model", "20990101-000000-PPX"], "no run '20990101-000000-PPX'"),
        (["--input", "osc:99999"], "outside 0..65535"),
        (["--input", "corpora/demo/audio/07-pluck-minor.wav", "--fast", "--output", "x.wav", "--log", "x.txt"],
         "name ending in .csv"),
        (["--input", "corpora/demo/audio/07-pluck-minor.wav", "--fast", "--output", "x.wav", "--duration", "0"],
         "--duration"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_written(run, tmp_path, args, message):
    ws, run_dir = run
    before = set(_files(ws))
    res = live(ws, *args)
    assert res.exit_code != 0
    assert message in res.output, res.output
    assert "Traceback" not in res.output
    assert set(_files(ws)) == before


def _files(ws: Path) -> list[Path]:
    return [p for p in ws.rglob("*") if p.is_file() and "sessions" not in p.parts]


def test_run_of_another_synth_is_refused(run):
    ws, run_dir = run
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "sine", "--model", str(run_dir), "--fast",
                                   "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", "x.wav"])
    assert res.exit_code == 1
    assert "trained on synth 'fm', not 'sine'" in res.output


def test_no_audio_device_is_a_clear_error(run, tmp_path):
    ws, _ = run
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"rlimpro-none-{os.getpid()}", "JACK_NO_START_SERVER": "1"}
    probe = subprocess.run([sys.executable, "-c", "import sounddevice as sd; print(len(sd.query_devices()))"],
                           capture_output=True, text=True, env=env)
    if probe.returncode == 0 and probe.stdout.strip() != "0":
        pytest.skip("this machine has an audio device, so 'no default device' cannot be provoked")
    proc = subprocess.run(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--log", str(tmp_path / "n.csv")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert "no default audio input device" in proc.stderr, proc.stderr
    assert not (tmp_path / "n.csv").exists()


def test_osc_and_pd_outputs(run, tmp_path):
    """Rehearsal to OSC (params + features per hop) and to a real Pd playing the synth's synth.pd."""
    import socket

    from pythonosc.osc_message import OscMessage

    from .pd_support import require_pd

    require_pd()
    ws, _ = run
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    port = sock.getsockname()[1]
    log = tmp_path / "out.csv"
    res = live(ws, "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--duration", "1.0", "--log", str(log),
               "--output", f"osc://127.0.0.1:{port}", "--features", "--output", "pd:none")
    assert res.exit_code == 0, res.output
    meta = json.loads(log.with_suffix(".json").read_text())
    sock.settimeout(0.5)
    got = []
    try:
        while True:
            got.append(OscMessage(sock.recvfrom(4096)[0]))
    except TimeoutError:
        pass
    sock.close()
    rows = meta["rows"]
    assert [m.address for m in got].count("/rlimpro/params") == rows
    assert [m.address for m in got].count("/rlimpro/features") == rows
    table = pd.read_csv(log)
    params = [m.params for m in got if m.address == "/rlimpro/params"]
    np.testing.assert_allclose(params, table[PARAMS].to_numpy(), atol=1e-6)
    pd_out = next(o for o in meta["outputs"] if o["kind"] == "pd")
    assert pd_out["sent"] >= 1 and pd_out["last_params_acknowledged"] is True
    assert not Path(f"/proc/{pd_out['pid']}").exists()  # Pd was stopped with the session


def test_run_with_other_analysis_settings_is_refused(run, tmp_path):
    import shutil

    ws, run_dir = run
    other = ws / "synths" / "fm" / "models" / "19990101-000000-PPO"
    shutil.copytree(run_dir, other)
    try:
        info = json.loads((other / "run.json").read_text())
        info["analysis"]["n_mels"] = 64  # made by an analyzer with another mel filterbank
        (other / "run.json").write_text(json.dumps(info))
        res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", "--model", str(other), "--fast",
                                       "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", "x.wav"])
        assert res.exit_code == 1
        assert "n_mels: 64 in run 19990101-000000-PPO vs 40 in this rlimpro's analyzer" in res.output
        assert not (ws / "x.wav").exists()
    finally:
        shutil.rmtree(other)
