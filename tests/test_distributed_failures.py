"""Malformed or impossible ``--ray`` requests: one clear line, exit 1, nothing written."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.errors import ParameterError
from rlimpro.lookup import compute_lookup

runner = CliRunner()


def _closed_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _nothing_written(root) -> bool:
    return not (root / "synths").exists()


def test_without_ray_installed_the_cli_gives_the_install_hint(workspace):
    """Simulate a machine without Ray: ``sys.modules['ray'] = None`` makes ``import ray`` fail."""
    code = (
        "import sys; sys.modules['ray'] = None; "
        "from rlimpro.cli import main; "
        f"sys.argv = ['rlimpro', '--root', {str(workspace)!r}, 'lookup', '--synth', 'sine', '--subdiv', '3', "
        "'--ray', 'local']; main()"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "--ray needs Ray, which is not installed: pip install 'rlimpro[ray]'" in res.stderr
    assert "Traceback" not in res.stderr
    assert _nothing_written(workspace)
    # the laptop case is unchanged without Ray
    code_ok = code.replace(", '--ray', 'local'", "")
    ok = subprocess.run([sys.executable, "-c", code_ok], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (workspace / "synths" / "sine" / "lookup.csv").is_file()


@pytest.mark.parametrize("address", ["nonsense", "10.0.0.5", "host:notaport", "host:99999", ":6379"])
def test_malformed_address(workspace, address):
    res = runner.invoke(app, ["--root", str(workspace), "lookup", "--synth", "sine", "--subdiv", "3", "--ray", address])
    assert res.exit_code == 1
    assert f"--ray {address}: expected 'local'" in res.output
    assert _nothing_written(workspace)


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_no_cluster_at_address(workspace, scheme):
    address = f"{scheme}127.0.0.1:{_closed_loopback_port()}"
    res = runner.invoke(app, ["--root", str(workspace), "lookup", "--synth", "sine", "--subdiv", "3", "--ray", address])
    assert res.exit_code == 1
    assert f"--ray {address}: no Ray cluster answers there" in res.output
    assert "ray start --head" in res.output
    assert _nothing_written(workspace)


def test_core_function_raises_parameter_error(workspace):
    with pytest.raises(ParameterError, match="no Ray cluster answers"):
        compute_lookup(synth="sine", workspace=workspace, subdiv=3, ray_address=f"127.0.0.1:{_closed_loopback_port()}")
