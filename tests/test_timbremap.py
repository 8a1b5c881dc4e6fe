"""rlimpro.timbremap: projection geometry, coverage, audio modes, page helpers."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
import sys

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose
from scipy.spatial.distance import cdist

from rlimpro.errors import ParameterError
from rlimpro.timbremap import audio as audio_mod
from rlimpro.timbremap.page import render_page
from rlimpro.timbremap.plot import clamp_to_view, view_box
from rlimpro.timbremap.projection import (
    PLACEMENT_NEIGHBOURS,
    Scaler,
    check_method,
    coverage,
    fit_projection,
    grid_spacing,
    nearest_rows,
)


# ---------------------------------------------------------------- scaler
def test_scaler_uses_table_statistics_and_survives_constant_columns(rng):
    table = np.column_stack([rng.normal(5, 2, 500), np.full(500, 3.0), rng.normal(-1, 0.1, 500)])
    s = Scaler.fit(table)
    z = s.transform(table)
    assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(z[:, [0, 2]].std(axis=0), 1.0, rtol=1e-12)
    assert_allclose(z[:, 1], 0.0, atol=0)  # constant column: 0, not NaN
    assert_allclose(s.transform([[7.0, 3.0, -1.0]])[0, 0], (7.0 - table[:, 0].mean()) / table[:, 0].std(), rtol=1e-12)


# ---------------------------------------------------------------- nearest rows
@pytest.mark.parametrize("k", [1, 3, 7])
def test_nearest_rows_matches_brute_force(rng, k):
    table = rng.normal(size=(300, 6))
    queries = rng.normal(size=(1100, 6))  # more than one chunk
    dist, idx = nearest_rows(queries, table, k=k, chunk=512)
    full = cdist(queries, table) / np.sqrt(6)
    order = np.argsort(full, axis=1)[:, :k]
    assert_allclose(dist, np.take_along_axis(full, order, axis=1), rtol=0, atol=1e-9)
    assert (np.take_along_axis(full, idx, axis=1) - np.take_along_axis(full, order, axis=1) < 1e-9).all()


def test_nearest_rows_whole_table_and_bad_k(rng):
    table = rng.normal(size=(5, 2))
    dist, idx = nearest_rows(table, table, k=5)
    assert_allclose(dist[:, 0], 0.0, atol=1e-7)
    assert (idx[:, 0] == np.arange(5)).all()
    with pytest.raises(ParameterError, match="k=6"):
        nearest_rows(table, table, k=6)


def test_grid_spacing_of_a_regular_grid():
    # a 1-D grid with step 0.5 in one column out of 4: RMS distance to the neighbour = 0.5 / sqrt(4)
    table = np.zeros((11, 4))
    table[:, 0] = np.arange(11) * 0.5
    assert grid_spacing(table) == pytest.approx(0.25)


# ---------------------------------------------------------------- coverage
def test_coverage_counts_within_threshold():
    d = np.array([0.1, 0.4, 0.5, 0.6, 3.0])
    c = coverage(d, threshold=0.5, spacing=0.2)
    assert c["coverage"] == pytest.approx(3 / 5)
    assert c["within"] == 3 and c["frames"] == 5
    assert c["distance"]["mean"] == pytest.approx(d.mean())
    assert c["distance"]["median"] == pytest.approx(0.5)
    assert c["curve"]["0.25"] == pytest.approx(1 / 5)
    assert c["curve"]["2"] == pytest.approx(4 / 5)
    assert c["grid_spacing"] == 0.2
    assert coverage(d, threshold=0.05)["coverage"] == 0.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_coverage_refuses_bad_threshold(bad):
    with pytest.raises(ParameterError, match="coverage-threshold"):
        coverage(np.ones(3), threshold=bad)


def test_coverage_refuses_no_frames():
    with pytest.raises(ParameterError, match="at least one active corpus frame"):
        coverage(np.zeros(0))


# ---------------------------------------------------------------- projections
def _blobs(rng, n=120):
    centres = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 0, 0]], dtype=float)
    labels = np.arange(n) % 3
    return centres[labels] + rng.normal(scale=0.3, size=(n, 4)), labels


def test_pca_projection_places_new_points_by_the_same_transform(rng):
    x, _ = _blobs(rng)
    proj = fit_projection(x, method="pca")
    assert proj.coords.shape == (len(x), 2)
    assert_allclose(proj.place(x), proj.coords, atol=1e-9)
    assert "variance" in proj.axis_labels[0]
    # the first axis explains at least as much as the second
    assert proj.coords[:, 0].var() >= proj.coords[:, 1].var()


def test_tsne_keeps_clusters_and_places_new_points_among_their_neighbours(rng):
    x, labels = _blobs(rng)
    proj = fit_projection(x, method="tsne", perplexity=10, seed=0)
    assert proj.coords.shape == (len(x), 2)
    centroids = np.array([proj.coords[labels == k].mean(axis=0) for k in range(3)])
    # a new point near cluster 1 lands nearer cluster 1's centroid than the others
    new = np.array([[6.1, 0.1, 0.0, 0.0]])
    placed = proj.place(new)
    assert np.argmin(np.linalg.norm(centroids - placed, axis=1)) == 1
    # exactly: the inverse-distance-weighted mean of its nearest rows' positions
    dist, idx = nearest_rows(new, x, k=PLACEMENT_NEIGHBOURS)
    w = 1 / (dist[0] + 1e-6)
    assert_allclose(placed[0], (w[:, None] * proj.coords[idx[0]]).sum(0) / w.sum(), rtol=1e-12)
    assert "nearest lookup rows" in proj.placement


def test_check_method_refuses_tsne_on_too_few_points():
    check_method("tsne", n_points=92, perplexity=30)  # 3 * 30 + 1 = 91 neighbours: needs > 91 points
    with pytest.raises(ParameterError, match="91 rows"):
        check_method("tsne", n_points=91, perplexity=30)
    with pytest.raises(ParameterError, match=r"perplexity 30 needs more than 91 points.*25 rows.*--perplexity 7"):
        check_method("tsne", n_points=25, perplexity=30)
    with pytest.raises(ParameterError, match="must be > 0"):
        check_method("tsne", n_points=500, perplexity=0)


def test_check_method_unknown_and_tiny():
    with pytest.raises(ParameterError, match="did you mean 'tsne'"):
        check_method("tnse", n_points=100)
    with pytest.raises(ParameterError, match="at least 3 lookup rows"):
        check_method("pca", n_points=2)


def test_umap_missing_names_the_package(monkeypatch):
    # a None entry in sys.modules is how Python marks a module as not importable
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ParameterError, match="pip install umap-learn"):
        check_method("umap", n_points=1000)


def test_umap_projection_when_installed(rng):
    if importlib.util.find_spec("umap") is None:
        pytest.skip("umap-learn not installed (optional): pip install umap-learn")
    x, labels = _blobs(rng)
    proj = fit_projection(x, method="umap", seed=0)
    assert proj.coords.shape == (len(x), 2)
    assert proj.place(x[:5]).shape == (5, 2)


# ---------------------------------------------------------------- view
def test_view_box_and_clamping():
    coords = np.array([[0.0, 0.0], [10.0, 5.0]])
    x0, x1, y0, y1 = view_box(coords)
    assert x0 < 0 < 10 < x1 and y0 < 0 < 5 < y1
    xy, inside = clamp_to_view(np.array([[5.0, 2.0], [100.0, -50.0]]), (x0, x1, y0, y1))
    assert inside.tolist() == [True, False]
    assert xy[1].tolist() == [x1, y0]


# ---------------------------------------------------------------- audio modes
def _meta(engine: str, n: int = 3) -> dict:
    return {
        "engine": engine,
        "n_params": n,
        "params": [{"name": f"p{i}", "unit": "", "min": 0.0, "max": 1.0, "scale": "lin", "default": 0.5} for i in range(n)],
        "analysis": {"sample_rate": 44100},
    }


def test_choose_mode():
    assert audio_mod.choose_mode("auto", meta=_meta("native:fm"), rows=8000) == "browser"
    assert audio_mod.choose_mode("auto", meta=_meta("pd"), rows=100) == "embed"
    assert audio_mod.choose_mode("auto", meta=_meta("pd"), rows=8000) == "files"
    assert audio_mod.choose_mode("files", meta=_meta("native:fm"), rows=8000) == "files"
    with pytest.raises(ParameterError, match="Pure Data synth; use --audio embed or --audio files"):
        audio_mod.choose_mode("browser", meta=_meta("pd"), rows=10)
    with pytest.raises(ParameterError, match="use --audio files"):
        audio_mod.choose_mode("embed", meta=_meta("native:fm"), rows=8000)
    with pytest.raises(ParameterError, match="did you mean 'embed'"):
        audio_mod.choose_mode("embedd", meta=_meta("native:fm"), rows=10)


def test_granular_payload_carries_the_engines_jitter_sequence():
    from rlimpro.synths.native import GRANULAR_SEED

    meta = _meta("native:granular", 4)
    meta["params"][3].update(min=5.0, max=80.0, scale="exp")
    payload = audio_mod.browser_payload(meta=meta, duration=0.5)
    rng = np.random.default_rng(GRANULAR_SEED)
    pairs = [rng.uniform(-0.5, 0.5, size=2) for _ in range(len(payload["granular"]["jitter"]) // 2)]
    assert payload["granular"]["jitter"] == np.concatenate(pairs).tolist()  # same draws, same order
    assert len(payload["granular"]["jitter"]) // 2 >= 0.5 * 80 + 1  # enough grains at the densest setting
    src = np.frombuffer(base64.b64decode(payload["granular"]["source"]), dtype="<f4")
    assert src.size == 2 * 44100


def test_encode_ogg_roundtrip():
    t = np.arange(22050) / 44100
    clip = 0.5 * np.sin(2 * np.pi * 440 * t)
    data = audio_mod.encode_ogg(clip, sample_rate=44100)
    assert data[:4] == b"OggS"
    back, sr = sf.read(io.BytesIO(data))
    assert sr == 44100 and abs(len(back) - len(clip)) < 64
    n = min(len(back), len(clip))
    assert np.corrcoef(back[:n], clip[:n])[0, 1] > 0.99


def test_audio_dir_manifest(tmp_path):
    key = {"a": 1}
    folder = tmp_path / "map-audio"
    audio_mod.write_audio_dir(folder, [b"x", b"y"], key=key)
    assert audio_mod.audio_dir_is_current(folder, key=key, rows=2)
    assert not audio_mod.audio_dir_is_current(folder, key={"a": 2}, rows=2)
    assert not audio_mod.audio_dir_is_current(folder, key=key, rows=3)
    audio_mod.write_audio_dir(folder, [b"z"], key={"a": 2})  # replaces the old folder whole
    assert sorted(p.name for p in folder.iterdir()) == ["000000.ogg", "manifest.json"]
    assert not list(tmp_path.glob(".map-audio*"))


# ---------------------------------------------------------------- page
def test_render_page_escapes_data_and_has_no_network_references():
    data = {"title": "a <b> & </script><!--", "x": [1.0]}
    text = render_page(data)
    block = re.search(r'<script id="map-data" type="application/json">(.*?)</script>', text, re.S).group(1)
    assert json.loads(block) == data
    assert "<title>a &lt;b&gt; &amp; &lt;/script&gt;&lt;!--</title>" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@@" not in text
