"""Live building blocks: hop assembly, file input, the session log, output parsing, the sound-file sink."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rlimpro.descriptors import DESCRIPTORS, AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.errors import AudioError, NotFoundError, ParameterError
from rlimpro.live.latency import LatencyRecorder, format_summary
from rlimpro.live.log import SessionLog, log_columns
from rlimpro.live.outputs import SoundFileSink, parse_output
from rlimpro.live.session import parse_input
from rlimpro.live.sources import FileSource, HopAssembler
from rlimpro.synths import load_spec
from rlimpro.synths.native import make_engine


def test_hop_assembler_cuts_any_block_sizes(rng):
    signal = rng.standard_normal(10_000)
    asm = HopAssembler(hop=512)
    hops = []
    pos = 0
    for size in [0, 1, 100, 511, 2000, 7, 3000, 4381]:
        hops += asm.feed(signal[pos : pos + size])
        pos += size
    assert pos == signal.size
    assert len(hops) == signal.size // 512 and asm.pending == signal.size % 512
    np.testing.assert_array_equal(np.concatenate(hops), signal[: len(hops) * 512])


def test_file_source_reproduces_batch_analysis(tmp_path, rng):
    """Hops of a 48 kHz stereo file, streamed, give the frames of the batch analyzer at 44.1 kHz."""
    settings = AnalysisSettings()
    t = np.arange(int(0.7 * 48000)) / 48000
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.1 * rng.standard_normal(t.size)], axis=1)
    path = tmp_path / "in.wav"
    sf.write(path, stereo, 48000, subtype="FLOAT")
    src = FileSource(path, sample_rate=settings.sample_rate, hop=settings.hop, realtime=False)
    hops = list(src.hops())
    assert len(hops) == src.n_hops == settings.n_frames(src.n_samples)
    assert all(h.shape == (settings.hop,) for h in hops)
    streaming = StreamingAnalyzer(settings)
    frames = np.stack([streaming.push_hop(h) for h in hops])
    batch = Analyzer(settings).analyze(src.signal)
    np.testing.assert_allclose(frames, batch, rtol=1e-6, atol=1e-6)


def test_file_source_errors(tmp_path):
    with pytest.raises(NotFoundError, match="no such audio file"):
        FileSource(tmp_path / "nope.wav", sample_rate=44100, hop=512, realtime=False)
    bad = tmp_path / "bad.wav"
    bad.write_text("this is not audio")
    with pytest.raises(AudioError, match="bad.wav"):
        FileSource(bad, sample_rate=44100, hop=512, realtime=False)


def test_session_log_is_atomic_and_complete(tmp_path, rng):
    path = tmp_path / "logs" / "s.csv"
    log = SessionLog(path, n_params=3)
    rows = []
    for i in range(700):  # more than one flush
        row = (i * 0.01, rng.uniform(size=3), rng.normal(size=len(DESCRIPTORS)), rng.normal(size=len(DESCRIPTORS)))
        rows.append(row)
        log.add(time=row[0], active=i % 3 > 0, params=row[1], target=row[2], agent=row[3])
    assert not path.exists()  # nothing visible before close
    log.close({"synth": "fm"})
    table = pd.read_csv(path)
    assert list(table.columns) == log_columns(3)
    assert list(table.columns[:5]) == ["time", "active", "param-0", "param-1", "param-2"]
    assert table.columns[5] == f"target:{DESCRIPTORS[0]}" and table.columns[-1] == f"agent:{DESCRIPTORS[-1]}"
    assert len(table) == 700
    assert table["active"].dtype.kind == "i" and table["active"].tolist()[:4] == [0, 1, 1, 0]
    np.testing.assert_allclose(table.iloc[123, 2:5], rows[123][1], rtol=1e-8)
    np.testing.assert_allclose(table.iloc[699, 5 : 5 + len(DESCRIPTORS)], rows[699][2], rtol=1e-8)
    np.testing.assert_allclose(table.iloc[699, 5 + len(DESCRIPTORS) :], rows[699][3], rtol=1e-8)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["synth"] == "fm" and meta["rows"] == 700 and meta["active_rows"] == 466
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_session_log_discard_and_bad_names(tmp_path):
    log = SessionLog(tmp_path / "x.csv", n_params=2)
    log.discard()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ParameterError, match="name ending in .csv"):
        SessionLog(tmp_path / "x.txt", n_params=2)


def test_latency_summary():
    rec = LatencyRecorder(capacity=16)
    for v in np.arange(1, 1001) * 1e-6:  # grows past its capacity
        rec.add(v)
    s = rec.summary()
    assert s["n"] == 1000
    assert s["median_ms"] == pytest.approx(0.5005, abs=1e-4)
    assert s["p99_ms"] == pytest.approx(0.99001, abs=1e-4)
    assert "median 0.500 ms, p99 0.990 ms" in format_summary(s)
    assert format_summary(LatencyRecorder().summary()).endswith("no hops processed")


def test_parse_input_and_output():
    assert parse_input(None).kind == "device"
    assert parse_input("device:USB").target == "USB"
    assert parse_input("osc").port == 9000
    osc = parse_input("osc:9100")
    assert (osc.kind, osc.host, osc.port) == ("osc", "127.0.0.1", 9100)  # loopback unless a host is named
    assert parse_input("osc:127.0.0.1:0").host == "127.0.0.1"
    assert parse_input("corpora/demo/audio/a.wav").kind == "file"
    with pytest.raises(ParameterError, match="numeric port"):
        parse_input("osc:abc")
    assert parse_output("out.wav").kind == "file"
    assert parse_output("take.FLAC").kind == "file"
    o = parse_output("osc://10.0.0.5:9001")
    assert (o.kind, o.host, o.port) == ("osc", "10.0.0.5", 9001)
    assert parse_output("pd").kind == "pd" and parse_output("device").kind == "device"
    for bad, msg in [("out.mp3", "expected a sound file"), ("osc://host", "give the port"),
                     ("osc://h:0", "port 0"), ("speakers", "expected a sound file")]:
        with pytest.raises(ParameterError, match=msg):
            parse_output(bad)


def test_sound_file_sink_renders_ramped_hops(tmp_path):
    spec = load_spec("sine", workspace=tmp_path)
    engine = make_engine(spec)
    out = tmp_path / "o.wav"
    sink = SoundFileSink(out, voice=engine.voice(sample_rate=44100), sample_rate=44100, hop=512, mix=True,
                         n_samples=512 * 9 + 100)
    sink.start()
    musician = np.full(512, 0.25)
    for k in range(10):
        sink.on_decision(np.array([0.5, 0.2 + 0.05 * k]), np.zeros(len(DESCRIPTORS)), musician)
    assert not out.exists()
    sink.close(ok=True)
    data, sr = sf.read(out)
    assert sr == 44100 and data.shape == (512 * 9 + 100, 2)
    np.testing.assert_allclose(data[:, 1], 0.25, atol=1e-6)
    env = np.abs(data[:, 0])
    # amplitude ramps smoothly: no jump between consecutive samples larger than a sine step allows
    assert np.max(np.abs(np.diff(data[:, 0]))) < 0.1
    assert env[-600:].max() > env[:512].max()


def test_sound_file_sink_discards_on_failure(tmp_path):
    spec = load_spec("sine", workspace=tmp_path)
    sink = SoundFileSink(tmp_path / "o.wav", voice=make_engine(spec).voice(sample_rate=44100), sample_rate=44100,
                         hop=512, mix=False)
    sink.start()
    sink.on_decision(np.array([0.5, 0.5]), np.zeros(len(DESCRIPTORS)), None)
    sink.close(ok=False)
    assert list(Path(tmp_path).iterdir()) == []


def test_pd_sink_plays_a_pd_synth_and_leaves_no_process(tmp_path):
    from .pd_support import require_pd

    require_pd()
    import os
    import signal as _signal
    import time

    from rlimpro.errors import PdError
    from rlimpro.live.outputs import PdSink

    spec = load_spec("fm", workspace=tmp_path)
    sink = PdSink(spec=spec, sample_rate=44100, audio="none")
    sink.start()
    try:
        for k in range(20):
            sink.on_decision(np.array([0.3, 0.2, 0.05 * k]), np.zeros(len(DESCRIPTORS)), None)
        last = np.array([0.3, 0.2, 0.05 * 19])
        for _ in range(3):  # held parameters are not sent again
            sink.on_decision(last, np.zeros(len(DESCRIPTORS)), None)
    finally:
        sink.close(ok=True)
    stats = sink.stats()
    assert stats["sent"] == 20
    assert stats["last_params_acknowledged"] is True  # Pd answered /rlimpro/ack with the last values
    assert sink.pid is not None and not Path(f"/proc/{sink.pid}").exists()  # Pd stopped and reaped

    # Pd dying mid-session is an error naming Pd, not a hang
    sink = PdSink(spec=spec, sample_rate=44100, audio="none")
    sink.start()
    try:
        os.kill(sink.player.pid, _signal.SIGKILL)
        time.sleep(0.3)
        with pytest.raises(PdError, match="Pd"):
            for k in range(50):
                sink.on_decision(np.array([0.1, 0.1, k / 50]), np.zeros(len(DESCRIPTORS)), None)
                time.sleep(0.01)
    finally:
        sink.close(ok=False)
