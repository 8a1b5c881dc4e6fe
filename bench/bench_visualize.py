"""Visualize: time of each projection method on the fm subdiv-20 table (8,000 rows), page and PNG included.

Baseline measured in the same run: reading the same table (CSV + sidecar) and writing an empty page,
i.e. the I/O no map can avoid. Target: PCA including map.png and map.html under 10 s on 2 cores.
The table is made first with the real lookup stage (0.2 s per grid point to keep the set-up short;
the projection's cost does not depend on the render length).
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path

from rlimpro.lookup import compute_lookup
from rlimpro.tables import read_table, write_text_atomic
from rlimpro.visualize import visualize

SUBDIV = 20
TARGET_PCA_SECONDS = 10.0


def _baseline(ws: Path) -> float:
    t0 = time.perf_counter()
    read_table(ws / "synths" / "fm" / "lookup.csv")
    write_text_atomic(ws / "synths" / "fm" / "empty.html", "<!doctype html><title>empty</title>\n")
    return time.perf_counter() - t0


def run() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-visualize-") as tmp:
        ws = Path(tmp)
        t0 = time.perf_counter()
        compute_lookup(synth="fm", workspace=ws, subdiv=SUBDIV, duration=0.2, show_progress=False)
        lines.append(f"set-up: lookup fm subdiv {SUBDIV} (0.2 s per point) in {time.perf_counter() - t0:.1f} s")
        base = min(_baseline(ws) for _ in range(3))
        lines.append(f"baseline: read the 8,000-row table + write an empty page: {base:.3f} s")
        methods = ["pca", "tsne"] + (["umap"] if importlib.util.find_spec("umap") else [])
        for method in methods:
            t0 = time.perf_counter()
            res = visualize(synth="fm", workspace=ws, method=method, show_progress=False)
            took = time.perf_counter() - t0
            size = res.html.stat().st_size / 1e6
            target = f" (target < {TARGET_PCA_SECONDS:.0f} s: {'met' if took < TARGET_PCA_SECONDS else 'MISSED'})" if method == "pca" else ""
            lines.append(
                f"{method:5s} map.png + map.html ({res.rows:,} points, page {size:.2f} MB): {took:6.2f} s{target} | "
                f"baseline {base:.3f} s | ratio {took / base:,.0f}x"
            )
        if "umap" not in methods:
            lines.append("umap  skipped: umap-learn is not installed (optional: pip install umap-learn)")
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
