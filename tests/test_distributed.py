"""Lookups on Ray: a real two-node Ray cluster on loopback (a head and a worker node, 1 CPU each).

The cluster is started with Ray's own CLI (``ray start --block``) as two child processes in their own
sessions; teardown terminates them and checks that no process of either session is left. Every
process uses Ray's token authentication with the token in ~/.ray/auth_token (the one ``ray.init()``
creates for a local instance): the nodes and subprocess drivers get ``RAY_AUTH_MODE=token``; a
driver in this process turns it on by itself because the token file exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.lookup import compute_lookup

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rlimpro[ray]' (make install does)")

runner = CliRunner()
HOST = "127.0.0.2"  # loopback; Ray would rewrite 127.0.0.1 to the machine's routed interface address
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
GRID = ["--synth", "fm", "--subdiv", "10", "--duration", "0.5"]  # 1000 rows, 20 chunks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def session_pids(sid: int) -> list[int]:
    """Live processes whose session id is ``sid`` (every process a ``ray start`` spawned)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _wait_until(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def _ray_start(args: list[str], log: Path) -> subprocess.Popen:
    common = ["--block", "--num-cpus", "1", "--disable-usage-stats", "--dashboard-agent-listen-port", str(_free_port())]
    with open(log, "w") as out:
        return subprocess.Popen(
            [RAY, "start", *args, *common], stdout=out, stderr=subprocess.STDOUT, env=ENV, start_new_session=True
        )


def _alive_nodes(address: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
         "print(sum(n['Alive'] for n in ray.nodes()))"],
        capture_output=True, text=True, env=ENV, timeout=60,
    )
    return int(out.stdout.strip() or 0)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[dict[str, str]]:
    """A head node and one worker node on loopback; yields {"gcs": HOST:PORT, "client": ray://HOST:PORT}."""
    gcs, client = _free_port(), _free_port()
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's unix socket paths must fit 107 bytes
    procs: list[subprocess.Popen] = []
    subprocess.run([RAY, "get-auth-token", "--generate"], check=True, capture_output=True, env=ENV, timeout=60)
    try:
        procs.append(_ray_start(
            ["--head", "--node-ip-address", HOST, "--port", str(gcs), "--ray-client-server-port", str(client),
             "--include-dashboard", "false", "--dashboard-port", str(_free_port()), "--temp-dir", str(temp)],
            temp / "head.log",
        ))

        def gcs_up() -> bool:
            assert procs[0].poll() is None, (temp / "head.log").read_text()
            try:
                socket.create_connection((HOST, gcs), timeout=0.5).close()
                return True
            except OSError:
                return False

        _wait_until(gcs_up, timeout=60, what="the head's GCS did not open its port")
        procs.append(_ray_start(["--address", f"{HOST}:{gcs}"], temp / "worker.log"))
        _wait_until(lambda: _alive_nodes(f"{HOST}:{gcs}") == 2, timeout=90, what="the worker node did not join")
        yield {"gcs": f"{HOST}:{gcs}", "client": f"ray://{HOST}:{client}"}
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        left = {p.pid: session_pids(p.pid) for p in procs}
        try:
            _wait_until(lambda: not any(session_pids(p.pid) for p in procs), timeout=30, what="")
        except TimeoutError:
            for pid in {q for p in procs for q in session_pids(p.pid)}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            pytest.fail(f"Ray processes left behind after teardown: {left}")
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def reference_table(tmp_path_factory) -> bytes:
    """The single-machine table for GRID (local process pool)."""
    root = tmp_path_factory.mktemp("ref")
    res = runner.invoke(app, ["--root", str(root), "lookup", *GRID])
    assert res.exit_code == 0, res.output
    return (root / "synths" / "fm" / "lookup.csv").read_bytes()


def _rlimpro(root: Path, *args: str) -> list[str]:
    """The command line a user types (run as a subprocess: Ray reads RAY_AUTH_MODE when it is imported)."""
    return [sys.executable, "-m", "rlimpro", "--root", str(root), *args]


