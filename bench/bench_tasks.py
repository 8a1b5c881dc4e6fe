"""Render-in-the-loop speed of the sound tasks, beside the lookup environment's in the same run.

Environment steps per second, one process, random actions drawn beforehand (so the figure is the
environment's):

- lookup environment (``rlimpro/Improvisation-v0``): fm lookup at subdiv 20, corpus mode on the demo
  corpus, discrete actions, features mfcc + specshape + pitch (the configuration of bench_env);
- ``match`` on fm as configs/match-fm.yaml sets it up (0.25 s sounds at 22.05 kHz rendered by the
  native engine every step, descriptor observation and distance), and the same with the multi-scale
  spectral distance and 2 x 40 x 40 log-mel observations;
- ``sequence`` as configs/sequence.yaml (0.25 s segments);
- ``match`` with Pure Data rendering every step (the fm synth.pd through the batch renderer; one Pd
  process per step), when pd is installed.

Each line gives the ratio to the lookup environment (how many times slower rendering in the loop is).
The lookup table and demo corpus are cached in ``bench/out/env-workspace`` (shared with bench_env).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
LOOKUP_STEPS = 50_000
TASK_STEPS = 3_000
PD_STEPS = 20


def _rate(env, actions, *, reset_seed: int = 0) -> tuple[float, float]:
    """Steps per second (wall clock, per CPU second) of ``env`` over pre-drawn ``actions``."""
    env.reset(seed=reset_seed)
    step, reset = env.step, env.reset
    t0, c0 = time.perf_counter(), time.process_time()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            reset()
    return len(actions) / (time.perf_counter() - t0), len(actions) / max(time.process_time() - c0, 1e-9)


def _actions(env, n: int, seed: int = 0) -> list:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(n)]


def _task_setup(name: str, workspace: Path, **section):
    from rlimpro.tasks.setup import prepare_task
    from rlimpro.train_config import load_config

    path = CONFIGS / name
    config = load_config(path)
    if section:
        task = config.task
        merged = getattr(config, task).model_copy(update=section)
        config = config.model_copy(update={task: merged})
    return prepare_task(config, workspace=workspace, source=str(path))


def run() -> list[str]:
    from bench.bench_env import WORKSPACE, _setup, best

    lookup_env = _setup().make_env()
    lookup_actions = _actions(lookup_env, LOOKUP_STEPS)
    match = _task_setup("match-fm.yaml", WORKSPACE)
    match_env = match.make_env()
    spec_env = _task_setup("match-fm.yaml", WORKSPACE, observation="spectrogram", distance="spectral").make_env()
    seq_env = _task_setup("sequence.yaml", WORKSPACE).make_env()
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in ("lookup", "match", "spectral", "sequence")}
    acts = {"match": _actions(match_env, TASK_STEPS), "spectral": _actions(spec_env, TASK_STEPS), "sequence": _actions(seq_env, TASK_STEPS)}
    for s in range(3):  # interleaved, so that other load on the machine hits all alike
        runs["lookup"].append(_rate(lookup_env, lookup_actions, reset_seed=s))
        runs["match"].append(_rate(match_env, acts["match"], reset_seed=s))
        runs["spectral"].append(_rate(spec_env, acts["spectral"], reset_seed=s))
        runs["sequence"].append(_rate(seq_env, acts["sequence"], reset_seed=s))
    rates = {k: best(v) for k, v in runs.items()}
    base = rates["lookup"]
    s = match.settings
    lines = [
        "env steps/s, 1 process, random actions (wall clock | per CPU second; ratio = lookup env / this):",
        f"  lookup env (fm subdiv 20, demo corpus)      {base[0]:>9,.0f} | {base[1]:>9,.0f}",
    ]

    def line(label: str, r: tuple[float, float]) -> str:
        return f"  {label:<43s} {r[0]:>9,.0f} | {r[1]:>9,.0f}   lookup is {base[0] / r[0]:6.1f}x | {base[1] / r[1]:6.1f}x faster"

    lines.append(line(f"match fm, render {s.duration:g} s @ {s.sample_rate} Hz/step", rates["match"]))
    lines.append(line("match fm, spectral distance + log-mel obs", rates["spectral"]))
    lines.append(line("sequence fm (configs/sequence.yaml)", rates["sequence"]))
    if shutil.which("pd"):
        pd_env = _task_setup("match-fm.yaml", WORKSPACE, engine="pd").make_env()
        lines.append(line("match fm rendered by Pure Data (1 Pd/step)", _rate(pd_env, _actions(pd_env, PD_STEPS))))
    else:
        lines.append("  match fm rendered by Pure Data: skipped (pd not found: apt-get install puredata-core)")
    return lines


if __name__ == "__main__":
    for text in run():
        print(text)
