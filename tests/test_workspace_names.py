"""One name rule for synths, corpora and runs: nothing is written (or read) outside the workspace.

``--synth ../../tmp/x`` (or ``synth: ../../tmp/x`` in a config) used to write lookup.csv, map.html and
whole run folders outside the workspace. Each escape below must be one clear line, exit status 1, and
leave the world outside the workspace untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.errors import ParameterError


@pytest.fixture
def ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def run(ws: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(ws), *args])


def everything(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("name", ["../outside", "../../outside", "x/../../outside", "synths/../../outside", ".."])
def test_dotdot_synth_names_are_refused_and_nothing_is_written(ws, tmp_path, name):
    res = run(ws, "lookup", "--synth", name, "--subdiv", "2", "--duration", "0.1")
    assert res.exit_code == 1, res.output
    assert "'..' is not allowed" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "outside").exists() and not (ws.parent.parent / "outside").exists()
    assert everything(ws) == []


def test_absolute_synth_path_outside_is_refused(ws, tmp_path):
    outside = tmp_path / "elsewhere"
    res = run(ws, "lookup", "--synth", str(outside), "--subdiv", "2", "--duration", "0.1")
    assert res.exit_code == 1 and "leads outside the workspace" in res.output, res.output
    assert not outside.exists() and everything(ws) == []


def test_symlink_escaping_the_workspace_is_refused(ws, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "synth.yaml").write_text((Path(__file__).parents[1] / "rlimpro" / "builtin_synths" / "fm" / "synth.yaml").read_text())
    (ws / "synths").mkdir()
    (ws / "synths" / "evil").symlink_to(outside, target_is_directory=True)
    res = run(ws, "lookup", "--synth", "evil", "--subdiv", "2", "--duration", "0.1")
    assert res.exit_code == 1 and "through a symlink" in res.output, res.output
    assert sorted(p.name for p in outside.iterdir()) == ["synth.yaml"]
    res = run(ws, "visualize", "--synth", "evil")
    assert res.exit_code == 1 and "through a symlink" in res.output, res.output
    assert sorted(p.name for p in outside.iterdir()) == ["synth.yaml"]


def test_a_training_config_cannot_name_a_synth_outside(ws, tmp_path):
    config = ws / "escape.yaml"
    config.write_text("synth: ../../escaped\ncorpus: demo\nfeatures: [mfcc]\nalgorithm: PPO\ntimesteps: 64\n")
    res = run(ws, "train", str(config))
    assert res.exit_code == 1 and "'..' is not allowed" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "escaped").exists() and not (ws.parent / "escaped").exists()


def test_visualize_and_evaluate_stay_inside(ws, tmp_path):
    res = run(ws, "visualize", "--synth", "../outside")
    assert res.exit_code == 1 and "'..' is not allowed" in res.output, res.output
    outside_run = tmp_path / "run"
    outside_run.mkdir()
    (outside_run / "run.json").write_text("{}")
    (outside_run / "final_model.zip").write_bytes(b"")
    res = run(ws, "evaluate", str(outside_run))
    assert res.exit_code == 1 and "leads outside the workspace" in res.output, res.output
    assert not (tmp_path / "outside").exists() and not (outside_run / "evaluation.json").exists()


def test_corpus_names_follow_the_same_rule(ws, tmp_path):
    res = run(ws, "analyze-corpus", "--corpus", "../x")
    assert res.exit_code == 1 and "Traceback" not in res.output
    outside = tmp_path / "music"
    (outside / "audio").mkdir(parents=True)
    (ws / "corpora").mkdir()
    (ws / "corpora" / "mine").symlink_to(outside, target_is_directory=True)
    res = run(ws, "analyze-corpus", "--corpus", "mine")
    assert res.exit_code == 1 and "through a symlink" in res.output, res.output
    assert not (outside / "features").exists()


def test_the_rule_itself(ws):
    from rlimpro.workspace import check_name, corpus_dir, synth_dir

    for good in ("fm", "my-synth_2", "sub/synth"):
        check_name(good, option="synth name")
        assert synth_dir(good, workspace=ws) == ws / "synths" / good
    assert corpus_dir("demo", workspace=ws) == ws / "corpora" / "demo"
    for bad in ("", " fm", "a\0b", "..", "../x", "a/../../b"):
        with pytest.raises(ParameterError):
            synth_dir(bad, workspace=ws)
    inside = ws / "synths" / "fm"
    assert synth_dir(str(inside), workspace=ws) == inside  # an absolute path inside the workspace is fine