def test_cluster_lookup_equals_single_machine_table(ray_cluster, reference_table, workspace):
    res = subprocess.run(_rlimpro(workspace, "lookup", *GRID, "--ray", ray_cluster["gcs"]),
                         capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "1000 rows" in res.stdout
    table = workspace / "synths" / "fm" / "lookup.csv"
    assert table.read_bytes() == reference_table
    assert '"subdiv": 10' in (workspace / "synths" / "fm" / "lookup.json").read_text()
    assert not (workspace / "synths" / "fm" / ".lookup-partial").exists()


def test_ray_client_address_gives_the_same_table(ray_cluster, workspace, tmp_path_factory):
    grid = ["--synth", "sine", "--subdiv", "6", "--duration", "0.3"]
    cmd = _rlimpro(workspace, "lookup", *grid, "--ray", ray_cluster["client"])
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    if res.returncode != 0 and "Starting Ray client server failed" in res.stderr:
        # Ray spawns a client server per connection on demand; on a loaded 2-core machine that
        # start-up can exceed Ray's own deadline. One more try; a second failure fails the test.
        res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 0, res.stderr
    single = compute_lookup(synth="sine", workspace=tmp_path_factory.mktemp("single"), subdiv=6, duration=0.3,
                            workers=1, show_progress=False)
    assert (workspace / "synths" / "sine" / "lookup.csv").read_bytes() == single.path.read_bytes()


@pytest.mark.slow
def test_ctrl_c_on_cluster_then_resume_to_identical_table(ray_cluster, reference_table, tmp_path):
    cmd = _rlimpro(tmp_path, "lookup", *GRID, "--ray", ray_cluster["gcs"])
    partial = tmp_path / "synths" / "fm" / ".lookup-partial"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)

    def some_chunks() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"lookup ended before it could be interrupted: {proc.stderr.read()}")
        return partial.is_dir() and len(list(partial.glob("chunk-*.npy"))) >= 3

    _wait_until(some_chunks, timeout=120, what="no chunk was saved")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "resume" in err
    assert not (tmp_path / "synths" / "fm" / "lookup.csv").exists()
    saved = len(list(partial.glob("chunk-*.npy")))
    assert 3 <= saved < 20

    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resumed {saved} saved chunks" in done.stdout
    assert (tmp_path / "synths" / "fm" / "lookup.csv").read_bytes() == reference_table


def test_local_ray_gives_the_same_table(workspace, tmp_path_factory):
    res = runner.invoke(app, ["--root", str(workspace), "lookup", "--synth", "sine", "--subdiv", "5",
                              "--duration", "0.3", "--ray", "local", "--workers", "2"])
    assert res.exit_code == 0, res.output
    single = compute_lookup(synth="sine", workspace=tmp_path_factory.mktemp("single"), subdiv=5, duration=0.3,
                            workers=1, show_progress=False)
    assert (workspace / "synths" / "sine" / "lookup.csv").read_bytes() == single.path.read_bytes()
    assert not ray.is_initialized()  # the private instance was shut down


def test_worker_errors_reach_the_driver_as_rlimpro_errors(workspace):
    """A task's own rlimpro error comes back as itself; any other exception as a SynthError naming the chunk."""
    import functools

    from rlimpro.distributed import ray_session, run_chunks
    from rlimpro.errors import NotFoundError, SynthError
    from rlimpro.synths import load_spec

    got: dict[int, object] = {}
    with ray_session("local", num_cpus=2):  # run_chunks uses this session and leaves it running
        run_chunks(len, {0: "ab", 1: "xyz"}, address="local", on_result=got.__setitem__)
        assert got == {0: 2, 1: 3}
        with pytest.raises(NotFoundError, match="nosuchsynth"):
            run_chunks(functools.partial(load_spec, workspace=workspace), {0: "nosuchsynth"},
                       address="local", on_result=got.__setitem__)
        with pytest.raises(SynthError, match=r"chunk 3 failed on a Ray worker: ValueError: invalid literal"):
            run_chunks(int, {3: "x"}, address="local", on_result=got.__setitem__)
        assert ray.is_initialized()
    assert not ray.is_initialized()
