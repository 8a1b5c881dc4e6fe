"""Pure Data lookup throughput: sine at subdiv 20 (400 grid points, 1 s each, every descriptor).

Baseline measured in the same run: one Pd process per grid point (the prototype's way, but each in
batch mode rather than recorded in real time), with the same analysis, the same worker count and the
same worker set-up as the lookup's pool (one BLAS thread per worker: without it the baseline's
workers fight over the two cores and the ratio looks better than it is).

Also shown: rendering alone (many rows per Pd process vs one Pd process per row, one core), the
analysis alone, and what they imply. A row costs ``r`` ms to render in a running Pd and ``a`` ms to
analyze; a fresh Pd process adds ``s`` ms. The baseline pays about ``s + r + a`` per point and the lookup about
``r + a``, so the parts, measured on one core, predict a ratio of ``(s + r + a) / (r + a)``: the
analysis both sides share, not Pd, keeps it far below the render-only ratio. The bench prints that
prediction beside the measured ratio.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rlimpro.descriptors import AnalysisSettings
from rlimpro.lookup import _worker_init, compute_lookup, grid, render_and_describe
from rlimpro.synths import load_spec

SUBDIV = 20
TARGET_RATE = 200.0  # grid points/s including analysis
TARGET_RATIO = 10.0  # x the one-Pd-per-point baseline
RENDER_ONLY_POINTS = 100  # the per-process render-only baseline measures a rate on this many points


def _one_point(args) -> np.ndarray:
    """Baseline job: one grid point, its own Pd process, then the same analysis as the lookup."""
    spec_json, row = args
    from rlimpro.synths import SynthSpec

    spec = SynthSpec.model_validate_json(spec_json)
    return render_and_describe(spec, row[None, :], duration=1.0, settings=AnalysisSettings())


def run() -> list[str]:
    from rlimpro.descriptors.analyzer import Analyzer
    from rlimpro.pd.engine import PdEngine
    from rlimpro.pd.process import check_pd

    check_pd()
    workers = os.cpu_count() or 1
    settings = AnalysisSettings()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        spec = load_spec("sine", workspace=ws, engine="pd")
        points = grid(n_params=2, subdiv=SUBDIV)

        # the lookup stage as a user runs it
        t0 = time.perf_counter()
        res = compute_lookup(synth="sine", workspace=ws, subdiv=SUBDIV, engine="pd", workers=workers, show_progress=False)
        lookup_s = time.perf_counter() - t0
        lookup_rate = res.rows / lookup_s

        # baseline: one Pd process per grid point, same analysis, same workers
        jobs = [(spec.model_dump_json(), row) for row in points]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
            n = sum(1 for _ in pool.map(_one_point, jobs, chunksize=8))
        base_s = time.perf_counter() - t0
        base_rate = n / base_s

        # rendering alone, one core: all rows in one Pd process vs one Pd process per row
        engine = PdEngine(spec)
        t0 = time.perf_counter()
        audio = engine.render(points, duration=1.0, sample_rate=settings.sample_rate)
        batch_render_rate = len(points) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for row in points[:RENDER_ONLY_POINTS]:
            engine.render(row[None, :], duration=1.0, sample_rate=settings.sample_rate)
        single_render_rate = RENDER_ONLY_POINTS / (time.perf_counter() - t0)

        # analysis alone, one core (the same Analyzer call the lookup makes, in chunks of 50 rows)
        analyzer = Analyzer(settings)
        analyzer.analyze_many(audio[:2])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(audio), 50):
            analyzer.analyze_many(audio[i : i + 50])
        analysis_rate = len(audio) / (time.perf_counter() - t0)

    ratio = lookup_rate / base_rate
    ok_rate = "meets" if lookup_rate >= TARGET_RATE else "BELOW"
    ok_ratio = "meets" if ratio >= TARGET_RATIO else "BELOW"
    ceiling = workers * 1.0 / (1.0 / analysis_rate + 1.0 / batch_render_rate)
    r_ms, a_ms = 1e3 / batch_render_rate, 1e3 / analysis_rate
    s_ms = max(1e3 / single_render_rate - r_ms, 0.0)
    bound = (s_ms + r_ms + a_ms) / (r_ms + a_ms)
    return [
        f"Pd lookup sine subdiv {SUBDIV} ({res.rows} points x 1 s, render + analysis, {workers} workers): "
        f"{lookup_rate:.0f} points/s ({lookup_s:.1f} s)",
        f"baseline, one Pd process per point (batch), same analysis, workers and worker set-up:  "
        f"{base_rate:.0f} points/s ({base_s:.1f} s)",
        f"ratio lookup/baseline: {ratio:.1f}x   target >= {TARGET_RATIO:.0f}x: {ok_ratio}; "
        f"target >= {TARGET_RATE:.0f} points/s: {ok_rate}",
        f"render only, 1 core: {batch_render_rate:.0f} points/s with all rows in one Pd process vs "
        f"{single_render_rate:.0f} points/s with one Pd process per point: {batch_render_rate / single_render_rate:.1f}x",
        f"analysis only, 1 core: {analysis_rate:.0f} points/s -> end-to-end ceiling with {workers} workers "
        f"~{ceiling:.0f} points/s",
        f"per point: render r = {r_ms:.2f} ms, analysis a = {a_ms:.2f} ms, a fresh Pd process s = {s_ms:.2f} ms "
        f"-> the parts predict a ratio of (s+r+a)/(r+a) = {bound:.1f}x",
    ]

if __name__ == "__main__":
    for line in run():
        print(line)
