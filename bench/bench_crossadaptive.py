"""Cross-adaptive processing: effect-chain speed, and the shipped config's training time and quality.

1. Effect chain speed × real time: 20 s of white noise through ``lowpass, distortion, gain`` in
   512-sample blocks with new random parameters every block (so every block ramps and the filter
   recomputes its coefficients every 32 samples), beside a plain per-block gain (``x * g``, the cheapest
   processing there is) over the same blocks in the same run; the ratio is the chain's cost.
2. Environment steps per second (``rlimpro/CrossAdaptive-v0`` as the shipped config builds it,
   random actions), beside the streaming analyzer alone on the same hops: the ratio shows how much of
   a step the analysis of the processed hop is.
3. Live decision latency (``rlimpro live --task cross-adaptive`` on a held-out pair's two files, as
   fast as possible): analysis of both hops + policy + effect chain + analysis of the processed hop,
   median and p99 beside the hop period (the real-time budget), as a ratio.
4. The acceptance run: ``configs/cross-adaptive.yaml`` trained from scratch in a fresh workspace
   (generated material, nothing else needed), wall time beside the 10-minute budget; then on its
   held-out pairs the processed-to-target distance beside the dry source's (target <= 0.7) and a random
   policy's (target < 1), and, for context, the best constant setting of a 3-per-parameter grid
   (a hand-set static effect).

The run folder is kept in ``bench/out/crossadaptive-workspace`` (listen to ``evaluation/<pair>/``).
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "cross-adaptive.yaml"
WORKSPACE = Path(__file__).parent / "out" / "crossadaptive-workspace"
SECONDS = 20.0
ENV_STEPS = 4000
BUDGET_S = 600.0


def _chain_speed() -> list[str]:
    from rlimpro.effects import EffectChain

    sr, hop = 44100, 512
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(SECONDS * sr)) * 0.2
    n_blocks = -(-x.size // hop)
    params = rng.random((n_blocks, 4))
    chain = EffectChain.from_spec(["lowpass", "distortion", "gain"], sample_rate=sr)
    t0 = time.perf_counter()
    chain.render(x, params, block=hop)
    t_chain = time.perf_counter() - t0
    gains = rng.random(n_blocks)
    out = np.empty_like(x)
    t0 = time.perf_counter()
    for i in range(n_blocks):
        out[i * hop : (i + 1) * hop] = x[i * hop : (i + 1) * hop] * gains[i]
    t_copy = time.perf_counter() - t0
    return [
        f"effect chain (lowpass, distortion, gain; new parameters every 512-sample block): "
        f"{SECONDS / t_chain:,.0f}x real time ({t_chain / n_blocks * 1e6:.0f} us per block)",
        f"  baseline plain per-block gain: {SECONDS / t_copy:,.0f}x real time ({t_copy / n_blocks * 1e6:.1f} us per block); "
        f"chain costs {t_chain / t_copy:.0f}x the plain gain",
    ]


def _env_speed(setup) -> list[str]:
    from rlimpro.descriptors.analyzer import StreamingAnalyzer

    env = setup.make_env(split="train")
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(ENV_STEPS)]
    t0 = time.perf_counter()
    for a in actions:
        _, _, _, truncated, _ = env.step(a)
        if truncated:
            env.reset()
    t_env = time.perf_counter() - t0
    pair = next(iter(setup.pairs.values()))
    stream = StreamingAnalyzer(setup.config.analysis_settings())
    hops = [pair.hops[i % pair.n_frames] for i in range(ENV_STEPS)]
    t0 = time.perf_counter()
    for h in hops:
        stream.push_hop(h)
    t_an = time.perf_counter() - t0
    return [
        f"env steps: {ENV_STEPS / t_env:,.0f} steps/s ({t_env / ENV_STEPS * 1e3:.3f} ms per step: chain + analysis "
        f"of the processed hop + reward)",
        f"  baseline streaming analysis of one hop alone: {ENV_STEPS / t_an:,.0f} hops/s; a step costs "
        f"{t_env / t_an:.2f}x the analysis",
    ]


def _fixed_baseline(run: Path, setup) -> float:
    """Mean distance of the best constant parameter vector on a 3-per-parameter grid (held-out pairs)."""
    from rlimpro.crossadaptive.paired import shared_analyzer
    from rlimpro.crossadaptive.runs import load_run_features
    from rlimpro.effects import EffectChain

    c = setup.config
    settings = c.analysis_settings()
    analyzer = shared_analyzer(settings)
    features = load_run_features(run, n_params=setup.chain.n_params)
    best = np.inf
    for values in itertools.product((0.0, 0.5, 1.0), repeat=setup.chain.n_params):
        p = np.array(values)
        d = []
        for name in setup.held_out_pairs:
            ap = setup.pairs[name]
            chain = EffectChain.from_spec(c.effects, sample_rate=settings.sample_rate, ramp=c.ramp)
            chain.reset(p)
            processed = analyzer.analyze(chain.render(ap.pair.source, p, block=settings.hop))
            d.append(features.distance(processed, ap.target))
        best = min(best, float(np.mean(np.concatenate(d))))
    return best


def _acceptance() -> tuple[list[str], object]:
    import json

    from rlimpro.crossadaptive.config import load_cross_config
    from rlimpro.crossadaptive.setup import prepare
    from rlimpro.crossadaptive.train import train_cross_adaptive

    if WORKSPACE.exists():
        shutil.rmtree(WORKSPACE)
    WORKSPACE.mkdir(parents=True)
    t0 = time.perf_counter()
    run = train_cross_adaptive(config_path=CONFIG, workspace=WORKSPACE, show_progress=False, command="bench")
    wall = time.perf_counter() - t0
    info = json.loads((run / "run.json").read_text())
    ev = json.loads((run / "evaluation.json").read_text())
    r, q = ev["rmse"], ev["ratios"]
    setup = prepare(load_cross_config(CONFIG), workspace=WORKSPACE, source=str(CONFIG))
    lines = [
        f"train configs/cross-adaptive.yaml from scratch: {wall:.0f} s wall ({info['steps']} steps, "
        f"{info['steps_per_second']:.0f} steps/s, material {info['material_seconds']:.1f} s), "
        f"{wall / BUDGET_S:.2f}x the 600 s budget",
        f"  held-out pairs {', '.join(ev['pairs_evaluated'])} ({ev['frames']} frames):",
        f"  processed-to-target RMSE {r['agent']:.3f} vs dry source {r['dry']:.3f}: ratio {q['agent_over_dry']:.3f} (target <= 0.7)",
        f"  processed-to-target RMSE {r['agent']:.3f} vs random policy {r['random']:.3f}: ratio {q['agent_over_random']:.3f} (target < 1)",
    ]
    fixed = _fixed_baseline(run, setup)
    lines.append(f"  context: best constant setting (3^{setup.chain.n_params} grid) {fixed:.3f}: agent/fixed {r['agent'] / fixed:.3f}")
    for name, p in ev["pairs"].items():
        lines.append(f"    {name}: agent {p['rmse']['agent']:.3f}, dry {p['rmse']['dry']:.3f}, random {p['rmse']['random']:.3f}")
    lines.append(f"  run: {run}")
    return lines, setup


def _live_latency(run: Path, setup) -> list[str]:
    from rlimpro.crossadaptive.live import run_cross_live

    pair = run / "evaluation" / setup.held_out_pairs[0]
    res = run_cross_live(model=str(run), workspace=WORKSPACE, input=str(pair / "source.wav"), target=str(pair / "target.wav"),
                         outputs=[str(WORKSPACE / "live.wav")], fast=True, log=WORKSPACE / "live.csv")
    s = setup.config.analysis_settings()
    period_ms = s.hop / s.sample_rate * 1e3
    lat = res.latency
    return [f"live decision latency per hop: median {lat['median_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms "
            f"(n = {lat['n']}) beside the hop period {period_ms:.1f} ms: p99 is {lat['p99_ms'] / period_ms:.3f}x the budget"]


def run() -> list[str]:
    lines = _chain_speed()
    acc, setup = _acceptance()
    lines += _env_speed(setup)
    lines += _live_latency(Path(acc[-1].split("run: ", 1)[1]), setup)
    return lines + acc
