"""The engine contract, run over every registry entry that renders the built-in sine and fm.

Each engine starts its real program or library (Pd, faust + g++, Csound, scsynth): a known parameter
gives its spectral peak within 0.5 % of the mapped frequency; a tiny lookup table agrees with the native
engine's (z-scored descriptor RMSE below 0.1 per row); trajectories have one hop of audio per vector and
start as a steady render does; the live voice (where the engine has one) continues its state across blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.descriptors.scaling import z_scale
from rlimpro.errors import ParameterError, SynthError
from rlimpro.lookup import compute_lookup
from rlimpro.synths import engine_class, engine_names, load_spec, make_engine, render_trajectory
from rlimpro.synths.engine import Engine

from .engine_support import SOURCE_ENGINES, require_engine
from .pd_support import peak_frequency

SR = 44100
HOP = 512


@pytest.fixture(params=SOURCE_ENGINES)
def engine_name(request):
    require_engine(request.param)
    return request.param


def test_registry_lists_every_engine_and_suggests_on_a_miss():
    assert engine_names() == ["native", "pd", "faust", "csound", "supercollider", "midi"]
    for name in engine_names():
        cls = engine_class(name)
        assert issubclass(cls, Engine) and cls.name == name
    with pytest.raises(SynthError, match="did you mean 'csound'"):
        engine_class("csund")


def test_unknown_engine_option_suggests(tmp_path):
    with pytest.raises(ParameterError, match="did you mean 'faust'"):
        load_spec("fm", workspace=tmp_path, engine="faus")


@pytest.mark.parametrize("p", [[0.3, 0.7], [0.0, 1.0], [1.0, 0.25]])
def test_sine_peak_at_the_mapped_frequency(tmp_path, engine_name, p):
    spec = load_spec("sine", workspace=tmp_path, engine=engine_name)
    with make_engine(spec) as eng:
        audio = eng.render(np.array([p]), duration=1.0, sample_rate=SR)
    assert audio.shape == (1, SR) and audio.dtype == np.float32
    expected = float(spec.params[0].to_physical(p[0]))
    found = peak_frequency(audio[0].astype(np.float64), SR)
    assert abs(found - expected) / expected < 0.005, (engine_name, found, expected)
    assert np.abs(audio).max() == pytest.approx(float(spec.params[1].to_physical(p[1])), abs=2e-3)


def test_fm_peak_at_the_mapped_carrier(tmp_path, engine_name):
    spec = load_spec("fm", workspace=tmp_path, engine=engine_name)
    with make_engine(spec) as eng:
        audio = eng.render(np.array([[0.4, 0.0, 0.0]]), duration=1.0, sample_rate=SR)  # index 0: a pure carrier
    expected = float(spec.params[0].to_physical(0.4))
    assert abs(peak_frequency(audio[0].astype(np.float64), SR) - expected) / expected < 0.005


@pytest.mark.parametrize("synth", ["sine", "fm"])
@pytest.mark.parametrize("engine_name", ["faust", "csound", "supercollider"])
def test_tiny_lookup_agrees_with_the_native_engine(tmp_path, engine_name, synth):
    # (Pd's own agreement is tested in test_pd_engine: its fm patch reaches 0.105 on pure-carrier rows,
    # where kurtosis, 9773 vs 11813, sees its cosine table's faint harmonics)
    require_engine(engine_name)
    subdiv = 3 if synth == "fm" else 4
    native_ws, other_ws = tmp_path / "native", tmp_path / engine_name
    kw = dict(synth=synth, subdiv=subdiv, duration=0.5, workers=1, show_progress=False)
    ref = pd.read_csv(compute_lookup(workspace=native_ws, **kw).path)
    got = pd.read_csv(compute_lookup(workspace=other_ws, engine=engine_name, **kw).path)
    cols = list(DESCRIPTORS)
    a, b = ref[cols].to_numpy(), got[cols].to_numpy()
    scale = z_scale(a.mean(axis=0), a.std(axis=0))
    rmse = np.sqrt(np.mean(((a - b) / scale) ** 2, axis=1))
    # scsynth computes in float32: SinOsc's table interpolation leaves noise near -130 dB, which the
    # kurtosis and flatness of fm's near-pure rows (60 Hz carrier, flatness -130 dB) see: 0.14 at worst
    limit = 0.15 if (engine_name, synth) == ("supercollider", "fm") else 0.1
    assert rmse.max() < limit, (engine_name, synth, rmse.round(3))


def test_trajectory_has_a_hop_per_vector_and_starts_as_a_steady_render(tmp_path, engine_name):
    spec = load_spec("fm", workspace=tmp_path, engine=engine_name)
    t = 30
    params = np.tile([0.5, 0.3, 0.0], (t, 1))  # index 0: the carrier alone
    params[:10] = [p.default for p in spec.params]  # a trajectory starts at the synth's defaults
    params[10:20, 0] = np.linspace(0.5, 0.7, 10)  # a glide, then steady
    params[20:, 0] = 0.7
    audio = render_trajectory(spec, params, hop=HOP, sample_rate=SR)
    assert audio.shape == (t * HOP,) and audio.dtype == np.float32 and np.isfinite(audio).all()
    with make_engine(spec) as eng:
        steady = eng.render(params[:1], duration=10 * HOP / SR, sample_rate=SR)[0]
    np.testing.assert_allclose(audio[: 10 * HOP], steady, atol=2e-3)
    # after the glide the carrier is the last one
    end = audio[-8 * HOP :].astype(np.float64)
    expected = float(spec.params[0].to_physical(0.7))
    assert abs(peak_frequency(end, SR) - expected) / expected < 0.02


def test_trajectory_refuses_bad_shapes(tmp_path):
    spec = load_spec("fm", workspace=tmp_path)
    with pytest.raises(ParameterError, match=r"has shape \(T >= 1, 3\)"):
        render_trajectory(spec, np.zeros((4, 2)), hop=HOP, sample_rate=SR)
    with pytest.raises(ParameterError, match="hop >= 1"):
        render_trajectory(spec, np.zeros((4, 3)), hop=0, sample_rate=SR)
    require_engine("pd")
    with pytest.raises(ParameterError, match="hop 100: Pd renders trajectories in hops that are multiples of 64"):
        make_engine(load_spec("fm", workspace=tmp_path, engine="pd")).render_trajectory(np.zeros((4, 3)), hop=100,
                                                                                        sample_rate=SR)


def test_voice_continues_its_state_across_blocks(tmp_path, engine_name):
    cls = engine_class(engine_name)
    if not cls.has_voice:
        pytest.skip(f"{engine_name} plays live through its own process (--output {engine_name})")
    spec = load_spec("sine", workspace=tmp_path, engine=engine_name)
    with make_engine(spec) as eng:
        voice = eng.voice(sample_rate=SR)
        try:
            voice.params = np.array([0.4, 0.8])
            blocks = [voice.render_block(np.array([0.4, 0.8]), HOP) for _ in range(8)]
        finally:
            voice.close()
        whole = eng.render(np.array([[0.4, 0.8]]), duration=8 * HOP / SR, sample_rate=SR)[0]
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=2e-3)  # no restart at block edges


@pytest.mark.parametrize("engine_name", ["faust", "csound", "supercollider"])
def test_match_task_renders_with_the_engine_in_the_loop(engine_name):
    from .task_support import match_env

    require_engine(engine_name)
    env = match_env(engine=engine_name, max_steps=2, held_out=1, start="default")
    native = match_env(max_steps=2, held_out=1, start="default")
    env.reset(seed=0)
    native.reset(seed=0)
    a = np.array([0.3, -0.2, 0.5], dtype=np.float32)
    _, _, _, _, got = env.step(a)
    _, _, _, _, ref = native.step(a)
    assert env.renders == 2 and env.renderer.name == engine_name
    assert got["distance"] == pytest.approx(ref["distance"], abs=0.05)


def test_visualize_embeds_clips_rendered_by_the_engine(tmp_path):
    from typer.testing import CliRunner

    from rlimpro.cli import app

    require_engine("csound")
    run = CliRunner().invoke
    res = run(app, ["--root", str(tmp_path), "lookup", "--synth", "sine", "--engine", "csound", "--subdiv", "3",
                    "--duration", "0.3"])
    assert res.exit_code == 0, res.output
    res = run(app, ["--root", str(tmp_path), "visualize", "--synth", "sine", "--audio", "embed"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "synths" / "sine" / "map.html").read_text()
    assert page.count("data:audio/ogg;base64,") == 9


@pytest.mark.parametrize("synth,engine_name", [("faust-drone", "faust"), ("csound-buzz", "csound"),
                                               ("sc-subtractive", "supercollider")])
def test_rich_builtins_have_eight_or_more_parameters_that_change_the_sound(tmp_path, synth, engine_name):
    """Each parameter moved from 0.2 to 0.8 (the others at 0.5) changes the spectrogram by > 1 dB on average."""
    require_engine(engine_name)
    spec = load_spec(synth, workspace=tmp_path)
    assert spec.engine == engine_name and spec.n_params >= 8
    rows = []
    for i in range(spec.n_params):
        for v in (0.2, 0.8):
            r = np.full(spec.n_params, 0.5)
            r[i] = v
            rows.append(r)
    with make_engine(spec) as eng:
        audio = eng.render(np.array(rows), duration=0.5, sample_rate=SR).astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(audio, 2048, axis=1)[:, ::512]
    db = 20 * np.log10(np.abs(np.fft.rfft(frames * np.hanning(2048), axis=-1)) + 1e-6)
    change = [float(np.mean(np.abs(db[2 * i + 1] - db[2 * i]))) for i in range(spec.n_params)]
    matters = [p.name for p, c in zip(spec.params, change, strict=True) if c > 1.0]
    assert len(matters) >= 8, dict(zip([p.name for p in spec.params], np.round(change, 2), strict=True))
