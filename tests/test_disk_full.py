"""A full disk is one line naming the path and the cause; what was complete stays complete.

Each case runs the real ``rlimpro`` command in a subprocess with its outputs on a small tmpfs that is
filled up (root mounts it; CI runs as root). It checks: exit status 1, one ``error:`` line naming a
path on the full disk and "No space left on device", no traceback, no partial file left, the complete
work kept (chunks, tables, checkpoints, the session log up to its last full row), and that running
the command again once there is room finishes the job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

ENOSPC = "No space left on device"


@pytest.fixture
def disk(tmp_path):
    """``mount(size)`` -> a fresh tmpfs folder of that size; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the disk-full cases mount a tmpfs, which needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}): the disk-full cases are not run")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def fill(point: Path, *, leave: int) -> Path:
    """Take all but ``leave`` bytes of the disk at ``point`` with a filler file; returns it."""
    st = os.statvfs(point)
    free = st.f_bavail * st.f_frsize
    filler = point / "filler"
    with open(filler, "wb") as fh:
        if free > leave:
            os.posix_fallocate(fh.fileno(), 0, free - leave)
    return filler


def rlimpro(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlimpro", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "300"})


def check_failed_cleanly(res: subprocess.CompletedProcess, point: Path) -> str:
    """Exit 1, one error line naming a path on the disk and ENOSPC, no traceback, no partial files."""
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert str(point) in errors[0] and ENOSPC in errors[0], errors[0]
    partial = [p for p in point.rglob(".*") if p.suffix in (".tmp", ".partial")]
    assert partial == [], f"partial files left: {partial}"
    return errors[0]


def test_lookup_force_on_a_full_disk(disk, tmp_path):
    point = disk("4M")
    ws = point / "ws"
    args = ("--root", str(ws), "lookup", "--synth", "fm", "--subdiv", "12", "--duration", "0.2", "--workers", "1")
    assert rlimpro(*args).returncode == 0
    table = ws / "synths" / "fm" / "lookup.csv"
    before = table.read_bytes()
    filler = fill(point, leave=150_000)
    line = check_failed_cleanly(rlimpro(*args, "--force"), point)
    assert "chunks are saved in" in line and "run the same command to resume" in line, line
    assert table.read_bytes() == before  # the complete table is still there
    partial = ws / "synths" / "fm" / ".lookup-partial"
    saved = sorted(partial.glob("chunk-*.npy"))
    assert saved, "no chunk was finished before the disk was full"
    for chunk in saved:
        assert np.load(chunk).shape[1] > 0  # every saved chunk is whole
    filler.unlink()
    res = rlimpro(*args, "--force")  # the same command, once there is room: it resumes
    assert res.returncode == 0 and f"resumed {len(saved)} saved chunks" in " ".join(res.stdout.split()), res.stdout
    assert table.read_bytes() == before


def test_analyze_corpus_on_a_full_disk(disk):
    point = disk("12M")
    ws = point / "ws"
    assert rlimpro("--root", str(ws), "make-demo-corpus").returncode == 0
    filler = fill(point, leave=700_000)
    res = rlimpro("--root", str(ws), "analyze-corpus", "--corpus", "demo", "-j", "1")
    line = check_failed_cleanly(res, point)
    assert "files finished are kept" in line, line
    features = ws / "corpora" / "demo" / "features"
    manifest = json.loads((features / "analysis.json").read_text())
    done = manifest["files"]
    assert 0 < len(done) < 8, done
    for stem, entry in done.items():  # every table the sidecar lists is complete
        assert len(pd.read_csv(features / f"{stem}.csv")) == entry["frames"]
    assert sorted(p.stem for p in features.glob("*.csv")) == sorted(done)
    filler.unlink()
    res = rlimpro("--root", str(ws), "analyze-corpus", "--corpus", "demo", "-j", "1")
    assert res.returncode == 0, res.stderr
    assert len(json.loads((features / "analysis.json").read_text())["files"]) == 8


TRAIN = """\
synth: fm
corpus: demo
features: [mfcc, specshape]
algorithm: PPO
action_type: discrete
timesteps: 200000
n_envs: 1
max_episode_steps: 128
eval_freq: 512
checkpoint_freq: 512
net_arch: [32, 32]
algorithm_kwargs: {n_steps: 256, batch_size: 64}
"""


def test_train_on_a_full_disk(disk):
    from rlimpro.modelzip import check_model_zip

    point = disk("16M")
    ws = point / "ws"
    for args in (("lookup", "--synth", "fm", "--subdiv", "6", "--duration", "0.5", "-j", "1"),
                 ("analyze-corpus", "--corpus", "demo", "-j", "1")):
        assert rlimpro("--root", str(ws), *args).returncode == 0
    (ws / "train.yaml").write_text(TRAIN)
    fill(point, leave=900_000)
    res = rlimpro("--root", str(ws), "train", str(ws / "train.yaml"), timeout=900)
    line = check_failed_cleanly(res, point)
    assert "training stopped (kept:" in line and "run.json says status: failed" in line, line
    (run,) = (ws / "synths" / "fm" / "models").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and ENOSPC in info["error"]
    zips = sorted(run.rglob("*.zip"))
    assert zips, "no model was kept"
    for z in zips:  # every model file is whole: it opens and passes the model check
        with zipfile.ZipFile(z) as zf:
            assert zf.testzip() is None
        check_model_zip(z)
    ev = rlimpro("--root", str(ws), "evaluate", "latest", "--synth", "fm")
    assert f"run {run.name} failed" in ev.stderr, ev.stderr  # evaluate says the run never finished


def test_live_on_a_full_disk_keeps_the_log_up_to_its_last_full_row(disk, tmp_path_factory):
    from .live_support import trained_run

    ws, _ = trained_run(tmp_path_factory)
    point = disk("6M")
    long = tmp_path_factory.mktemp("long") / "long.wav"
    parts = [sf.read(p)[0] for p in sorted((ws / "corpora" / "demo" / "audio").glob("*.wav"))]
    sf.write(long, np.concatenate(parts), 44100, subtype="PCM_16")
    fill(point, leave=2_000_000)  # room for a few seconds of audio and log: the disk fills up mid-session
    log, audio = point / "take.csv", point / "take.wav"
    res = rlimpro("--root", str(ws), "live", "--synth", "fm", "--input", str(long), "--fast",
                  "--output", str(audio), "--log", str(log))
    check_failed_cleanly(res, point)
    assert log.exists() and log.with_suffix(".json").exists(), "the session log was lost"
    meta = json.loads(log.with_suffix(".json").read_text())
    table = pd.read_csv(log)
    assert len(table) == meta["rows"] > 0
    assert (np.diff(table["time"].to_numpy()) > 0).all()
    assert meta["stopped_by"].startswith("error:") and ENOSPC in meta["stopped_by"]
    if audio.exists():  # kept only when complete: as many hops as the log has rows
        assert sf.info(audio).frames == meta["rows"] * 512
    shutil.rmtree(point / "filler", ignore_errors=True)
