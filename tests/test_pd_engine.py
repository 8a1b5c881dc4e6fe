"""rlimpro.pd.engine: batch rendering of synth.pd files, and the shipped Pd versions of the built-ins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.errors import ParameterError
from rlimpro.lookup import compute_lookup, grid
from rlimpro.pd.engine import PdEngine
from rlimpro.synths import load_spec, make_renderer
from rlimpro.synths.native import grain_source, make_engine
from rlimpro.workspace import BUILTIN_SYNTHS_DIR

from .pd_support import fixture_spec, install_fixture, peak_frequency, require_pd

pytestmark = pytest.mark.pd
SR = 44100


@pytest.fixture
def pd_sine(tmp_path):
    require_pd()
    return PdEngine(load_spec("sine", workspace=tmp_path, engine="pd"))


def test_make_renderer_dispatches_to_pd(tmp_path):
    require_pd()
    assert isinstance(make_renderer(load_spec("fm", workspace=tmp_path, engine="pd")), PdEngine)


@pytest.mark.parametrize("p", [[0.3, 0.7], [0.0, 1.0], [1.0, 0.25]])
def test_pd_sine_peak_at_the_mapped_frequency(tmp_path, pd_sine, p):
    spec = pd_sine.spec
    audio = pd_sine.render(np.array([p]), duration=1.0, sample_rate=SR)
    assert audio.shape == (1, SR) and audio.dtype == np.float32
    expected = float(spec.params[0].to_physical(p[0]))
    found = peak_frequency(audio[0].astype(np.float64), SR)
    assert abs(found - expected) / expected < 0.005, (found, expected)
    assert np.abs(audio).max() == pytest.approx(float(spec.params[1].to_physical(p[1])), abs=1e-3)


def test_pd_sine_matches_native_sample_by_sample(tmp_path, pd_sine):
    params = grid(n_params=2, subdiv=4)
    pd_audio = pd_sine.render(params, duration=0.25, sample_rate=SR)
    native = make_engine(load_spec("sine", workspace=tmp_path)).render(params, duration=0.25, sample_rate=SR)
    # same phase origin; only float32 frequency/phase rounding in Pd
    np.testing.assert_allclose(pd_audio, native, atol=2e-3, rtol=0)


def test_other_sample_rate_and_odd_duration(pd_sine):
    sr = 48000
    audio = pd_sine.render(np.array([[0.5, 1.0]]), duration=0.3337, sample_rate=sr)
    assert audio.shape == (1, round(0.3337 * sr))
    expected = float(pd_sine.spec.params[0].to_physical(0.5))
    assert abs(peak_frequency(audio[0].astype(np.float64), sr) - expected) / expected < 0.005
    assert np.abs(audio[0, -64:]).max() > 0.1  # the last (partial) block is recorded too


def test_rows_do_not_depend_on_batching(tmp_path):
    """Every row gets a fresh synth instance: rendering rows together or one by one gives the same audio."""
    require_pd()
    engine = PdEngine(load_spec("fm", workspace=tmp_path, engine="pd"))
    params = np.array([[0.2, 0.4, 0.9], [0.8, 0.1, 0.3], [0.5, 0.5, 0.5]])
    together = engine.render(params, duration=0.2, sample_rate=SR)
    apart = np.concatenate([engine.render(row[None], duration=0.2, sample_rate=SR) for row in params[::-1]])[::-1]
    np.testing.assert_array_equal(together, apart)


def test_pd_and_native_fm_lookup_tables_agree(tmp_path):
    """Acceptance: subdiv 5, z-scored (native mean/std) descriptor RMSE per row below 0.1 on average."""
    require_pd()
    native = compute_lookup(synth="fm", workspace=tmp_path / "a", subdiv=5, show_progress=False)
    pd_run = compute_lookup(synth="fm", workspace=tmp_path / "b", subdiv=5, engine="pd", show_progress=False)
    a, b = pd.read_csv(native.path), pd.read_csv(pd_run.path)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 125
    np.testing.assert_array_equal(a.iloc[:, :3].to_numpy(), b.iloc[:, :3].to_numpy())
    nat, pdv = a.iloc[:, 3:].to_numpy(), b.iloc[:, 3:].to_numpy()
    assert np.isfinite(pdv).all()
    std = nat.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (pdv - nat) / std
    per_row = np.sqrt((z**2).mean(axis=1))
    assert per_row.mean() < 0.1, per_row.mean()


def test_prototype_style_sin_synth_renders(tmp_path):
    """A prototype-style synth.pd (GUI sliders, unpack, osc~) works unchanged."""
    require_pd()
    engine = PdEngine(fixture_spec("proto_sin", 2))
    audio = engine.render(np.array([[0.25, 0.6], [0.75, 0.3]]), duration=0.5, sample_rate=SR)
    for row, (f, amp) in zip(audio, [(60 + 1940 * 0.25, 0.6), (60 + 1940 * 0.75, 0.3)], strict=True):
        assert abs(peak_frequency(row.astype(np.float64), SR) - f) / f < 0.005
        assert np.abs(row).max() == pytest.approx(amp, abs=2e-3)


def test_prototype_style_fm3_synth_renders(tmp_path):
    """A prototype-style FM3 synth.pd (line~ ramps, osc~ frequency modulation) works unchanged."""
    require_pd()
    engine = PdEngine(fixture_spec("proto_fm3", 3))
    audio = engine.render(np.array([[0.5, 0.0, 0.0], [0.5, 0.5, 0.8]]), duration=0.5, sample_rate=SR)
    # index 0: a plain 300 Hz carrier; index > 0: sidebands spread the spectrum
    assert abs(peak_frequency(audio[0].astype(np.float64), SR) - 300.0) < 1.5
    flat = [np.mean(np.abs(np.fft.rfft(a)) > 1.0) for a in audio]
    assert flat[1] > 2 * flat[0]


def test_user_folder_synth_pd_through_the_cli(tmp_path):
    """`rlimpro lookup --synth mine --params 2 --subdiv 5` with only synths/mine/synth.pd."""
    require_pd()
    install_fixture(tmp_path, "proto_sin", as_name="mine")
    res = CliRunner().invoke(app, ["--root", str(tmp_path), "lookup", "--synth", "mine", "--params", "2", "--subdiv", "5"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "synths" / "mine" / "lookup.csv")
    assert len(table) == 25 and np.isfinite(table.to_numpy()).all()
    loud = table["loudness-dBFS"].to_numpy().reshape(5, 5)
    assert (np.diff(loud[:, 1:], axis=1) > 0).all()  # louder with param-1 (amplitude)
    pitch = table["pitch-hz"].to_numpy().reshape(5, 5)[:, -1]
    np.testing.assert_allclose(pitch, 60 + 1940 * np.linspace(0, 1, 5), rtol=0.02)


def test_shipped_grain_source_equals_the_generated_one():
    wav = BUILTIN_SYNTHS_DIR / "granular" / "source.wav"
    data, sr = soundfile.read(wav, dtype="float32")
    assert sr == 44100
    np.testing.assert_array_equal(data, grain_source(44100).astype(np.float32))


@pytest.mark.parametrize("n", [3, 4, 5])
def test_pd_granular_renders_deterministic_sound(tmp_path, n):
    require_pd()
    engine = PdEngine(load_spec("granular", workspace=tmp_path, engine="pd", n_params=n))
    params = np.random.default_rng(3).uniform(size=(3, n))
    a = engine.render(params, duration=0.5, sample_rate=SR)
    b = engine.render(params, duration=0.5, sample_rate=SR)
    np.testing.assert_array_equal(a, b)
    rms = np.sqrt((a.astype(np.float64) ** 2).mean(axis=1))
    assert (rms > 0.01).all() and np.abs(a).max() < 4.0


def test_pd_granular_level_follows_native(tmp_path):
    """Same mapping as the native engine: the Pd grains have about the native level and brightness."""
    require_pd()
    from rlimpro.descriptors.analyzer import AnalysisSettings, Analyzer
    from rlimpro.descriptors.registry import DESCRIPTORS
    from rlimpro.lookup import aggregate_frames

    spec_pd = load_spec("granular", workspace=tmp_path, engine="pd", n_params=3)
    spec_nat = load_spec("granular", workspace=tmp_path, n_params=3)
    params = np.array([[0.5, 0.5, 0.5], [0.1, 0.8, 0.9], [0.9, 0.7, 0.3]])
    settings = AnalysisSettings()
    analyzer = Analyzer(settings)
    rows = []
    for engine in (PdEngine(spec_pd), make_engine(spec_nat)):
        audio = engine.render(params, duration=1.0, sample_rate=SR)
        rows.append(aggregate_frames(analyzer.analyze_many(audio), settings=settings, n_samples=SR))
    loud, cent = DESCRIPTORS.index("loudness-dBFS"), DESCRIPTORS.index("centroid")
    np.testing.assert_allclose(rows[0][:, loud], rows[1][:, loud], atol=2.0)
    np.testing.assert_allclose(rows[0][:, cent], rows[1][:, cent], rtol=0.15)


def test_bad_parameter_arrays(pd_sine):
    with pytest.raises(ParameterError, match="takes 2 parameters"):
        pd_sine.render(np.zeros((2, 3)), duration=0.1, sample_rate=SR)
    with pytest.raises(ParameterError, match="finite"):
        pd_sine.render(np.array([[np.nan, 0.5]]), duration=0.1, sample_rate=SR)
    with pytest.raises(ParameterError, match="no samples"):
        pd_sine.render(np.zeros((1, 2)), duration=0.0, sample_rate=SR)
    assert pd_sine.render(np.zeros((0, 2)), duration=0.1, sample_rate=SR).shape == (0, 4410)


def test_parameters_outside_the_unit_range_are_clipped(pd_sine):
    a = pd_sine.render(np.array([[1.7, -3.0], [1.0, 0.0]]), duration=0.1, sample_rate=SR)
    np.testing.assert_array_equal(a[0], a[1])
