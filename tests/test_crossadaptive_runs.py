"""Cross-adaptive run folders: finding them by 'latest', id or path; refusing runs of another task."""

from __future__ import annotations

import json
import shutil

import pytest

from rlimpro.crossadaptive.runs import is_cross_run, list_runs, models_dir, new_run_dir, resolve_run
from rlimpro.errors import MismatchError, NotFoundError

from .crossadaptive_support import trained_run


def test_resolve_latest_id_and_paths(tmp_path_factory):
    ws, run = trained_run(tmp_path_factory)
    assert resolve_run("latest", workspace=ws) == run.resolve()
    assert resolve_run(run.name, workspace=ws) == run.resolve()
    assert resolve_run(str(run), workspace=ws) == run.resolve()
    assert resolve_run(str(run.relative_to(ws)), workspace=ws) == run.resolve()
    assert resolve_run(str(run / "final_model.zip"), workspace=ws) == run.resolve()
    assert is_cross_run(run) and list_runs(workspace=ws)[-1] == run
    with pytest.raises(NotFoundError, match=f"no cross-adaptive run '{run.name[:-1]}X'; did you mean '{run.name}'"):
        resolve_run(run.name[:-1] + "X", workspace=ws)


def test_empty_workspace_and_other_tasks(tmp_path):
    with pytest.raises(NotFoundError, match="no cross-adaptive runs in .*crossadaptive/models; train one with "
                                            "`rlimpro train configs/cross-adaptive.yaml`"):
        resolve_run("latest", workspace=tmp_path)
    other = tmp_path / "synths" / "fm" / "models" / "20250101-000000-PPO"
    other.mkdir(parents=True)
    (other / "run.json").write_text(json.dumps({"synth": "fm"}))
    (other / "final_model.zip").write_bytes(b"")
    with pytest.raises(MismatchError, match="is not a cross-adaptive run"):
        resolve_run(str(other), workspace=tmp_path)
    fresh = new_run_dir(algorithm="ppo", workspace=tmp_path)
    assert fresh.parent == models_dir(workspace=tmp_path) and fresh.name.endswith("-PPO")
    (fresh / "run.json").write_text(json.dumps({"task": "cross-adaptive"}))
    with pytest.raises(NotFoundError, match="has no model yet"):
        resolve_run(str(fresh), workspace=tmp_path)
    second = new_run_dir(algorithm="ppo", workspace=tmp_path, now=None)
    assert second != fresh
    shutil.rmtree(second)
