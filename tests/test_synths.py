"""Native engines and synth specs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors import Analyzer
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ConfigError, NotFoundError, ParameterError, SynthError
from rlimpro.synths import load_spec, make_renderer
from rlimpro.synths.native import grain_source

SR = 44100


@pytest.fixture(params=["sine", "fm", "granular"])
def spec(request, tmp_path):
    n = 3 if request.param == "granular" else None
    return load_spec(request.param, workspace=tmp_path, n_params=n)


def test_render_shape_dtype_deterministic(spec, rng):
    eng = make_renderer(spec)
    p = rng.uniform(size=(4, spec.n_params))
    a = eng.render(p, duration=0.25, sample_rate=SR)
    b = eng.render(p, duration=0.25, sample_rate=SR)
    assert a.shape == (4, int(0.25 * SR)) and a.dtype == np.float32
    assert np.isfinite(a).all() and np.abs(a).max() <= 1.0 + 1e-6
    assert np.array_equal(a, b)
    # a batch renders each row as if alone
    assert_allclose(eng.render(p[2], duration=0.25, sample_rate=SR)[0], a[2], atol=1e-6, rtol=0)


def test_different_params_give_different_sounds(spec):
    eng = make_renderer(spec)
    p = np.full((2, spec.n_params), 0.5)
    p[1, 0] = 0.9
    a = eng.render(p, duration=0.25, sample_rate=SR)
    assert np.abs(a[0] - a[1]).max() > 0.01


def test_sine_mapping_gives_expected_pitch(tmp_path):
    spec = load_spec("sine", workspace=tmp_path)
    eng = make_renderer(spec)
    f_expected = spec.params[0].to_physical(0.6)
    audio = eng.render(np.array([[0.6, 1.0]]), duration=1.0, sample_rate=SR)[0]
    spec_mag = np.abs(np.fft.rfft(audio))
    peak = np.argmax(spec_mag) * SR / len(audio)
    assert_allclose(peak, f_expected, rtol=0.005, atol=0)


def test_fm_index_brightens(tmp_path):
    spec = load_spec("fm", workspace=tmp_path)
    eng = make_renderer(spec)
    a = Analyzer()
    audio = eng.render(np.array([[0.4, 0.3, 0.0], [0.4, 0.3, 1.0]]), duration=0.5, sample_rate=SR)
    cent = [a.analyze(x)[5:40, DESCRIPTORS.index("centroid")].mean() for x in audio]
    assert cent[1] > 1.5 * cent[0]


def test_granular_position_changes_timbre(tmp_path):
    spec = load_spec("granular", workspace=tmp_path, n_params=3)
    eng = make_renderer(spec)
    a = Analyzer()
    audio = eng.render(np.array([[0.0, 0.5, 0.5], [1.0, 0.5, 0.5]]), duration=0.5, sample_rate=SR)
    flat = [a.analyze(x)[5:40, DESCRIPTORS.index("flatness")].mean() for x in audio]
    assert flat[1] > flat[0] + 3.0  # the end of the source is noisier


def test_grain_source_is_deterministic():
    assert np.array_equal(grain_source(SR), grain_source.__wrapped__(SR))
    assert grain_source(SR).shape == (2 * SR,)


@pytest.mark.parametrize("name", ["sine", "fm"])
def test_voice_with_constant_params_equals_batch(tmp_path, name):
    spec = load_spec(name, workspace=tmp_path)
    eng = make_renderer(spec)
    p = np.linspace(0.2, 0.7, spec.n_params)
    voice = eng.voice(sample_rate=SR)
    voice.params = p.copy()
    blocks = np.concatenate([voice.render_block(p, 512) for _ in range(20)])
    batch = eng.render(p[None], duration=20 * 512 / SR, sample_rate=SR)[0]
    assert_allclose(blocks, batch, atol=2e-4, rtol=0)


@pytest.mark.parametrize("name", ["sine", "fm", "granular"])
def test_voice_ramps_without_clicks(tmp_path, name):
    spec = load_spec(name, workspace=tmp_path, n_params=3 if name == "granular" else None)
    voice = make_renderer(spec).voice(sample_rate=SR)
    block = 256
    out = np.concatenate([voice.render_block(np.full(spec.n_params, v), block) for v in np.linspace(0.1, 0.9, 40)])
    assert np.isfinite(out).all()
    # a click is a jump at a block boundary larger than any step inside the two blocks around it
    d = np.abs(np.diff(out.astype(np.float64)))
    for b in range(1, 40):
        edge = b * block - 1
        inside = np.r_[d[edge - block + 1 : edge], d[edge + 1 : edge + block]].max()
        assert d[edge] <= inside + 1e-3, f"jump {d[edge]:.4f} at block {b} vs {inside:.4f} inside"


def test_spec_params_count(tmp_path):
    with pytest.raises(ParameterError, match="has 3 parameters"):
        load_spec("fm", workspace=tmp_path, n_params=2)
    with pytest.raises(ParameterError, match="3..5"):
        load_spec("granular", workspace=tmp_path, n_params=6)
    assert load_spec("granular", workspace=tmp_path, n_params=4).n_params == 4


def test_unknown_synth_suggests(tmp_path):
    with pytest.raises(NotFoundError, match="did you mean 'fm'"):
        load_spec("fn", workspace=tmp_path)


def test_bad_synth_yaml(tmp_path):
    d = tmp_path / "synths" / "bad"
    d.mkdir(parents=True)
    (d / "synth.yaml").write_text("native: fm\nparams:\n  - {name: a, scale: log}\nbogus: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_spec("bad", workspace=tmp_path)
    msg = str(exc.value)
    assert "synth.yaml" in msg and "[bogus] unknown key" in msg and "params.0.scale" in msg


def test_exp_scale_needs_positive_range(tmp_path):
    d = tmp_path / "synths" / "bad"
    d.mkdir(parents=True)
    (d / "synth.yaml").write_text("native: sine\nparams:\n  - {name: f, scale: exp, min: 0, max: 10}\n")
    with pytest.raises(ConfigError, match="exp scale"):
        load_spec("bad", workspace=tmp_path)


def test_native_engine_param_count_checked(tmp_path):
    d = tmp_path / "synths" / "odd"
    d.mkdir(parents=True)
    (d / "synth.yaml").write_text("native: fm\nparams:\n  - {name: a}\n")
    with pytest.raises(SynthError, match="takes 3..3"):
        make_renderer(load_spec("odd", workspace=tmp_path))


def test_render_rejects_bad_params(tmp_path):
    eng = make_renderer(load_spec("sine", workspace=tmp_path))
    with pytest.raises(ParameterError):
        eng.render(np.zeros((2, 3)), duration=0.1, sample_rate=SR)
    with pytest.raises(ParameterError):
        eng.render(np.array([[np.nan, 0.5]]), duration=0.1, sample_rate=SR)
