"""Malformed sweep files and impossible sweeps: one clear error naming the file and key, nothing created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.errors import ConfigError, MismatchError, NotFoundError
from rlimpro.sweep import MAX_TRIALS, run_sweep
from tests.learning_data import tiny_workspace

runner = CliRunner()
GOOD = {
    "base": "tiny.yaml",
    "timesteps": 128,
    "search": {"reward_type": {"grid": ["linear", "cubic"]}},
}


@pytest.fixture
def ws(tmp_path_factory, tmp_path) -> Path:
    return tiny_workspace(tmp_path_factory, tmp_path / "ws")


def _write(ws: Path, data: dict, name: str = "s.yaml") -> Path:
    path = ws / "configs" / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _cli(ws: Path, path: Path):
    return runner.invoke(app, ["--root", str(ws), "sweep", str(path)])


@pytest.mark.parametrize("change,message", [
    ({"serach": {}}, "[serach] unknown key"),
    ({"search": {}}, "[search] Dictionary should have at least 1 item"),
    ({"search": {"reward_typ": {"grid": ["linear"]}}}, "[search.reward_typ] 'reward_typ' is not a training-config field; did you mean 'reward_type'?"),
    ({"search": {"step_size": {"grid": [0.1], "uniform": [0.1, 0.2]}}}, "give exactly one of grid, choice, uniform, loguniform, randint (got grid, uniform)"),
    ({"search": {"step_size": {"uniform": [0.3, 0.1]}}}, "uniform: low 0.3 must be below high 0.1"),
    ({"search": {"algorithm_kwargs.learning_rate": {"loguniform": [0, 0.1]}}}, "loguniform: low 0.0 must be > 0"),
    ({"search": {"step_size": {"grid": [0.1, 2.0]}}}, "[search.step_size.grid.1] 2.0 gives an invalid training config: [step_size]"),
    ({"search": {"algorithm": {"grid": ["PPO", "SAC"]}}}, "[search.algorithm.grid.1] 'SAC' gives an invalid training config"),
    ({"search": {"algorithm": {"grid": ["PPO", "A2C"]}}}, "[algorithm_kwargs.batch_size] A2C has no argument 'batch_size'"),
    ({"search": {"synth": {"grid": ["fm"]}}}, "[search.synth] a sweep trains one synth on one corpus"),
    ({"search": {"step_size.x": {"grid": [1]}}}, "[search.step_size.x] only mapping fields take a sub-key"),
    ({"search": {"variant": {"grid": ["PPO"]}}}, "[search.variant.grid.0] a variant is a mapping of training-config keys"),
    ({"search": {"variant": {"grid": [{"reward_type": "cubic"}]}, "reward_type": {"grid": ["linear"]}}},
     "[search.variant.grid.0.reward_type] is also searched on its own"),
    ({"metric": "rmse.random"}, "[metric]"),
    ({"name": "../evil"}, "[name] '../evil' must be letters"),
    ({"base": "missing.yaml"}, "[base] training config"),
    ({"num_samples": MAX_TRIALS, "search": {"step_size": {"grid": [0.1, 0.2]}}}, f"[num_samples] the sweep has 2000 trials, more than {MAX_TRIALS}"),
])
def test_bad_sweep_file_names_the_key_and_creates_nothing(ws, change, message):
    path = _write(ws, {**GOOD, **change})
    res = _cli(ws, path)
    assert res.exit_code == 1, res.output
    assert message in res.output
    assert str(path) in res.output
    assert not (ws / "sweeps").exists()
    assert not (ws / "synths" / "sine" / "models").exists()


def test_sweep_file_missing_or_not_yaml(ws):
    res = _cli(ws, ws / "configs" / "nope.yaml")
    assert res.exit_code == 1 and "does not exist" in res.output
    bad = ws / "configs" / "bad.yaml"
    bad.write_text("search: [unclosed\n")
    res = _cli(ws, bad)
    assert res.exit_code == 1 and "not valid YAML" in res.output


def test_base_without_held_out_files_is_refused(ws):
    base = yaml.safe_load((ws / "configs" / "tiny.yaml").read_text())
    base.pop("held_out_files")
    base["held_out_fraction"] = 0.0
    path = _write(ws, {**GOOD, "base": base})
    with pytest.raises(ConfigError, match=r"\[base\] trials are ranked on held-out files"):
        run_sweep(sweep_path=path, workspace=ws, show_progress=False)
    assert not (ws / "sweeps").exists()


def test_missing_lookup_table_is_refused_before_ray_starts(ws):
    path = _write(ws, {**GOOD, "base": {**yaml.safe_load((ws / "configs" / "tiny.yaml").read_text()), "synth": "fm"}})
    with pytest.raises((NotFoundError, ConfigError, MismatchError), match="lookup"):
        run_sweep(sweep_path=path, workspace=ws, show_progress=False)
    assert not (ws / "sweeps").exists()


def test_changed_spec_under_the_same_name_is_refused(ws):
    path = _write(ws, GOOD, name="same.yaml")
    from rlimpro.sweep import _prepare_folder, load_sweep

    spec, base, trials = load_sweep(path)
    folder = ws / "sweeps" / "same"
    _prepare_folder(folder, {"spec": spec.model_dump(mode="json"), "base": base, "trials": trials}, source=str(path))
    changed = _write(ws, {**GOOD, "timesteps": 64}, name="same.yaml")
    res = _cli(ws, changed)
    assert res.exit_code == 1
    assert "holds a sweep planned from a different spec" in res.output and "set another name" in res.output


def test_without_ray_installed_the_cli_gives_the_install_hint(ws):
    path = _write(ws, GOOD)
    code = (
        "import sys; sys.modules['ray'] = None; from rlimpro.cli import main; "
        f"sys.argv = ['rlimpro', '--root', {str(ws)!r}, 'sweep', {str(path)!r}]; main()"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "rlimpro sweep needs Ray Tune, which is not installed: pip install 'rlimpro[ray]'" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (ws / "sweeps").exists()


def test_a_second_command_on_the_same_sweep_is_refused_naming_the_first(ws):
    """Two commands running one sweep would train its trials twice: the second is refused at once."""
    from rlimpro.locks import output_lock

    path = _write(ws, GOOD, name="busy.yaml")
    folder = ws / "sweeps" / "busy"
    folder.mkdir(parents=True)
    with output_lock(folder / "plan.json", what="sweep busy"):  # what the first command holds while it runs
        res = _cli(ws, path)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"sweep busy ({folder}) is being written by process" in " ".join(res.output.split()), res.output
    assert not (folder / "trials").exists()
