"""Lookup throughput: fm at subdiv 10 (1000 grid points, 1 s each, every descriptor group, both cores).

Floor measured in the same run: rendering the same audio plus a single STFT of it, nothing else
(both cores). The ratio lookup/floor shows what the full analysis and table writing cost on top.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rlimpro.descriptors import AnalysisSettings
from rlimpro.lookup import CHUNK_ROWS, compute_lookup, grid
from rlimpro.synths import load_spec, make_renderer

SUBDIV = 10
TARGET = 100.0  # points/s on 2 cores
PROTOTYPE = 5.0  # points/s: the prototype records every point in real time


def _floor_chunk(args) -> int:
    params, workspace = args
    spec = load_spec("fm", workspace=Path(workspace))
    s = AnalysisSettings()
    audio = make_renderer(spec).render(params, duration=1.0, sample_rate=s.sample_rate)
    hann = np.hanning(s.window)
    for x in audio:
        frames = np.lib.stride_tricks.sliding_window_view(x, s.window)[:: s.hop]
        np.abs(np.fft.rfft(frames * hann, axis=1))
    return len(params)


def run() -> list[str]:
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        t0 = time.perf_counter()
        res = compute_lookup(synth="fm", workspace=ws, subdiv=SUBDIV, workers=workers, show_progress=False)
        lookup_rate = res.rows / (time.perf_counter() - t0)

        points = grid(n_params=3, subdiv=SUBDIV)
        chunks = [(points[i : i + CHUNK_ROWS], tmp) for i in range(0, len(points), CHUNK_ROWS)]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            n = sum(pool.map(_floor_chunk, chunks))
        floor_rate = n / (time.perf_counter() - t0)
    verdict = "meets" if lookup_rate >= TARGET else "BELOW"
    return [
        f"lookup fm subdiv {SUBDIV} ({res.rows} points x 1 s, all descriptors, {workers} workers): "
        f"{lookup_rate:.0f} points/s",
        f"floor (render + one STFT, same workers):                 {floor_rate:.0f} points/s",
        f"ratio lookup/floor: {lookup_rate / floor_rate:.2f}   target >= {TARGET:.0f} points/s: {verdict}; "
        f"x{lookup_rate / PROTOTYPE:.0f} the prototype's real-time recording (~{PROTOTYPE:.0f} points/s)",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
