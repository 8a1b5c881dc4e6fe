"""Bad input around Pure Data: synths that do not load, are silent or hang; pd missing; odd paths."""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.errors import ParameterError, PdError
from rlimpro.pd.engine import PdEngine
from rlimpro.synths import load_spec

from .pd_support import fixture_spec, install_fixture, pd_processes_in, require_pd

pytestmark = pytest.mark.pd


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Generated patches (and so the cwd of every Pd we start) under tmp_path/pdtmp."""
    folder = tmp_path / "pdtmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def lookup(ws, *args):
    return CliRunner().invoke(app, ["--root", str(ws), "lookup", *args])


def assert_failed_cleanly(res, ws, name, *needles):
    assert res.exit_code == 1, res.output
    for needle in needles:
        assert needle in res.output, res.output
    folder = ws / "synths" / name
    assert not (folder / "lookup.csv").exists() and not (folder / "lookup.json").exists()


@pytest.mark.parametrize(
    "fixture,needles",
    [
        ("broken", ["not a valid Pd patch", "error: this: no such object"]),
        ("missing_object", ["could not be created", "zexy_noise_that_does_not_exist~", "... couldn't create"]),
        ("no_outlet", ["no signal outlet", "connection failed"]),
    ],
)
def test_synth_that_does_not_load_shows_pds_own_error(tmp_path, private_tmp, fixture, needles):
    require_pd()
    install_fixture(tmp_path, fixture)
    res = lookup(tmp_path, "--synth", fixture, "--params", "2", "--subdiv", "3")
    assert_failed_cleanly(res, tmp_path, fixture, f"synth '{fixture}'", *needles)
    assert pd_processes_in(private_tmp) == []


def test_silent_synth_is_warned_and_the_table_is_finite(tmp_path, private_tmp):
    require_pd()
    install_fixture(tmp_path, "silent")
    res = lookup(tmp_path, "--synth", "silent", "--params", "2", "--subdiv", "3")
    assert res.exit_code == 0, res.output
    assert "9 of 9 grid points are silent" in res.output
    assert "produced no sound at any grid point" in res.output
    table = pd.read_csv(tmp_path / "synths" / "silent" / "lookup.csv")
    assert len(table) == 9 and np.isfinite(table.to_numpy()).all()
    assert (table["loudness-dBFS"] == -120).all()


def test_pd_missing_gives_the_install_hint(tmp_path, monkeypatch):
    install_fixture(tmp_path, "proto_sin", as_name="mine")
    monkeypatch.setenv("RLIMPRO_PD", str(tmp_path / "no" / "pd"))
    res = lookup(tmp_path, "--synth", "mine", "--params", "2", "--subdiv", "3")
    assert_failed_cleanly(res, tmp_path, "mine", "apt-get install puredata-core", "RLIMPRO_PD=")


def test_pd_missing_for_a_builtin_pd_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("RLIMPRO_PD", str(tmp_path / "no" / "pd"))
    res = lookup(tmp_path, "--synth", "sine", "--engine", "pd", "--subdiv", "3")
    assert_failed_cleanly(res, tmp_path, "sine", "apt-get install puredata-core")


def test_hanging_synth_times_out_is_killed_and_reported(tmp_path, private_tmp, monkeypatch):
    require_pd()
    install_fixture(tmp_path, "hang")
    monkeypatch.setenv("RLIMPRO_PD_TIMEOUT", "1.5")
    t0 = time.monotonic()
    res = lookup(tmp_path, "--synth", "hang", "--params", "2", "--subdiv", "3")
    assert time.monotonic() - t0 < 20
    assert_failed_cleanly(res, tmp_path, "hang", "Pd hung", "no progress for 1.5 s", "killed", "RLIMPRO_PD_TIMEOUT")
    assert pd_processes_in(private_tmp) == []


def test_bad_timeout_setting(tmp_path, monkeypatch):
    require_pd()
    monkeypatch.setenv("RLIMPRO_PD_TIMEOUT", "soon")
    with pytest.raises(ParameterError, match="RLIMPRO_PD_TIMEOUT='soon' is not a number"):
        PdEngine(fixture_spec("proto_sin", 2)).render(np.zeros((1, 2)), duration=0.1, sample_rate=44100)


def test_workspace_path_with_spaces_works(tmp_path, private_tmp):
    """Pd symbols cannot hold spaces: the synth folder is reached through a symlink."""
    require_pd()
    ws = tmp_path / "my work space; with $pecial chars"
    install_fixture(ws, "proto_sin", as_name="mine")
    res = lookup(ws, "--synth", "mine", "--params", "2", "--subdiv", "3")
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(ws / "synths" / "mine" / "lookup.csv")) == 9


def test_patch_file_name_pd_cannot_load(tmp_path):
    require_pd()
    folder = tmp_path / "synths" / "odd"
    folder.mkdir(parents=True)
    (folder / "my synth.pd").write_text((fixture_spec("proto_sin", 2).pd_patch()).read_text())
    (folder / "synth.yaml").write_text("engine: pd\npd: my synth.pd\nparams:\n  - {name: a}\n  - {name: b}\n")
    with pytest.raises(PdError, match="rename it without spaces"):
        PdEngine(load_spec("odd", workspace=tmp_path))


def test_wrong_parameter_count_for_a_pd_synth(tmp_path):
    require_pd()
    res = lookup(tmp_path, "--synth", "fm", "--engine", "pd", "--params", "2", "--subdiv", "3")
    assert_failed_cleanly(res, tmp_path, "fm", "--params 2")
