"""rlimpro.pd.process: finding pd, its version, running it, and never leaving it behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlimpro.errors import PdError
from rlimpro.pd.process import (
    PdProcess,
    check_pd,
    death_signal_prefix,
    find_pd,
    group_alive,
    pd_version,
    run_batch,
)

from .pd_support import pd_processes_in, require_pd

pytestmark = pytest.mark.pd

PRINT_AND_QUIT = """\
#N canvas 0 0 400 300 12;
#X obj 20 20 loadbang;
#X msg 20 50 hello from pd;
#X obj 20 80 print test;
#X msg 150 50 \\; pd dsp 1 \\; pd quit;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 0 0 3 0;
"""

NEVER_QUITS = """\
#N canvas 0 0 400 300 12;
#X obj 20 20 loadbang;
#X msg 20 50 \\; pd dsp 1;
#X obj 20 90 osc~ 440;
#X connect 0 0 1 0;
"""


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_pd_on_path_and_version(monkeypatch):
    require_pd()
    monkeypatch.delenv("RLIMPRO_PD", raising=False)
    pd = find_pd()
    assert pd.is_file() and os.access(pd, os.X_OK)
    version = pd_version(pd)
    assert version[:2] >= (0, 51)
    assert check_pd() == pd


def test_rlimpro_pd_env_selects_the_executable(monkeypatch):
    require_pd()
    real = find_pd()
    monkeypatch.setenv("RLIMPRO_PD", str(real))
    assert find_pd() == real


def test_missing_pd_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("RLIMPRO_PD", str(tmp_path / "nowhere" / "pd"))
    with pytest.raises(PdError, match="apt-get install puredata-core") as err:
        check_pd()
    assert "RLIMPRO_PD=" in str(err.value)


def test_pd_missing_from_path(monkeypatch, tmp_path):
    monkeypatch.delenv("RLIMPRO_PD", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PdError, match="not on PATH.*apt-get install puredata-core"):
        find_pd()


def test_a_program_that_is_not_pd_is_refused(tmp_path):
    fake = _script(tmp_path, "pd", "#!/bin/sh\necho 'usage: something else'\n")
    with pytest.raises(PdError, match="printed no Pd version"):
        check_pd(fake)


def test_too_old_pd_is_refused(tmp_path):
    fake = _script(tmp_path, "pd", "#!/bin/sh\necho 'Pd-0.47.1 (\"\") compiled ...' >&2\n")
    assert pd_version(fake) == (0, 47, 1)
    with pytest.raises(PdError, match=r"Pd 0\.47\.1; rlimpro needs Pd >= 0\.51"):
        check_pd(fake)


def test_version_check_times_out_on_a_hanging_program(tmp_path):
    fake = _script(tmp_path, "pd", "#!/bin/sh\nsleep 30\n")
    t0 = time.monotonic()
    with pytest.raises(PdError, match="did not answer"):
        pd_version(fake, timeout=0.5)
    assert time.monotonic() - t0 < 10


def test_run_batch_captures_stderr_and_exits(tmp_path):
    require_pd()
    patch = tmp_path / "hello.pd"
    patch.write_text(PRINT_AND_QUIT)
    lines = run_batch(patch, sample_rate=44100, what="in a test", stall_timeout=10, progress_prefix="test:")
    assert "test: hello from pd" in lines


def test_hung_batch_is_killed_with_a_clear_error(tmp_path):
    require_pd()
    patch = tmp_path / "forever.pd"
    patch.write_text(NEVER_QUITS)
    t0 = time.monotonic()
    with pytest.raises(PdError, match=r"Pd hung in a test: no progress for 1\.0 s, so it was killed"):
        run_batch(patch, sample_rate=44100, what="in a test", stall_timeout=1.0)
    assert time.monotonic() - t0 < 10
    assert pd_processes_in(tmp_path) == []


def test_stop_kills_the_whole_process_group(tmp_path):
    require_pd()
    patch = tmp_path / "live.pd"
    patch.write_text(NEVER_QUITS)
    proc = PdProcess(["-noprefs", "-nogui", "-nosound", "-nrt", "-stderr", patch.name], cwd=tmp_path, what="test")
    try:
        time.sleep(0.3)
        assert proc.alive and group_alive(proc.pgid)
        assert os.getpgid(proc.pid) == proc.pid  # its own group, so terminal Ctrl-C does not reach it
    finally:
        proc.stop()
    assert not proc.alive
    assert not group_alive(proc.pgid)
    proc.stop()  # idempotent


def test_exit_code_and_tail_in_errors(tmp_path):
    require_pd()
    proc = PdProcess(["-noprefs", "-nogui", "-nosound", "-stderr", "-no-such-flag"], cwd=tmp_path, what="test")
    rc = proc.wait(timeout=10)
    assert rc != 0
    assert "exited with code" in proc.describe_exit()
    assert proc.tail().strip() != ""
    proc.stop()


def _child(tmp_path: Path, *, setpriv: bool = True) -> subprocess.Popen:
    """A Python process that renders with a hanging synth (long timeout), its temp files under tmp_path.

    ``setpriv=False``: Pd is started the other way, fork + preexec_fn (where util-linux has no setpriv).
    """
    code = textwrap.dedent(
        f"""
        import sys, tempfile
        tempfile.tempdir = {str(tmp_path)!r}
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from tests.pd_support import fixture_spec
        import rlimpro.pd.process as process
        if not {setpriv!r}:
            process.death_signal_prefix = lambda: ()
        from rlimpro.pd.engine import PdEngine
        print("started", flush=True)
        PdEngine(fixture_spec("hang", 2), timeout=120).render(np.zeros((2, 2)), duration=0.5, sample_rate=44100)
        """
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_pd(tmp_path: Path, child: subprocess.Popen) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = pd_processes_in(tmp_path)
        if pids:
            return pids
        if child.poll() is not None:
            pytest.fail(f"child exited early: {child.stderr.read()}")
        time.sleep(0.05)
    child.kill()
    pytest.fail("Pd never started in the child")


def test_pd_starts_through_setpriv_on_linux():
    if sys.platform != "linux" or shutil.which("setpriv") is None:
        pytest.skip("no setpriv here (util-linux, Linux): Pd starts through fork + preexec_fn instead")
    prefix = death_signal_prefix()
    assert prefix[1:] == ("--pdeathsig", "TERM") and Path(prefix[0]).name == "setpriv", prefix


@pytest.mark.parametrize("setpriv", [True, False], ids=["setpriv", "fork+preexec"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_pd_left_when_python_is_interrupted_or_killed(tmp_path, sig, setpriv):
    """Ctrl-C (SIGINT), SIGTERM and SIGKILL of the Python process that runs Pd leave no Pd behind,
    whichever way Pd was started."""
    require_pd()
    child = _child(tmp_path, setpriv=setpriv)
    try:
        pids = _wait_for_pd(tmp_path, child)
        child.send_signal(sig)
        child.wait(timeout=20)
        assert child.returncode != 0
        deadline = time.monotonic() + 10
        while pd_processes_in(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pd_processes_in(tmp_path) == [], f"Pd {pids} outlived its parent after {sig.name}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
