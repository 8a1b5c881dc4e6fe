"""The learning environment's speed, and PPO training speed on it.

1. Environment steps per second, single process: fm lookup at subdiv 20 (8,000 rows), corpus mode on
   the demo corpus, random discrete actions (drawn beforehand, so the figure is the environment's),
   features mfcc + specshape + pitch. Beside it, in the same run, the same environment whose synth
   model does a per-step nearest search over the whole table:

   - "prototype scan": the prototype's ``parameters2features`` as written — select the parameter
     columns of the pandas lookup table, L1 distance to every row, argmin — every step;
   - "numpy scan": the same L1 argmin over a parameter array converted once (the best case of a scan).

   rlimpro indexes the grid by arithmetic instead (O(1)). Targets: >= 30,000 steps/s and >= 10x the
   prototype's method.
2. PPO training steps per second with ``configs/demo.yaml`` (SB3 PPO, MlpPolicy [64, 64], 8 envs,
   n_steps 256, batch 256, 5 epochs, continuous actions, multilinear model, 1 torch thread), beside
   the same PPO settings on gymnasium's CartPole-v1 in the same run: CartPole is about the cheapest
   environment there is, so the ratio shows how much of PPO's time the environment costs. Target
   >= 1,000 steps/s on 2 cores.

The lookup table and the analyzed demo corpus are cached in ``bench/out/env-workspace``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

WORKSPACE = Path(__file__).parent / "out" / "env-workspace"
ENV_STEPS = 100_000
SCAN_STEPS = 10_000
PPO_STEPS = 16_384
DEMO_CONFIG = Path(__file__).parent.parent / "configs" / "demo.yaml"
ENV_TARGET = 30_000
PPO_TARGET = 1_000


def _workspace() -> Path:
    from rlimpro.corpus import analyze_corpus
    from rlimpro.demo_corpus import make_demo_corpus
    from rlimpro.lookup import compute_lookup

    WORKSPACE.mkdir(parents=True, exist_ok=True)
    compute_lookup(synth="fm", workspace=WORKSPACE, subdiv=20, show_progress=False)
    make_demo_corpus(workspace=WORKSPACE)
    analyze_corpus(corpus="demo", workspace=WORKSPACE, show_progress=False)
    return WORKSPACE


def _setup():
    from rlimpro.env.factory import prepare
    from rlimpro.train_config import TrainConfig

    cfg = TrainConfig(synth="fm", corpus="demo", features=["mfcc", "specshape", "pitch"], action_type="discrete",
                      step_size=0.05, training_mode="corpus", max_episode_steps=256)
    return prepare(cfg, workspace=_workspace(), source="bench")


class PrototypeScan:
    """The prototype's per-step lookup: pandas column selection, L1 distance to every row, argmin."""

    def __init__(self, packed: np.ndarray, grid_params: np.ndarray):
        import pandas as pd

        self.names = [f"param-{i}" for i in range(grid_params.shape[1])]
        self.table = pd.DataFrame(grid_params, columns=self.names)
        self.packed = packed

    def __call__(self, params: np.ndarray) -> np.ndarray:
        closest = abs(params - self.table[self.names].values)
        return self.packed[np.argmin(np.sum(closest, axis=1))]


class NumpyScan:
    """The same L1 argmin over a parameter array converted once."""

    def __init__(self, packed: np.ndarray, grid_params: np.ndarray):
        self.points = np.ascontiguousarray(grid_params)
        self.packed = packed

    def __call__(self, params: np.ndarray) -> np.ndarray:
        return self.packed[np.argmin(np.abs(self.points - params).sum(axis=1))]


def steps_per_second(env, n: int, *, seed: int = 0) -> tuple[float, float]:
    """Random-action steps per second of ``env`` (actions drawn before timing): (wall clock, CPU time)."""
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=n)
    step, reset = env.step, env.reset
    t0, c0 = time.perf_counter(), time.process_time()
    for a in actions:
        if step(a)[3]:
            reset()
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def best(rates: list[tuple[float, float]]) -> tuple[float, float]:
    """Best wall-clock and best CPU-time rate of repeated measurements (least disturbed by other load)."""
    return max(r[0] for r in rates), max(r[1] for r in rates)


