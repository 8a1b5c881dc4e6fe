"""Acceptance check of the sound tasks: train the shipped configs as a user would, on a fresh workspace.

    python -m bench.quality_tasks            # both configs (several minutes each on 2 cores)
    python -m bench.quality_tasks sequence   # one of them (match-fm or sequence)

For configs/match-fm.yaml and configs/sequence.yaml: ``rlimpro train`` (through :func:`rlimpro.train.train`)
in an empty workspace ``bench/out/quality-tasks/<name>`` (emptied first; the demo corpus is synthesized on
first use; the run folder stays there for inspection), then the held-out
evaluation it writes. Prints the wall-clock training time (target < 10 minutes), the agent's mean final
distance on the held-out targets beside the random policy's (target: agent <= 0.5 x random) and the
CMA-ES baseline with the same number of renders (and 10x), and the parameter errors. Not part of
``make bench`` or the test suite because of its length.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
OUT = Path(__file__).resolve().parent / "out" / "quality-tasks"
TARGET_RATIO = 0.5
TARGET_SECONDS = 600.0
NAMES = {"match-fm": "match-fm.yaml", "sequence": "sequence.yaml"}


def check(name: str, workspace: Path) -> list[str]:
    """Train and evaluate one shipped config; lines of results."""
    import json

    from rlimpro.runs import EVALUATION, read_run_json
    from rlimpro.train import train

    t0 = time.perf_counter()
    run = train(config_path=CONFIGS / NAMES[name], workspace=workspace, show_progress=False, command=f"bench.quality_tasks {name}")
    wall = time.perf_counter() - t0
    info = read_run_json(run)
    ev = json.loads((run / EVALUATION).read_text())
    fd, ratios, pe = ev["final_distance"], ev["ratios"], ev.get("param_error") or {}
    ok_ratio = ratios["agent_over_random"] is not None and ratios["agent_over_random"] <= TARGET_RATIO
    lines = [
        f"{name}: {info['steps']} steps trained in {info['seconds']:.0f} s ({info['steps_per_second']:.0f} steps/s); "
        f"train + evaluation {wall:.0f} s (target < {TARGET_SECONDS:.0f} s: {'ok' if wall < TARGET_SECONDS else 'MISSED'})",
        f"  held-out targets: {len(ev['targets'])} ({ev['renders_per_target']} renders each), final {ev['distance']} distance:",
        "  " + "  ".join(f"{p} {v:.3f}" for p, v in fd.items()),
        f"  agent / random {ratios['agent_over_random']:.3f} (target <= {TARGET_RATIO}: {'ok' if ok_ratio else 'MISSED'}), "
        f"agent / CMA-ES same renders {ratios['agent_over_optimizer']:.3f}",
    ]
    if pe:
        lines.append(f"  parameter error on {len(ev['param_error_targets'])} synth targets: " + "  ".join(f"{p} {v:.3f}" for p, v in pe.items()))
    files = [n for n, r in ev["targets"].items() if "param_error" not in r]
    for n in files:
        r = ev["targets"][n]["final_distance"]
        lines.append(f"  recording {n}: " + "  ".join(f"{p} {v:.3f}" for p, v in r.items()))
    lines.append(f"  run: {run}")
    return lines


def run(names: list[str] | None = None) -> list[str]:
    lines: list[str] = []
    for name in names or list(NAMES):
        workspace = OUT / name
        shutil.rmtree(workspace, ignore_errors=True)  # a fresh workspace: nothing cached from earlier runs
        workspace.mkdir(parents=True)
        lines += check(name, workspace)
    return lines


if __name__ == "__main__":
    wanted = sys.argv[1:]
    unknown = [w for w in wanted if w not in NAMES]
    if unknown:
        print(f"unknown config {unknown[0]}: choose {', '.join(NAMES)}", file=sys.stderr)
        sys.exit(2)
    for text in run(wanted or None):
        print(text, flush=True)
