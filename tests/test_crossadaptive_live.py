"""Live cross-adaptive sessions: rehearsal with two files, frames paired by time index, live == evaluation, bad input."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soundfile as sf
import yaml
from numpy.testing import assert_allclose

from rlimpro.crossadaptive.live import CrossAgent, load_cross_agent, run_cross_live
from rlimpro.crossadaptive.log import read_log
from rlimpro.crossadaptive.material import generate
from rlimpro.crossadaptive.paired import shared_analyzer
from rlimpro.descriptors.analyzer import AnalysisSettings
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import MismatchError, NotFoundError, ParameterError

from .crossadaptive_support import HELD_OUT, trained_run

SETTINGS = AnalysisSettings(sample_rate=22050, window=512, hop=256)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture
def files(tmp_path):
    """A source and a target with silent gaps at different places (so a shifted pairing would show)."""
    src = generate("pink", seed=11, duration=1.2, sample_rate=22050)
    src[5000:9000] = 0.0
    tgt = generate("beat", seed=12, duration=1.0, sample_rate=22050)
    tgt[12000:16000] = 0.0
    sf.write(tmp_path / "src.wav", src, 22050, subtype="FLOAT")
    sf.write(tmp_path / "tgt.wav", tgt, 22050, subtype="FLOAT")
    src_read, _ = sf.read(tmp_path / "src.wav")  # float32 samples, as live reads them
    tgt_read, _ = sf.read(tmp_path / "tgt.wav")
    return tmp_path / "src.wav", tmp_path / "tgt.wav", src_read[: tgt.size], tgt_read


def test_rehearsal_with_two_files_writes_the_processed_audio_and_pairs_frames_by_time(trained, files, tmp_path):
    ws, run = trained
    src_path, tgt_path, src, tgt = files
    out = tmp_path / "processed.wav"
    res = run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tgt_path), outputs=[str(out)],
                         fast=True, log=tmp_path / "session.csv")
    n_frames = -(-tgt.size // 256)
    assert res.stopped_by == "end of input" and res.rows == n_frames and res.latency["n"] == n_frames
    audio, sr = sf.read(out)
    assert sr == 22050 and audio.size == tgt.size and np.abs(audio).max() > 0
    log, meta = read_log(tmp_path / "session.csv")
    assert meta["task"] == "cross-adaptive" and meta["input"]["kind"] == "files" and meta["rows"] == n_frames
    # one clock: row i holds frame i of the source and frame i of the target, nothing else
    assert_allclose(log["frame"], np.arange(n_frames))
    assert_allclose(log["time"], np.arange(n_frames) * 256 / 22050, atol=1e-9, rtol=0)
    an = shared_analyzer(SETTINGS)
    batch_src, batch_tgt = an.analyze(src), an.analyze(tgt)
    assert_allclose(log[[f"source:{d}" for d in DESCRIPTORS]].to_numpy(), batch_src, atol=1e-5, rtol=1e-7)
    assert_allclose(log[[f"target:{d}" for d in DESCRIPTORS]].to_numpy(), batch_tgt, atol=1e-5, rtol=1e-7)
    # ... and a pairing off by one frame would not match (the gaps sit at different times in the two streams)
    shifted = log[[f"target:{d}" for d in DESCRIPTORS]].to_numpy()[1:]
    assert not np.allclose(shifted, batch_tgt[:-1], atol=1e-3)
    # the processed frames are those of the written audio (24-bit file: loudness to a few hundredths of a dB)
    proc = an.analyze(audio)
    loud = log["processed:loudness-dBFS"].to_numpy()
    audible = proc[: n_frames - 1, 0] > -90
    assert_allclose(loud[: n_frames - 1][audible], proc[: n_frames - 1, 0][audible], atol=0.05, rtol=0)


def test_live_decides_exactly_as_the_evaluation_does(trained, tmp_path):
    """The held-out pair's files through live give the evaluation's parameters, frame by frame."""
    ws, run = trained
    folder = run / "evaluation" / HELD_OUT
    run_cross_live(model=str(run), workspace=ws, input=str(folder / "source.wav"), target=str(folder / "target.wav"),
                   outputs=[str(tmp_path / "o.wav")], fast=True, log=tmp_path / "s.csv")
    live, _ = read_log(tmp_path / "s.csv")
    ev, _ = read_log(folder / "trajectory.csv")
    params = [c for c in live.columns if c.startswith("param-")]
    assert len(params) == 3
    assert_allclose(live[params].to_numpy(), ev[params].to_numpy(), atol=1e-5, rtol=0)
    assert_allclose(live["processed:centroid"], ev["processed:centroid"], rtol=1e-4, atol=1e-3)


def test_mix_writes_processed_source_and_target(trained, files, tmp_path):
    ws, run = trained
    src_path, tgt_path, src, tgt = files
    run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tgt_path),
                   outputs=[str(tmp_path / "mix.flac")], fast=True, mix=True, log=tmp_path / "s.csv")
    audio, _ = sf.read(tmp_path / "mix.flac")
    assert audio.shape == (tgt.size, 3)
    assert_allclose(audio[:, 1], src, atol=1e-5) and assert_allclose(audio[:, 2], tgt, atol=1e-5)


def test_real_time_pace_and_stop(trained, files, tmp_path):
    ws, run = trained
    src_path, tgt_path, _, _ = files
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    res = run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tgt_path),
                         outputs=[str(tmp_path / "o.wav")], log=tmp_path / "s.csv", stop=stop, realtime=False)
    timer.cancel()
    assert res.stopped_by == "stop requested" and 0 < res.rows < 86
    assert sf.info(str(tmp_path / "o.wav")).frames == res.rows * 256
    res = run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tgt_path),
                         outputs=[str(tmp_path / "d.wav")], log=tmp_path / "d.csv", fast=True, duration=0.5)
    assert res.stopped_by == "duration" and res.rows == int(np.ceil(0.5 * 22050 / 256))


def test_target_at_another_sample_rate_is_resampled(trained, files, tmp_path):
    ws, run = trained
    src_path, _, _, tgt = files
    tgt48 = generate("beat", seed=12, duration=1.0, sample_rate=48000)
    sf.write(tmp_path / "tgt48.wav", tgt48, 48000, subtype="FLOAT")
    res = run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tmp_path / "tgt48.wav"),
                         outputs=[str(tmp_path / "o.wav")], fast=True, log=tmp_path / "s.csv")
    assert res.rows == -(-22050 // 256) and sf.info(str(tmp_path / "o.wav")).samplerate == 22050


def test_bad_input_is_refused_with_clear_errors(trained, files, tmp_path):
    ws, run = trained
    src_path, tgt_path, _, _ = files
    kw = dict(model="latest", workspace=ws, outputs=[str(tmp_path / "o.wav")], fast=True, log=tmp_path / "s.csv")
    with pytest.raises(MismatchError, match=r"source .*tgt.wav \(1.000 s\) is shorter than target .*src.wav \(1.200 s\)"):
        run_cross_live(input=str(tgt_path), target=str(src_path), **kw)
    with pytest.raises(ParameterError, match="give the musician to follow with --target"):
        run_cross_live(input=str(src_path), **kw)
    with pytest.raises(ParameterError, match="--target FILE goes with --input FILE"):
        run_cross_live(input="device", target=str(tgt_path), **kw)
    with pytest.raises(NotFoundError, match="--target .*nope.wav: no such audio file"):
        run_cross_live(input=str(src_path), target=str(tmp_path / "nope.wav"), **kw)
    with pytest.raises(ParameterError, match="--channels '1,1': give two different input channels"):
        run_cross_live(input="device", channels="1,1", **{**kw, "fast": False})
    with pytest.raises(ParameterError, match="--output pd plays a synth"):
        run_cross_live(input=str(src_path), target=str(tgt_path), **{**kw, "outputs": ["pd"]})
    with pytest.raises(NotFoundError, match="no cross-adaptive run 'nope'"):
        run_cross_live(input=str(src_path), target=str(tgt_path), **{**kw, "model": "nope"})
    assert not (tmp_path / "o.wav").exists() and not (tmp_path / "s.csv").exists()


def test_an_effect_chain_that_does_not_fit_the_model(trained, tmp_path):
    ws, run = trained
    agent = load_cross_agent(model=str(run), workspace=ws)
    with pytest.raises(MismatchError, match=r"the model sets 3 effect parameters, the effect chain has 4 \(lowpass.cutoff, "
                                            r"lowpass.resonance, distortion.drive, gain.level\)"):
        CrossAgent(policy=agent.policy, features=agent.features, actions=agent.actions,
                   chain_spec=["lowpass", "distortion", "gain"], settings=agent.settings, ramp=128)
    import shutil

    copy = ws / "copies" / tmp_path.name  # inside the workspace: runs outside it are refused
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    cfg["effects"] = ["bandpass"]
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    fs = json.loads((copy / "feature_space.json").read_text())
    fs["n_params"] = 2
    (copy / "feature_space.json").write_text(json.dumps(fs))
    with pytest.raises(MismatchError, match=r"model sets 3 effect parameters, the effect chain has 2 \(bandpass.cutoff, bandpass.resonance\)"):
        load_cross_agent(model=str(copy), workspace=ws)


def test_parameters_to_an_external_effect_over_osc(trained, files, tmp_path):
    """``--output osc://HOST:PORT``: one /rlimpro/params message of N floats per hop, the logged parameters."""
    import socket

    from pythonosc.osc_message import OscMessage

    ws, run = trained
    src_path, tgt_path, _, _ = files
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    port = sock.getsockname()[1]
    try:
        res = run_cross_live(model="latest", workspace=ws, input=str(src_path), target=str(tgt_path),
                             outputs=[f"osc://127.0.0.1:{port}"], fast=True, log=tmp_path / "s.csv")
        messages = []
        while len(messages) < res.rows:
            messages.append(OscMessage(sock.recvfrom(65536)[0]))
    finally:
        sock.close()
    log, meta = read_log(tmp_path / "s.csv")
    assert {m.address for m in messages} == {"/rlimpro/params"}
    sent = np.array([m.params for m in messages])
    assert sent.shape == (res.rows, 3)
    assert_allclose(sent, log[["param-0", "param-1", "param-2"]].to_numpy(), atol=1e-6, rtol=0)
    assert meta["outputs"][0]["kind"] == "osc" and meta["outputs"][0]["sent"] == res.rows