def ppo_steps_per_second(make_env, config, steps: int = PPO_STEPS) -> tuple[float, float]:
    """SB3 PPO training steps per second with ``config``'s settings (after a one-rollout warm-up)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(config.torch_threads or 1)
    venv = DummyVecEnv([make_env] * config.n_envs)
    kwargs = dict(config.algorithm_kwargs)
    kwargs["policy_kwargs"] = {**kwargs.get("policy_kwargs", {}), "net_arch": list(config.net_arch or [64, 64])}
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", verbose=0, **kwargs)
    model.learn(total_timesteps=config.n_envs * kwargs["n_steps"])  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    rate = steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)
    venv.close()
    return rate


def run() -> list[str]:
    import gymnasium

    setup = _setup()
    env = setup.make_env()
    grid_params = env.model.grid_params()
    proto_env = setup.make_env()
    proto_env.model = PrototypeScan(env.model.values, grid_params)
    np_env = setup.make_env()
    np_env.model = NumpyScan(env.model.values, grid_params)
    runs: dict[str, list[tuple[float, float]]] = {"fast": [], "proto": [], "scan": []}
    for s in range(3):  # interleaved, so that other load on the machine hits all three alike
        runs["fast"].append(steps_per_second(env, ENV_STEPS, seed=s))
        runs["proto"].append(steps_per_second(proto_env, SCAN_STEPS, seed=s))
        runs["scan"].append(steps_per_second(np_env, SCAN_STEPS, seed=s))
    fast, proto, scan = best(runs["fast"]), best(runs["proto"]), best(runs["scan"])
    rows = env.model.values.shape[0]

    def ok(flag: bool) -> str:
        return "ok" if flag else "MISSED"

    lines = [
        f"env steps/s (fm subdiv 20 = {rows} rows, corpus mode, random discrete actions, 1 process; wall clock | per CPU second):",
        f"  rlimpro grid indexing    {fast[0]:>9,.0f} | {fast[1]:>9,.0f}   (target >= {ENV_TARGET:,}: {ok(fast[0] >= ENV_TARGET)})",
        f"  prototype scan (pandas)  {proto[0]:>9,.0f} | {proto[1]:>9,.0f}   ratio {fast[0] / proto[0]:5.1f}x | {fast[1] / proto[1]:5.1f}x"
        f"  (target >= 10x: {ok(fast[1] >= 10 * proto[1])})",
        f"  numpy scan (best case)   {scan[0]:>9,.0f} | {scan[1]:>9,.0f}   ratio {fast[0] / scan[0]:5.1f}x | {fast[1] / scan[1]:5.1f}x",
    ]
    from rlimpro.env.factory import prepare
    from rlimpro.train_config import load_config

    demo = load_config(DEMO_CONFIG)
    demo_setup = prepare(demo, workspace=_workspace(), source=str(DEMO_CONFIG))
    ours = ppo_steps_per_second(lambda: demo_setup.make_env(), demo)
    cartpole = ppo_steps_per_second(lambda: gymnasium.make("CartPole-v1"), demo)
    lines += [
        "PPO training steps/s (configs/demo.yaml: SB3 PPO, 8 envs, n_steps 256, batch 256, 5 epochs, [64, 64], "
        "1 torch thread; wall clock | per CPU second):",
        f"  rlimpro env (fm, demo)   {ours[0]:>9,.0f} | {ours[1]:>9,.0f}   (target >= {PPO_TARGET:,}: {ok(ours[0] >= PPO_TARGET)})",
        f"  CartPole-v1 (same PPO)   {cartpole[0]:>9,.0f} | {cartpole[1]:>9,.0f}   ratio {ours[0] / cartpole[0]:5.2f}x | {ours[1] / cartpole[1]:5.2f}x",
    ]
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
