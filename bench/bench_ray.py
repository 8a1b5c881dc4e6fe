"""Lookup on Ray: throughput through a local Ray instance beside the local process pool (same grid).

Baseline measured in the same run: ``compute_lookup`` with the process pool on every core. Ray is
measured twice: end to end (``--ray local``, Ray's start-up and shutdown included) and with the
instance already running (the steady state a cluster is in). Their ratio to the pool is Ray's
overhead on one machine.

Then a written estimate for the large case of issue #10: 5 parameters at subdiv 20 (3.2 million
points, 1 s each) on a 16-node cluster, from the per-point cost of the 5-parameter granular synth
measured here on one core, Ray's measured per-point overhead, and the driver's measured cost of
saving chunks and writing the table.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rlimpro.descriptors import AnalysisSettings
from rlimpro.lookup import CHUNK_ROWS, compute_lookup, grid, render_and_describe
from rlimpro.synths import load_spec

SYNTH, SUBDIV, DURATION = "fm", 10, 1.0  # the grid of bench_lookup: 1000 points x 1 s
BIG_PARAMS, BIG_SUBDIV = 5, 20  # issue #10's large case: 20^5 = 3.2 million points
NODES, CORES_PER_NODE = 16, 32  # assumed cluster: 16 nodes with 32 cores each (e.g. 2 x 16-core CPUs)
SAMPLE = 60  # grid points of the 5-parameter case timed on one core


def _timed_lookup(ws: Path, **kwargs) -> float:
    t0 = time.perf_counter()
    res = compute_lookup(synth=SYNTH, workspace=ws, subdiv=SUBDIV, duration=DURATION, show_progress=False, **kwargs)
    seconds = time.perf_counter() - t0
    assert not res.skipped
    return seconds


def _per_point_seconds_5d() -> float:
    """Core-seconds per point of granular with 5 parameters, over points spread across its subdiv-20 grid."""
    from threadpoolctl import threadpool_limits

    spec = load_spec("granular", workspace=Path.cwd(), n_params=BIG_PARAMS)
    rows = np.linspace(0, BIG_SUBDIV**BIG_PARAMS - 1, SAMPLE).astype(int)
    points = np.stack(np.unravel_index(rows, (BIG_SUBDIV,) * BIG_PARAMS), axis=1) / (BIG_SUBDIV - 1)
    settings = AnalysisSettings()
    with threadpool_limits(1):  # one core, as a Ray task gets
        render_and_describe(spec, points[:2], duration=DURATION, settings=settings)  # warm-up: filterbanks
        t0 = time.perf_counter()
        for i in range(0, SAMPLE, CHUNK_ROWS):
            render_and_describe(spec, points[i : i + CHUNK_ROWS], duration=DURATION, settings=settings)
        return (time.perf_counter() - t0) / SAMPLE


def _driver_costs(ws: Path) -> tuple[float, float]:
    """The driver's serial work: (seconds to save one chunk, seconds per row to assemble and write the table).

    Timed on the code paths compute_lookup uses (atomic ``np.save`` per 50-row chunk as it arrives;
    ``np.load`` + concat + ``write_table`` with 5 parameter columns at the end) for 20 000 rows of
    full-precision floats.
    """
    import pandas as pd

    from rlimpro.descriptors.registry import DESCRIPTORS
    from rlimpro.lookup import param_columns
    from rlimpro.tables import atomic_write, write_table

    n = 20_000
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, len(DESCRIPTORS))) * 100
    params = grid(n_params=BIG_PARAMS, subdiv=8)[:n]
    files = [ws / f"chunk-{i:06d}.npy" for i in range(-(-n // CHUNK_ROWS))]
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        chunk = values[i * CHUNK_ROWS : (i + 1) * CHUNK_ROWS]
        atomic_write(f, lambda tmp, chunk=chunk: np.save(open(tmp, "wb"), chunk))
    t1 = time.perf_counter()
    loaded = np.concatenate([np.load(f) for f in files])
    frame = pd.concat(
        [pd.DataFrame(params, columns=param_columns(BIG_PARAMS)), pd.DataFrame(loaded, columns=list(DESCRIPTORS))],
        axis=1,
    )
    write_table(ws / "lookup.csv", frame, {"bench": True})
    return (t1 - t0) / len(files), (time.perf_counter() - t1) / n


def _dispatch_seconds_per_chunk(workers: int) -> float:
    """Seconds of the driver loop per chunk through Ray when the task itself does nothing (np.zeros_like)."""
    from rlimpro.distributed import run_chunks

    n = 400
    chunks = {i: np.zeros((CHUNK_ROWS, BIG_PARAMS)) for i in range(n)}
    run_chunks(np.zeros_like, dict(list(chunks.items())[:20]), address="local", on_result=lambda i, v: None)  # warm
    t0 = time.perf_counter()
    run_chunks(np.zeros_like, chunks, address="local", on_result=lambda i, v: None, num_cpus=workers)
    return (time.perf_counter() - t0) / n


def _fmt_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run() -> list[str]:
    from rlimpro.distributed import ray_session

    workers = os.cpu_count() or 1
    rows = SUBDIV**3
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        pool_s = _timed_lookup(ws / "pool", workers=workers)
        ray_e2e_s = _timed_lookup(ws / "ray", workers=workers, ray_address="local")
        t0 = time.perf_counter()
        with ray_session("local", num_cpus=workers):
            startup_s = time.perf_counter() - t0
            ray_steady_s = _timed_lookup(ws / "ray-warm", workers=workers, ray_address="local")
            dispatch_s = _dispatch_seconds_per_chunk(workers)
            t1 = time.perf_counter()
        shutdown_s = time.perf_counter() - t1
        table = Path("synths", SYNTH, "lookup.csv")
        same = all((ws / "pool" / table).read_bytes() == (ws / d / table).read_bytes() for d in ("ray", "ray-warm"))
        (ws / "driver").mkdir()
        save_s, assemble_per_row = _driver_costs(ws / "driver")
    per_point_5d = _per_point_seconds_5d()

    pool_rate, ray_e2e_rate, ray_steady_rate = rows / pool_s, rows / ray_e2e_s, rows / ray_steady_s
    big = BIG_SUBDIV**BIG_PARAMS
    n_chunks = -(-big // CHUNK_ROWS)
    cores = NODES * CORES_PER_NODE
    compute_s = big * per_point_5d / cores  # the cluster's share
    driver_loop_s = n_chunks * (dispatch_s + save_s)  # the driver's serial share while the cluster computes
    assemble_s = big * assemble_per_row
    total = startup_s + max(compute_s, driver_loop_s) + assemble_s
    bound = "the cluster's CPUs" if compute_s >= driver_loop_s else "the driver's loop"
    return [
        f"lookup {SYNTH} subdiv {SUBDIV} ({rows} points x {DURATION:g} s, {workers} CPUs); "
        f"Ray tables identical to the pool's: {same}",
        f"process pool (baseline):        {pool_rate:6.0f} points/s",
        f"Ray local, start-up included:   {ray_e2e_rate:6.0f} points/s   ratio to pool {ray_e2e_rate / pool_rate:.2f}",
        f"Ray local, instance running:    {ray_steady_rate:6.0f} points/s   ratio to pool {ray_steady_rate / pool_rate:.2f}",
        f"Ray start-up {startup_s:.1f} s, shutdown {shutdown_s:.1f} s; one empty {CHUNK_ROWS}-row task through the "
        f"driver loop {dispatch_s * 1e3:.1f} ms, beside {pool_s * workers / rows * CHUNK_ROWS * 1e3:.0f} core-ms "
        f"of work in an fm chunk",
        f"measured: granular with {BIG_PARAMS} parameters costs {per_point_5d * 1e3:.1f} core-ms per 1-s point "
        f"(one core, {SAMPLE} points across its subdiv-{BIG_SUBDIV} grid); the driver saves a chunk in "
        f"{save_s * 1e3:.2f} ms and assembles + writes the table at {1 / assemble_per_row:,.0f} rows/s",
        f"estimate: {big:,} points ({BIG_PARAMS} parameters at subdiv {BIG_SUBDIV}, 1 s each) on {NODES} nodes x "
        f"{CORES_PER_NODE} cores (assumed) = {cores} Ray CPUs: {n_chunks:,} tasks, compute "
        f"{_fmt_duration(compute_s)} on the cluster vs {_fmt_duration(driver_loop_s)} of driver loop "
        f"(bound by {bound}), + table writing {_fmt_duration(assemble_s)} = about {_fmt_duration(total)}",
        f"  baseline for that estimate: one core of this machine {_fmt_duration(big * per_point_5d)}, "
        f"this machine's {workers} cores with the pool {_fmt_duration(big * per_point_5d / workers)}; "
        "assumes cluster cores as fast as this machine's and one Ray CPU per core",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
