"""Train and play live with a Faust and a Csound synth: the agent's decisions rendered by the real engine.

Each engine gets a user synth (the built-in fm's source under its own name, ``engine: faust`` or
``engine: csound``), a lookup table rendered by that engine, a small real PPO run, then live rehearsals:
``--output FILE.wav`` (the engine's voice, one hop per decision) and ``--output device`` on a JACK dummy
server (the voice rendered in the PortAudio callback).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.synths import load_spec, render_trajectory
from rlimpro.workspace import BUILTIN_SYNTHS_DIR

from .engine_support import require_engine
from .jack_support import dummy_jack, require_jack
from .live_support import HELD_OUT

_CACHE: dict[str, object] = {}

CONFIG = """\
synth: {synth}
corpus: demo
features: [mfcc, specshape]
algorithm: PPO
action_type: discrete
timesteps: 1024
n_envs: 1
max_episode_steps: 128
eval_freq: 0
checkpoint_freq: 0
net_arch: [32, 32]
algorithm_kwargs: {{n_steps: 256, batch_size: 64}}
"""

SOURCES = {"faust": "synth.dsp", "csound": "synth.csd", "supercollider": "synth.scsyndef", "pd": "synth.pd"}


def engine_run(tmp_path_factory, engine: str):
    """``(workspace, synth name)`` with a trained run of fm written for ``engine`` (cached per session)."""
    if engine in _CACHE:
        return _CACHE[engine]
    from rlimpro.corpus import analyze_corpus
    from rlimpro.demo_corpus import make_demo_corpus
    from rlimpro.lookup import compute_lookup
    from rlimpro.train import train

    ws = _CACHE.get("ws")
    if ws is None:
        ws = _CACHE["ws"] = tmp_path_factory.mktemp("engine-live-ws")
        make_demo_corpus(workspace=ws)
        analyze_corpus(corpus="demo", workspace=ws, workers=1, show_progress=False)
    name = f"fm-{engine}"
    folder = ws / "synths" / name
    folder.mkdir(parents=True)
    shutil.copy(BUILTIN_SYNTHS_DIR / "fm" / SOURCES[engine], folder / SOURCES[engine])
    yaml = (BUILTIN_SYNTHS_DIR / "fm" / "synth.yaml").read_text()
    keep = [ln for ln in yaml.splitlines() if not ln.startswith(("engine:", "native:", "pd:", "faust:", "csound:", "supercollider:"))]
    (folder / "synth.yaml").write_text("\n".join([f"engine: {engine}", f"{engine}: {SOURCES[engine]}", *keep]) + "\n")
    compute_lookup(synth=name, workspace=ws, subdiv=5, duration=0.5, workers=1, show_progress=False)
    config = ws / f"{name}.yaml"
    config.write_text(CONFIG.format(synth=name))
    train(config_path=config, workspace=ws, show_progress=False, evaluate=False)
    _CACHE[engine] = (ws, name)
    return ws, name


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["faust", "csound", "supercollider", "pd"])
def test_train_and_rehearse_live_into_a_file(tmp_path_factory, tmp_path, engine):
    """Faust and Csound render each hop with their voices; Pd and SuperCollider render the session's trajectory."""
    require_engine(engine)
    ws, name = engine_run(tmp_path_factory, engine)
    audio_in = ws / "corpora" / "demo" / "audio" / f"{HELD_OUT}.wav"
    out, log = tmp_path / "out.wav", tmp_path / "session.csv"
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", name, "--model", "latest", "--input",
                                   str(audio_in), "--output", str(out), "--fast", "--log", str(log)])
    assert res.exit_code == 0, res.output
    played, sr = sf.read(out)
    info = sf.info(audio_in)
    assert sr == 44100 and played.shape[0] == int(round(info.frames * 44100 / info.samplerate))  # the input's length
    assert np.sqrt(np.mean(played**2)) > 0.05 and np.isfinite(played).all()
    meta = json.loads(log.with_suffix(".json").read_text())
    assert meta["rows"] == int(np.ceil(played.shape[0] / 512)) and meta["decisions"] > 10
    assert meta["latency"]["n"] == meta["decisions"] and meta["latency"]["p99_ms"] > 0
    # the file is what the engine's trajectory renderer (evaluation's) makes of the logged parameters
    table = pd.read_csv(log)
    params = table[[f"param-{i}" for i in range(3)]].to_numpy()
    spec = load_spec(name, workspace=ws)
    assert spec.engine == engine
    again = render_trajectory(spec, params, hop=512, sample_rate=44100, active=table["active"].to_numpy(bool),
                              silence=meta["silence"])[: played.shape[0]]
    corr = np.corrcoef(played, again)[0, 1]
    assert corr > 0.99, corr


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["faust", "csound"])
def test_live_plays_the_engine_on_a_jack_device(tmp_path_factory, tmp_path, engine):
    require_jack()
    require_engine(engine)
    ws, name = engine_run(tmp_path_factory, engine)
    with dummy_jack(tmp_path, prefix=f"rlimpro-{engine}") as jack:
        jack.metro("musician", bpm=240, freq=440, amp=0.5)
        log = tmp_path / "jack.csv"
        live = jack.rlimpro(ws, "live", "--synth", name, "--model", "latest", "--duration", "4", "--log", str(log))
        ports = jack.wait_for_ports(lambda p: p.startswith("PortAudio"), count=2, timeout=120)
        assert ports, "the live process never opened its JACK ports"
        ins = sorted(p for p in ports if ":in_" in p)
        outs = sorted(p for p in ports if ":out_" in p)
        jack.connect([p for p in jack.ports() if p.startswith("musician:")][0], ins[0])
        rec = tmp_path / "agent.wav"
        jack.record(rec, outs[0], seconds=2)
        stdout, stderr = live.communicate(timeout=120)
        assert live.returncode == 0, stderr
    meta = json.loads(log.with_suffix(".json").read_text())
    assert meta["stopped_by"] == "duration" and meta["decisions"] > 10
    device = next(o for o in meta["outputs"] if o["kind"] == "device")
    assert device["output_blocks"] > 4 * 48000 / 256 * 0.5  # JACK pulled the voice for the whole session
    audio, sr = sf.read(rec)
    assert sr == 48000 and np.sqrt(np.mean(audio**2)) > 0.05  # the engine's voice reached JACK


