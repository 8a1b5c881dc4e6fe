"""Bad input to the visualize stage: a clear one-line error, exit != 0, nothing written."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors.registry import GROUPS
from rlimpro.tables import read_meta, write_table
from tests.visualize_data import CORPUS, make_corpus, make_lookup

pytest_plugins = ("tests.visualize_fixtures",)  # fixtures: prepared_workspace, ws

runner = CliRunner()
OUTPUTS = ("map.png", "map.html", "coverage.json", "map-audio")


def _fails(ws, *args, match: str):
    """Run the CLI, expect exit != 0 with ``match`` in its one-line error, and no map written."""
    before = {name: (ws / "synths" / "fm" / name).exists() for name in OUTPUTS}
    res = runner.invoke(app, ["--root", str(ws), "visualize", *args])
    assert res.exit_code != 0, res.output
    assert "error:" in res.output and match in res.output, res.output
    assert "Traceback" not in res.output
    after = {name: (ws / "synths" / "fm" / name).exists() for name in OUTPUTS}
    assert after == before, "a failed visualize wrote output"
    return res.output


def test_lookup_table_missing(tmp_path):
    out = _fails(tmp_path, "--synth", "fm", match="no lookup table for synth 'fm'")
    assert "rlimpro lookup --synth fm" in out


def test_lookup_table_missing_suggests_a_synth_that_has_one(ws):
    _fails(ws, "--synth", "fn", match="did you mean 'fm'")


def test_descriptor_group_absent_from_the_table(ws):
    table = ws / "synths" / "fm" / "lookup.csv"
    frame = pd.read_csv(table)
    write_table(table, frame.drop(columns=list(GROUPS["pitch"])), read_meta(table))
    out = _fails(ws, "--synth", "fm", "--features", "pitch,mfcc", match="descriptor group 'pitch'")
    assert "pitch-hz" in out and "loudness, mfcc, chroma, specshape" in out
    # the default (every group) meets the same missing group
    _fails(ws, "--synth", "fm", match="'pitch'")


def test_unknown_feature_name_suggests(ws):
    _fails(ws, "--synth", "fm", "--features", "mfc", match="did you mean 'mfcc'")


def test_one_descriptor_is_not_a_map(ws):
    _fails(ws, "--synth", "fm", "--features", "centroid", match="at least 2 descriptors")


def test_tsne_on_fewer_points_than_its_perplexity_allows(tmp_path):
    make_lookup(tmp_path, synth="sine", subdiv=5, duration=0.1)  # 25 points
    out = _fails_synth(tmp_path, "sine", "--method", "tsne", match="t-SNE with perplexity 30 needs more than 91 points")
    assert "25 rows" in out and "--method pca" in out


def _fails_synth(ws, synth, *args, match):
    res = runner.invoke(app, ["--root", str(ws), "visualize", "--synth", synth, *args])
    assert res.exit_code != 0 and match in res.output, res.output
    assert not (ws / "synths" / synth / "map.html").exists() and not (ws / "synths" / synth / "map.png").exists()
    return res.output


def test_umap_not_installed(ws, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # how Python marks a module as not importable
    _fails(ws, "--synth", "fm", "--method", "umap", match="pip install umap-learn")


def test_unknown_method_is_refused_by_the_cli(ws):
    res = runner.invoke(app, ["--root", str(ws), "visualize", "--synth", "fm", "--method", "mds"])
    assert res.exit_code != 0 and "mds" in res.output


def test_corpus_missing(ws):
    _fails(ws, "--synth", "fm", "--corpus", "nosuch", match="nosuch")


def test_corpus_analyzed_with_other_settings(tmp_path):
    make_lookup(tmp_path)
    make_corpus(tmp_path, corpus="wide", window=2048)
    out = _fails(tmp_path, "--synth", "fm", "--corpus", "wide", match="analysis settings differ")
    assert "window: 2048" in out and "1024" in out


def test_corpus_without_active_frames(ws):
    features = ws / "corpora" / CORPUS / "features"
    for table in features.glob("*.csv"):
        frame = pd.read_csv(table)
        frame["active"] = 0
        frame.to_csv(table, index=False)
    _fails(ws, "--synth", "fm", "--corpus", CORPUS, match="no active frames")


def test_run_missing(ws):
    _fails(ws, "--synth", "fm", "--run", "19990101-000000-PPO", match="no run '19990101-000000-PPO' of synth 'fm'")


def test_run_without_trajectories(ws):
    import shutil

    run = next((ws / "synths" / "fm" / "models").iterdir())
    shutil.rmtree(run / "trajectories")  # a run that was never evaluated
    out = _fails(ws, "--synth", "fm", "--run", "latest", match="has no trajectories")
    assert "rlimpro evaluate" in out


def test_run_of_another_synth(ws):
    run = next((ws / "synths" / "fm" / "models").iterdir())
    for path in (run / "trajectories").glob("*.csv"):
        pd.read_csv(path).drop(columns=["param-2"]).to_csv(path, index=False)
    _fails(ws, "--synth", "fm", "--run", str(run), match="another synth")


def test_table_that_is_not_its_grid(ws):
    table = ws / "synths" / "fm" / "lookup.csv"
    frame = pd.read_csv(table)
    write_table(table, frame.iloc[:-1], {**read_meta(table), "rows": 124})  # a whole table, of the wrong grid
    _fails(ws, "--synth", "fm", match="124 rows but a 3-parameter grid at subdiv 5 has 125")


def test_broken_sidecar(ws):
    (ws / "synths" / "fm" / "lookup.json").write_text("{not json")
    _fails(ws, "--synth", "fm", match="not valid JSON")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--coverage-threshold", "0"], "coverage-threshold"),
        (["--audio-duration", "60"], "--audio-duration 60"),
        (["--color-by", "loudness"], "--color-by loudness: not a parameter"),
        (["--color-by", "7"], "parameter index must be 0..2"),
        (["--perplexity", "-3", "--method", "tsne"], "must be > 0"),
    ],
)
def test_bad_options(ws, args, match):
    _fails(ws, "--synth", "fm", *args, match=match)


def test_browser_audio_for_a_pd_table(ws):
    side = ws / "synths" / "fm" / "lookup.json"
    meta = json.loads(side.read_text())
    meta["engine"] = "pd"
    side.write_text(json.dumps(meta))
    _fails(ws, "--synth", "fm", "--audio", "browser", match="the page can synthesize only the native engines")
