"""The app as a whole: help, version, root resolution."""

import subprocess
import sys

from typer.testing import CliRunner

from rlimpro import __version__
from rlimpro.cli import app

runner = CliRunner()


def test_help_lists_stages():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    assert "lookup" in res.output


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


def test_help_does_not_import_heavy_modules():
    code = "import sys; from rlimpro.cli import app; print(sorted(m for m in ('torch', 'stable_baselines3', 'librosa', 'sklearn', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RLIMPRO_ROOT", str(tmp_path))
    res = runner.invoke(app, ["lookup", "--synth", "sine", "--subdiv", "2", "--duration", "0.1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "synths" / "sine" / "lookup.csv").is_file()


def test_help_shows_flags_as_flags_and_no_python_type_names():
    """Every command's --help: a flag takes no value (no ``<bool>``) and no Python type name shows (``list[``)."""
    import typer.main

    from rlimpro.cli import app

    commands = sorted(typer.main.get_command(app).commands)
    assert {"lookup", "train", "evaluate", "live", "sweep"} <= set(commands)
    for name in commands:
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, (name, res.output)
        assert "<bool>" not in res.output and "list[" not in res.output, (name, res.output)
