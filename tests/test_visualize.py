"""The visualize stage: map.png, map.html, corpus placement, coverage, trajectories, audio, CLI."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from numpy.testing import assert_allclose
from scipy.spatial.distance import cdist
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS
from rlimpro.lookup import grid
from rlimpro.synths import load_spec, make_renderer
from rlimpro.timbremap.audio import FADE_SECONDS
from rlimpro.visualize import describe_features, place_by_params, visualize
from tests.visualize_data import CORPUS, PLAYED_ROWS, SUBDIV, page_data

pytest_plugins = ("tests.visualize_fixtures",)  # fixtures: prepared_workspace, ws

runner = CliRunner()
ROWS = SUBDIV**3


def _lookup(ws):
    return pd.read_csv(ws / "synths" / "fm" / "lookup.csv")


def _z_divisor(mean, std):
    """The table's std, but 1 for a column it does not vary (std <= 1e-3 max(1, |mean|): fm's peak
    level, whose rounding noise is 4.5e-5 dB, would otherwise be blown up to a whole dimension)."""
    return np.where(std <= 1e-3 * np.maximum(1.0, np.abs(mean)), 1.0, std)


def _independent_pca(ws, features):
    """PCA of the z-scored lookup table, computed here from the CSV alone."""
    from sklearn.decomposition import PCA

    v = _lookup(ws)[features].to_numpy()
    z = (v - v.mean(0)) / _z_divisor(v.mean(0), v.std(0))
    return PCA(n_components=2).fit(z), z, v


def test_pca_map_writes_png_and_page(ws):
    res = visualize(synth="fm", workspace=ws, show_progress=False)
    assert res.png == ws / "synths" / "fm" / "map.png" and res.png.is_file()
    assert res.html.is_file() and res.rows == ROWS and res.method == "pca"
    assert res.features == list(DESCRIPTORS) and res.audio_mode == "browser"
    assert res.coverage is None and not (ws / "synths" / "fm" / "coverage.json").exists()

    import matplotlib.image

    img = matplotlib.image.imread(res.png)
    assert img.shape[0] > 500 and img.shape[1] > 700
    assert img[..., :3].std() > 0.05  # not blank

    data = page_data(res.html)
    assert data["rows"] == ROWS and len(data["x"]) == ROWS and len(data["y"]) == ROWS
    assert data["method"] == "pca" and "PCA" in data["title"] and "z-scored" in data["subtitle"]
    assert [p["name"] for p in data["params"]] == ["carrier", "harmonicity", "index"]
    assert data["audio"]["mode"] == "browser" and data["audio"]["engine"] == "fm"
    assert data["audio"]["sample_rate"] == 44100

    # the page's coordinates are the PCA of the table z-scored with its own statistics
    pca, z, _ = _independent_pca(ws, list(DESCRIPTORS))
    expected = pca.transform(z)
    span = np.ptp(expected, axis=0).max()
    got = np.column_stack([data["x"], data["y"]])
    signs = np.sign((got * expected).sum(0))  # PCA axes are defined up to sign
    assert_allclose(got * signs, expected, rtol=0, atol=1e-3 * span)
    assert f"{pca.explained_variance_ratio_[0] * 100:.0f} % of variance" in data["axis_labels"][0]


def test_features_subset_and_color_by(ws):
    res = visualize(synth="fm", workspace=ws, features=["mfcc", "loudness-dBFS"], color_by="index", show_progress=False)
    assert res.features == ["loudness-dBFS", *GROUPS["mfcc"]]
    data = page_data(res.html)
    assert data["features"] == res.features and data["color_by"] == 2
    assert "loudness-dBFS" in data["subtitle"] and "mfcc" in data["subtitle"]
    pca, z, _ = _independent_pca(ws, res.features)
    got = np.column_stack([data["x"], data["y"]])
    expected = pca.transform(z)
    assert_allclose(np.abs(got), np.abs(expected), rtol=0, atol=1e-3 * np.ptp(expected))


def test_describe_features():
    assert describe_features(list(DESCRIPTORS)) == "loudness, mfcc, chroma, specshape, pitch"
    assert describe_features(["centroid", *GROUPS["mfcc"], "pitch-hz"]) == "mfcc + centroid, pitch-hz"
    assert describe_features(["flatness", "crest"]) == "flatness, crest"


def test_corpus_frames_and_coverage(ws):
    res = visualize(synth="fm", workspace=ws, corpus=CORPUS, show_progress=False)
    stored = json.loads((ws / "synths" / "fm" / "coverage.json").read_text())
    assert res.coverage_path == ws / "synths" / "fm" / "coverage.json"
    assert stored["coverage"] == pytest.approx(res.coverage["coverage"])
    assert stored["threshold"] == 0.5 and "threshold_reason" in stored and "definition" in stored

    # recompute the figure independently: z-score active frames with the lookup's statistics, brute force,
    # over the descriptors the synth varies (FM has a fixed amplitude: its level varies by a fraction of a dB)
    from rlimpro.descriptors.scaling import varied_columns

    lk_all = _lookup(ws)[list(DESCRIPTORS)].to_numpy()
    keep = varied_columns(lk_all, DESCRIPTORS)
    assert not keep[list(DESCRIPTORS).index("loudness-dBFS")] and keep[list(DESCRIPTORS).index("pitch-midi")]
    assert stored["cannot_vary"] == [n for n, k in zip(DESCRIPTORS, keep, strict=True) if not k]
    assert stored["features"] == [n for n, k in zip(DESCRIPTORS, keep, strict=True) if k]
    lkv = lk_all[:, keep]
    meanv, stdv = lkv.mean(0), _z_divisor(lkv.mean(0), lkv.std(0))
    per_file = {}
    all_d = []
    for stem in ("noise", "synthlike"):
        t = pd.read_csv(ws / "corpora" / CORPUS / "features" / f"{stem}.csv")
        active = t[t["active"] == 1][list(DESCRIPTORS)].to_numpy()[:, keep]
        d = cdist((active - meanv) / stdv, (lkv - meanv) / stdv).min(1) / np.sqrt(keep.sum())
        per_file[stem] = d
        all_d.append(d)
    all_d = np.concatenate(all_d)
    assert stored["frames"] == len(all_d) == res.corpus_frames
    assert stored["coverage"] == pytest.approx((all_d <= 0.5).mean(), abs=1e-12)
    assert stored["distance"]["mean"] == pytest.approx(all_d.mean(), rel=1e-9)
    for stem, d in per_file.items():
        assert stored["per_file"][stem]["coverage"] == pytest.approx((d <= 0.5).mean(), abs=1e-12)
    # the synth's own sounds are mostly within reach; white noise is not an FM sound
    assert stored["per_file"]["synthlike"]["coverage"] >= 0.5
    assert stored["per_file"]["noise"]["coverage"] <= 0.05
    assert stored["per_file"]["synthlike"]["mean_distance"] < stored["per_file"]["noise"]["mean_distance"]

    data = page_data(res.html)
    c = data["corpus"]
    assert len(c["x"]) == res.corpus_frames and c["files"] == ["noise", "synthlike"]
    assert data["coverage"]["coverage"] == pytest.approx(stored["coverage"])
    # the middle of each played tone lies nearest the grid point that was played
    k = c["files"].index("synthlike")
    time = np.array(c["time"])
    nearest = np.array(c["nearest"])
    file = np.array(c["file"])
    for i, row in enumerate(PLAYED_ROWS):
        sel = (file == k) & (time > 0.8 * i + 0.25) & (time < 0.8 * i + 0.5)
        assert sel.sum() >= 5
        assert np.bincount(nearest[sel]).argmax() == row
    # PCA places corpus frames with the same transform: a frame identical to a grid row sits on it
    pca, _, _ = _independent_pca(ws, list(DESCRIPTORS))
    lk = lk_all
    mean, std = lk.mean(0), _z_divisor(lk.mean(0), lk.std(0))
    frames = pd.read_csv(ws / "corpora" / CORPUS / "features" / "synthlike.csv")
    frames = frames[frames["active"] == 1]
    expected = pca.transform((frames[list(DESCRIPTORS)].to_numpy() - mean) / std)
    got = np.column_stack([c["x"], c["y"]])[file == k]
    assert_allclose(np.abs(got), np.abs(expected), rtol=0, atol=1e-3 * np.ptp(pca.transform((lk - mean) / std)))


def test_tsne_places_corpus_frames_among_neighbours(ws):
    res = visualize(synth="fm", workspace=ws, corpus=CORPUS, method="tsne", perplexity=10, show_progress=False)
    data = page_data(res.html)
    assert data["method"] == "tsne" and data["axis_labels"] == ["t-SNE 1", "t-SNE 2"]
    assert "nearest lookup rows" in data["placement"]
    xy = np.column_stack([data["x"], data["y"]])
    cxy = np.column_stack([data["corpus"]["x"], data["corpus"]["y"]])
    # a weighted mean of grid positions lies inside the grid points' bounding box
    assert (cxy >= xy.min(0) - 1e-6).all() and (cxy <= xy.max(0) + 1e-6).all()
    assert res.coverage["coverage"] == pytest.approx(json.loads(res.coverage_path.read_text())["coverage"])


def test_place_by_params_interpolates_grid_positions(rng):
    coords = rng.normal(size=(SUBDIV**3, 2))
    pts = grid(n_params=3, subdiv=SUBDIV)
    assert_allclose(place_by_params(pts, coords, n_params=3, subdiv=SUBDIV), coords, atol=1e-12)
    # half-way between two grid points along param-2: the mean of their positions
    a, b = 7, 8  # rows differing by one step of param-2
    mid = (pts[a] + pts[b]) / 2
    assert_allclose(place_by_params(mid[None], coords, n_params=3, subdiv=SUBDIV)[0], (coords[a] + coords[b]) / 2, atol=1e-12)


def _run_dir(ws):
    return next((ws / "synths" / "fm" / "models").iterdir())


def test_run_trajectories(ws):
    run = _run_dir(ws)
    res = visualize(synth="fm", workspace=ws, run="latest", show_progress=False)
    assert res.trajectories == 1  # evaluate wrote the held-out file's trajectory
    data = page_data(res.html)
    (t,) = data["trajectories"]
    assert t["file"] == "synthlike"
    table = pd.read_csv(run / "trajectories" / "synthlike.csv")
    assert len(t["x"]) == len(table) and t["tx"] is not None and len(t["tx"]) == len(table)
    # the agent sits inside the cell of grid points around its parameters (multilinear interpolation)
    xy = np.column_stack([data["x"], data["y"]])
    span = np.ptp(xy, axis=0)
    p = table[[f"param-{i}" for i in range(3)]].to_numpy()
    lo = np.floor(p * (SUBDIV - 1) + 1e-9).clip(0, SUBDIV - 2).astype(int)
    for step in range(0, len(p), 7):
        corners = [np.ravel_multi_index(tuple(lo[step] + np.array(c)), (SUBDIV,) * 3) for c in np.ndindex(2, 2, 2)]
        agent = np.array([t["x"][step], t["y"][step]])
        assert (agent >= xy[corners].min(0) - 1e-4 * span).all() and (agent <= xy[corners].max(0) + 1e-4 * span).all()
    # the same run named by its id and by its path
    for name in (run.name, str(run)):
        assert visualize(synth="fm", workspace=ws, run=name, show_progress=False).trajectories == 1


def test_trajectory_without_target_columns_warns(ws):
    path = _run_dir(ws) / "trajectories" / "synthlike.csv"
    t = pd.read_csv(path)
    t[["time", "param-0", "param-1", "param-2"]].to_csv(path, index=False)
    res = visualize(synth="fm", workspace=ws, run="latest", show_progress=False)
    assert any("synthlike.csv lacks" in w for w in res.warnings)
    (traj,) = page_data(res.html)["trajectories"]
    assert traj["tx"] is None and len(traj["x"]) == len(t)


def _engine_clips(ws, rows, duration):
    spec = load_spec("fm", workspace=ws)
    audio = make_renderer(spec).render(grid(n_params=3, subdiv=SUBDIV)[rows], duration=duration, sample_rate=44100)
    n = int(FADE_SECONDS * 44100)
    ramp = np.linspace(0, 1, n, endpoint=False)
    audio = audio.astype(np.float64)
    audio[:, :n] *= ramp
    audio[:, -n:] *= ramp[::-1]
    return audio


def test_audio_files_mode_renders_every_grid_point_beside_the_page(ws):
    res = visualize(synth="fm", workspace=ws, audio="files", audio_duration=0.2, show_progress=False)
    folder = ws / "synths" / "fm" / "map-audio"
    assert res.audio_mode == "files" and res.audio_dir == folder
    clips = sorted(folder.glob("*.ogg"))
    assert len(clips) == ROWS and clips[0].name == "000000.ogg"
    data = page_data(res.html)
    assert data["audio"] == {"mode": "files", "sample_rate": 44100, "duration": 0.2, "folder": "map-audio", "digits": 6, "rows": ROWS}
    expected = _engine_clips(ws, [37, 101], 0.2)
    for k, row in enumerate([37, 101]):
        got, sr = sf.read(folder / f"{row:06d}.ogg")
        assert sr == 44100 and abs(len(got) - expected.shape[1]) < 64
        n = min(len(got), expected.shape[1])
        assert np.corrcoef(got[:n], expected[k, :n])[0, 1] > 0.95  # Vorbis is lossy
    # unchanged synth and settings: the clips are reused, not rendered again
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    visualize(synth="fm", workspace=ws, audio="files", audio_duration=0.2, method="pca", show_progress=False)
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp
    # other clip length: rendered again
    visualize(synth="fm", workspace=ws, audio="files", audio_duration=0.3, show_progress=False)
    assert json.loads((folder / "manifest.json").read_text())["duration"] == 0.3


def test_audio_embed_mode_puts_every_clip_in_the_page(ws):
    res = visualize(synth="fm", workspace=ws, audio="embed", audio_duration=0.2, show_progress=False)
    assert res.audio_mode == "embed" and res.audio_dir is None
    clips = page_data(res.html)["audio"]["clips"]
    assert len(clips) == ROWS and all(c.startswith("data:audio/ogg;base64,") for c in clips)
    import base64

    got, sr = sf.read(io.BytesIO(base64.b64decode(clips[64].split(",", 1)[1])))
    expected = _engine_clips(ws, [64], 0.2)[0]
    n = min(len(got), len(expected))
    assert sr == 44100 and np.corrcoef(got[:n], expected[:n])[0, 1] > 0.95


def test_rerun_gives_the_same_page(ws):
    a = visualize(synth="fm", workspace=ws, corpus=CORPUS, show_progress=False).html.read_bytes()
    b = visualize(synth="fm", workspace=ws, corpus=CORPUS, show_progress=False).html.read_bytes()
    assert a == b
    assert not [p for p in (ws / "synths" / "fm").iterdir() if p.name.startswith(".")]  # no temp files left


def test_cli_visualize_with_corpus_and_run(ws):
    res = runner.invoke(
        app,
        ["--root", str(ws), "visualize", "--synth", "fm", "--features", "mfcc,loudness", "--corpus", CORPUS, "--run", "latest"],
    )
    assert res.exit_code == 0, res.output
    stored = json.loads((ws / "synths" / "fm" / "coverage.json").read_text())
    assert f"coverage of corpus '{CORPUS}': {100 * stored['coverage']:.1f} %" in res.output
    assert "within 1 (the reward's distance of run" in res.output and "drew 1 agent trajectory" in res.output
    # the coverage is measured on what the agent is scored on: the run's reward, its distance (the floor)
    from rlimpro.env.players import nearest_rows
    from rlimpro.runs import list_runs, load_feature_space

    fs = load_feature_space(list_runs(synth="fm", workspace=ws)[-1])
    assert stored["features"] == fs.features_reward and stored["cannot_vary"] == []
    frames = [pd.read_csv(p) for p in sorted((ws / "corpora" / CORPUS / "features").glob("*.csv"))]
    active = np.concatenate([f[f["active"] == 1][list(DESCRIPTORS)].to_numpy() for f in frames])
    _, floor = nearest_rows(fs, _lookup(ws)[list(DESCRIPTORS)].to_numpy(), active)
    assert stored["coverage"] == pytest.approx((floor <= 1.0).mean(), abs=1e-12)
    assert stored["distance"]["mean"] == pytest.approx(floor.mean(), rel=1e-9)
    assert (ws / "synths" / "fm" / "map.png").is_file() and (ws / "synths" / "fm" / "map.html").is_file()
    # a config's reward, without a run; and a map without --features takes the reward's descriptors
    cfg = ws / "cov.yaml"
    cfg.write_text(yaml.safe_dump({"synth": "fm", "corpus": CORPUS, "features": ["pitch"], "features_reward": ["pitch-midi", "centroid-midi"]}))
    res = runner.invoke(app, ["--root", str(ws), "visualize", "--synth", "fm", "--corpus", CORPUS, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    stored = json.loads((ws / "synths" / "fm" / "coverage.json").read_text())
    assert stored["features"] == ["centroid-midi", "pitch-midi"] and "config" in stored["distance_unit"]
    assert "over pitch-midi" in res.output or "centroid-midi, pitch-midi" in res.output


def test_cli_coverage_threshold_option(ws):
    res = runner.invoke(app, ["--root", str(ws), "visualize", "--synth", "fm", "--corpus", CORPUS, "--coverage-threshold", "2"])
    assert res.exit_code == 0, res.output
    stored = json.loads((ws / "synths" / "fm" / "coverage.json").read_text())
    assert stored["threshold"] == 2.0 and stored["coverage"] == pytest.approx(stored["curve"]["2"])


def test_outputs_are_readable_files(ws):
    res = visualize(synth="fm", workspace=ws, show_progress=False)
    for path in (res.png, res.html):
        assert os.access(path, os.R_OK) and path.stat().st_size > 10_000


@pytest.mark.pd
def test_pd_synth_gets_clips_rendered_by_pure_data(tmp_path):
    from tests.pd_support import require_pd

    require_pd()
    from rlimpro.lookup import compute_lookup

    compute_lookup(synth="fm", workspace=tmp_path, subdiv=3, duration=0.2, engine="pd", workers=1, show_progress=False)
    res = visualize(synth="fm", workspace=tmp_path, show_progress=False)
    assert res.audio_mode == "embed"  # a Pd synth cannot be synthesized in the page; a small table is embedded
    clips = page_data(res.html)["audio"]["clips"]
    assert len(clips) == 27
    import base64

    spec = load_spec("fm", workspace=tmp_path)
    expected = make_renderer(spec).render(grid(n_params=3, subdiv=3), duration=0.5, sample_rate=44100)
    for row in (4, 13, 22):
        got, sr = sf.read(io.BytesIO(base64.b64decode(clips[row].split(",", 1)[1])))
        n = min(len(got), expected.shape[1]) - 500  # leave out the faded end
        # Pd's osc~ is a table-lookup cosine: the same sound as the native engine up to small errors
        assert sr == 44100 and np.corrcoef(got[500:n], expected[row, 500:n])[0, 1] > 0.8
