"""Run directories: naming, listing and `latest` / run id / path resolution (shared with live)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rlimpro.errors import NotFoundError
from rlimpro.runs import BEST_MODEL, FINAL_MODEL, RUN_JSON, list_runs, model_path, new_run_dir, resolve_run


def make_run(ws, synth, when, algo="PPO", *, model=FINAL_MODEL):
    run = new_run_dir(synth=synth, algorithm=algo, workspace=ws, now=when)
    (run / RUN_JSON).write_text(json.dumps({"synth": synth}))
    if model:
        (run / model).write_bytes(b"PK")  # resolution only looks at which files exist
    return run


T0 = dt.datetime(2025, 3, 1, 12, 0, 0)


def test_run_names_sort_by_time_and_never_collide(tmp_path):
    a = make_run(tmp_path, "fm", T0)
    b = make_run(tmp_path, "fm", T0)  # same second
    c = make_run(tmp_path, "fm", T0 + dt.timedelta(seconds=1), "dqn")
    assert a.name == "20250301-120000-PPO" and b.name == "20250301-120000-PPO-2" and c.name == "20250301-120001-DQN"
    assert a.parent == tmp_path / "synths" / "fm" / "models"
    assert list_runs(synth="fm", workspace=tmp_path) == [a, b, c]


def test_resolve_latest_id_path_and_zip(tmp_path):
    old = make_run(tmp_path, "fm", T0)
    new = make_run(tmp_path, "fm", T0 + dt.timedelta(days=1))
    make_run(tmp_path, "fm", T0 + dt.timedelta(days=2), model=None)  # training never finished: skipped
    make_run(tmp_path, "sine", T0 + dt.timedelta(days=3))
    assert resolve_run("latest", synth="fm", workspace=tmp_path) == new.resolve()
    assert resolve_run(old.name, synth="fm", workspace=tmp_path) == old.resolve()
    assert resolve_run(str(old), synth=None, workspace=tmp_path) == old.resolve()
    rel = old.relative_to(tmp_path)
    assert resolve_run(str(rel), synth=None, workspace=tmp_path) == old.resolve()
    assert resolve_run(str(old / FINAL_MODEL), synth=None, workspace=tmp_path) == old.resolve()


def test_model_path_prefers_best(tmp_path):
    run = make_run(tmp_path, "fm", T0)
    assert model_path(run).name == FINAL_MODEL
    (run / BEST_MODEL).write_bytes(b"PK")
    assert model_path(run).name == BEST_MODEL


def test_resolution_errors_list_the_runs(tmp_path):
    run = make_run(tmp_path, "fm", T0)
    with pytest.raises(NotFoundError, match="20250301-120000-PPO") as exc:
        resolve_run("20250301-120001-PPO", synth="fm", workspace=tmp_path)
    assert "did you mean" in str(exc.value)
    with pytest.raises(NotFoundError, match="rlimpro train configs/sine.yaml"):
        resolve_run("latest", synth="sine", workspace=tmp_path)
    with pytest.raises(NotFoundError, match="give --synth"):
        resolve_run("latest", synth=None, workspace=tmp_path)
    unfinished = make_run(tmp_path, "fm", T0 + dt.timedelta(hours=1), model=None)
    with pytest.raises(NotFoundError, match="has no model yet"):
        resolve_run(str(unfinished), synth=None, workspace=tmp_path)
    assert run.exists()