@pytest.mark.slow
def test_supercollider_synth_plays_live_in_scsynth_and_into_a_file(tmp_path_factory, tmp_path):
    """--output supercollider: a real-time scsynth on JACK under /n_set; --output FILE: the session's trajectory."""
    require_jack()
    require_engine("supercollider")
    ws, name = engine_run(tmp_path_factory, "supercollider")
    audio_in = ws / "corpora" / "demo" / "audio" / f"{HELD_OUT}.wav"
    out, log = tmp_path / "sc.wav", tmp_path / "sc.csv"
    with dummy_jack(tmp_path, prefix="rlimpro-sc") as jack:
        live = jack.rlimpro(ws, "live", "--synth", name, "--model", "latest", "--input", str(audio_in),
                            "--output", "supercollider", "--output", str(out), "--duration", "3", "--log", str(log))
        assert jack.wait_for_ports(lambda p: p.startswith("SuperCollider:out"), count=1, timeout=60), \
            "scsynth never opened its JACK output"
        stdout, stderr = live.communicate(timeout=120)
        assert live.returncode == 0, stderr
    meta = json.loads(log.with_suffix(".json").read_text())
    sc = next(o for o in meta["outputs"] if o["kind"] == "supercollider")
    assert sc["sent"] > 0 and sc["last_params_acknowledged"] is True  # scsynth's node holds the last parameters
    assert sc["pid"] and not (Path("/proc") / str(sc["pid"])).exists(), "scsynth was left running"
    played, sr = sf.read(out)
    assert sr == 44100 and played.shape[0] == meta["rows"] * 512 and np.sqrt(np.mean(played**2)) > 0.05


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["faust", "csound"])
def test_evaluation_renders_the_agent_with_the_engine(tmp_path_factory, engine):
    """rlimpro evaluate scores a Faust or Csound run on audio its engine renders continuously, as live plays it."""
    from rlimpro.evaluate import evaluate_run
    from rlimpro.runs import list_runs

    require_engine(engine)
    ws, name = engine_run(tmp_path_factory, engine)
    run = list_runs(synth=name, workspace=ws)[0]
    assert json.loads((run / "run.json").read_text())["engine"] == engine
    ev = evaluate_run(run, workspace=ws, show_progress=False, plot=False)
    assert ev["rendered"]["method"] == "continuous"
    assert np.isfinite(ev["rendered"]["rmse"]["agent"]) and ev["headline"]["measured_on"] == "rendered"
