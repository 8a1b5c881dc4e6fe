"""Bad input to the lookup stage: one-line errors, non-zero exit, no partial table."""

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app

runner = CliRunner()


def run(workspace, *args):
    return runner.invoke(app, ["--root", str(workspace), "lookup", *args])


def assert_clean_failure(res, workspace, *needles):
    assert res.exit_code != 0
    err = res.output
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    for needle in needles:
        assert needle in err, err
    assert not list(workspace.rglob("lookup.csv"))
    assert not list(workspace.rglob("*.tmp"))


def test_wrong_param_count(workspace):
    assert_clean_failure(run(workspace, "--synth", "fm", "--params", "2", "--subdiv", "3"), workspace, "--params 2", "fm", "3 parameters")


def test_subdiv_one(workspace):
    assert_clean_failure(run(workspace, "--synth", "fm", "--subdiv", "1"), workspace, "--subdiv 1", "at least 2")


def test_unknown_synth_with_suggestion(workspace):
    assert_clean_failure(run(workspace, "--synth", "granualr", "--subdiv", "3"), workspace, "unknown synth 'granualr'", "did you mean 'granular'")


def test_unwritable_output_folder(workspace):
    (workspace / "synths").write_text("a file where the synths folder should be")
    assert_clean_failure(run(workspace, "--synth", "sine", "--subdiv", "3"), workspace, "cannot create output folder")


@pytest.mark.parametrize("args,needle", [
    (["--duration", "0.01"], "--duration 0.01"),
    (["--workers", "0"], "--workers 0"),
    (["--engine", "csund"], "did you mean 'csound'"),
    (["--engine", "midi"], "--engine midi: synth 'sine' has no midi source"),
])
def test_bad_options(workspace, args, needle):
    assert_clean_failure(run(workspace, "--synth", "sine", "--subdiv", "3", *args), workspace, needle)


def test_bare_pd_synth_needs_params(workspace):
    d = workspace / "synths" / "mine"
    d.mkdir(parents=True)
    (d / "synth.pd").write_text("#N canvas 0 0 450 300 12;\n")
    res = run(workspace, "--synth", "mine", "--subdiv", "3")
    assert res.exit_code != 0 and "--params N" in res.output
