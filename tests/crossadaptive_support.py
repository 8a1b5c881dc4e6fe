"""A real (tiny) cross-adaptive training run for the train/evaluate/live tests, made once per test session.

Generated material (3 pairs of 1 s at 22.05 kHz, one held out), PPO for 1,024 steps through the train
API, which also evaluates the held-out pair. A few seconds on a busy 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_CACHE: dict[str, tuple[Path, Path]] = {}

CONFIG = """\
task: cross-adaptive
material: {kind: generated, sources: [noise], targets: [beat, swell], pairs: 3, held_out: 1, duration: 1.0}
effects: [lowpass, {type: gain, min_db: -24, max_db: 6}]
analysis: {sample_rate: 22050, window: 512, hop: 256}
features: [loudness, specshape]
features_reward: [loudness-dBFS, centroid]
algorithm_kwargs: {n_steps: 128, batch_size: 128, n_epochs: 2, policy_kwargs: {log_std_init: -1.0}}
net_arch: [16]
timesteps: 1024
n_envs: 2
max_episode_steps: 32
eval_freq: 512
checkpoint_freq: 512
"""

HELD_OUT = "02-noise-beat"


def write_config(path: Path, text: str = CONFIG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(workspace, run folder)`` of a tiny real cross-adaptive run (cached for the session)."""
    if "run" in _CACHE:
        return _CACHE["run"]
    from rlimpro.crossadaptive.train import train_cross_adaptive

    ws = tmp_path_factory.mktemp("xa-ws")
    config = write_config(ws / "configs" / "xa.yaml")
    run = train_cross_adaptive(config_path=config, workspace=ws, show_progress=False, command="pytest")
    _CACHE["run"] = (ws, run)
    return ws, run
