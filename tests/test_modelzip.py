"""A model zip cannot run code when ``live`` or ``evaluate`` loads it.

SB3 unpickles a zip's ``data``: a crafted ``lr_schedule`` ran a shell command. Each crafted zip below
would create a marker file if anything in it were executed; ``live`` and ``evaluate`` must refuse it
with one line, and the marker must not exist afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app

from .live_support import HELD_OUT, trained_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


class RunsACommand:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted_run(run_dir: Path, ws: Path, name: str, change) -> Path:  # noqa: ANN001 - change(data, members)
    """A copy of ``run_dir`` whose model zips were rewritten by ``change``."""
    dest = ws / "synths" / "fm" / "models" / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(run_dir, dest)
    for model in ("best_model.zip", "final_model.zip"):
        path = dest / model
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        data = json.loads(members["data"])
        change(data, members)
        members["data"] = json.dumps(data).encode()
        with zipfile.ZipFile(path, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
    return dest


def _serialized(obj: object) -> str:
    return base64.b64encode(pickle.dumps(obj)).decode()


def cases(marker: Path) -> dict:
    import cloudpickle

    def lr(data, members):
        data["lr_schedule"][":serialized:"] = _serialized(RunsACommand(marker))

    def policy(data, members):
        data["policy_class"][":serialized:"] = _serialized(RunsACommand(marker))

    def lambda_schedule(data, members):  # a cloudpickled function that would run the command when called
        data["lr_schedule"][":serialized:"] = base64.b64encode(
            cloudpickle.dumps(lambda _: os.system(f"touch {marker}"))).decode()

    def new_key(data, members):
        data["surprise"] = {":type:": "<class 'x'>", ":serialized:": _serialized(RunsACommand(marker))}

    def extra_member(data, members):
        members["policy.extra.pth"] = pickle.dumps(RunsACommand(marker))

    return {"lr_schedule": lr, "policy_class": policy, "lambda": lambda_schedule, "new_key": new_key,
            "extra_member": extra_member}


@pytest.mark.parametrize("case", ["lr_schedule", "policy_class", "lambda", "new_key", "extra_member"])
def test_live_and_evaluate_refuse_a_zip_that_would_run_a_command(run, tmp_path, case):
    ws, run_dir = run
    marker = tmp_path / "it-ran"
    evil = crafted_run(run_dir, ws, f"20000101-000000-{case.upper().replace('_', '')}", cases(marker)[case])
    try:
        res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", "--model", str(evil), "--fast",
                                       "--input", f"corpora/demo/audio/{HELD_OUT}.wav", "--output", str(tmp_path / "x.wav"),
                                       "--log", str(tmp_path / "x.csv")])
        assert not marker.exists(), "loading the model ran a command"
        assert res.exit_code == 1, res.output
        assert "refused" in res.output and "Traceback" not in res.output, res.output
        assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.csv").exists()

        res = CliRunner().invoke(app, ["--root", str(ws), "evaluate", str(evil)])
        assert not marker.exists(), "loading the model ran a command"
        assert res.exit_code == 1 and "refused" in res.output, res.output
        assert not (evil / "evaluation.json").exists() or (evil / "evaluation.json").read_bytes() == (
            run_dir / "evaluation.json").read_bytes()
    finally:
        shutil.rmtree(evil, ignore_errors=True)


def test_the_zips_rlimpro_writes_pass_and_load(run):
    from stable_baselines3 import PPO

    from rlimpro.modelzip import check_model_zip, load_model

    _, run_dir = run
    decoded = check_model_zip(run_dir / "best_model.zip")
    assert {"policy_class", "observation_space", "action_space", "lr_schedule"} <= set(decoded)
    model = load_model(run_dir / "best_model.zip", PPO)
    assert model.lr_schedule(1.0) > 0 and model.action_space.n == 27
