"""A real trained run for the live tests, made once per test session.

fm lookup (subdiv 6), the demo corpus analyzed, PPO trained for a few thousand steps through the
train API (which also evaluates the held-out files 07 and 08). About 20-40 s on a busy 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_CACHE: dict[str, tuple[Path, Path]] = {}

CONFIG = """\
synth: fm
corpus: demo
features: [mfcc, specshape]
algorithm: PPO
action_type: discrete
timesteps: 2048
n_envs: 1
max_episode_steps: 128
eval_freq: 0
checkpoint_freq: 0
net_arch: [32, 32]
algorithm_kwargs: {n_steps: 256, batch_size: 64}
"""

HELD_OUT = "07-pluck-minor"


def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(workspace, run folder)`` of a small real training run (cached for the session)."""
    if "run" in _CACHE:
        return _CACHE["run"]
    from rlimpro.corpus import analyze_corpus
    from rlimpro.demo_corpus import make_demo_corpus
    from rlimpro.lookup import compute_lookup
    from rlimpro.train import train

    ws = tmp_path_factory.mktemp("live-ws")
    compute_lookup(synth="fm", workspace=ws, subdiv=6, duration=0.5, workers=1, show_progress=False)
    make_demo_corpus(workspace=ws)
    analyze_corpus(corpus="demo", workspace=ws, workers=1, show_progress=False)
    config = ws / "tiny.yaml"
    config.write_text(CONFIG)
    run = train(config_path=config, workspace=ws, show_progress=False, evaluate=True)
    _CACHE["run"] = (ws, run)
    return ws, run
