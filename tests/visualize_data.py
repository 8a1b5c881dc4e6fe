"""Real inputs for the visualize tests: a lookup table, an analyzed corpus and a run's trajectories.

Everything is made by rlimpro itself: the lookup and corpus stages on real audio files, and a tiny
real training run evaluated by the evaluate stage (which writes the trajectories).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.lookup import compute_lookup, grid
from rlimpro.synths import load_spec, make_renderer

SR = 44100
SUBDIV = 5
CORPUS = "duo"
# grid points the "synthlike" recording plays (row indices of the fm subdiv-5 table)
PLAYED_ROWS = (12, 37, 64, 101)


def make_lookup(workspace: Path, *, synth: str = "fm", subdiv: int = SUBDIV, duration: float = 0.2) -> Path:
    """Run the real lookup stage (single process) and return the table's path."""
    result = compute_lookup(synth=synth, workspace=workspace, subdiv=subdiv, duration=duration, workers=1, show_progress=False)
    return result.path


def make_corpus(workspace: Path, *, corpus: str = CORPUS, subdiv: int = SUBDIV, window: int | None = None) -> None:
    """Two recordings analyzed by the real corpus stage.

    ``synthlike.wav`` plays fm grid points ``PLAYED_ROWS`` (0.6 s each, 0.2 s rests between): every
    active frame is a sound the synth makes. ``noise.wav`` is loud white noise, which an FM synth
    cannot make.
    """
    from rlimpro.corpus import analyze_corpus
    from rlimpro.descriptors import AnalysisSettings

    audio = workspace / "corpora" / corpus / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    spec = load_spec("fm", workspace=workspace)
    points = grid(n_params=3, subdiv=subdiv)[list(PLAYED_ROWS)]
    tones = make_renderer(spec).render(points, duration=0.6, sample_rate=SR)
    rest = np.zeros(int(0.2 * SR), dtype=np.float32)
    sf.write(audio / "synthlike.wav", np.concatenate([np.concatenate([t, rest]) for t in tones]), SR)
    noise = np.random.default_rng(3).uniform(-0.5, 0.5, int(1.5 * SR))
    sf.write(audio / "noise.wav", noise, SR)
    settings = AnalysisSettings(window=window) if window else None
    analyze_corpus(corpus=corpus, workspace=workspace, workers=1, show_progress=False, settings=settings)


TINY_CONFIG = """\
synth: fm
corpus: duo
features: [mfcc, loudness]
algorithm: PPO
algorithm_kwargs: {n_steps: 64, batch_size: 64}
timesteps: 128
n_envs: 1
max_episode_steps: 64
held_out_files: [synthlike]
eval_freq: 0
checkpoint_freq: 0
"""


def make_run(workspace: Path, *, evaluate: bool = True) -> Path:
    """Train a tiny real run (PPO, 128 steps) on corpus 'duo' and, with ``evaluate``, evaluate it on
    the held-out file ``synthlike``: ``rlimpro evaluate`` writes ``trajectories/synthlike.csv``."""
    from rlimpro.train import train

    config = workspace / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    return train(config_path=config, workspace=workspace, show_progress=False, evaluate=evaluate, command="tests")


def copy_workspace(src: Path, dst: Path) -> Path:
    """A private copy of a prepared workspace (tests write maps into theirs)."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst


def page_data(html: Path) -> dict:
    """The JSON block of a written map.html."""
    import json
    import re

    text = Path(html).read_text()
    block = re.search(r'<script id="map-data" type="application/json">(.*?)</script>', text, re.S)
    assert block, "map.html has no data block"
    return json.loads(block.group(1))
