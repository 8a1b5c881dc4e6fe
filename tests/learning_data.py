"""Real inputs for the learning-core tests: a tiny lookup table, a tiny analyzed corpus, a config.

Everything is made by rlimpro itself: the lookup stage renders the sine synth on a 6 x 6 grid, the
corpus stage analyzes three short recordings written here (sine melodies whose notes are grid points
or between them, with rests), so the tables are the real formats. Built once per test session and
copied into each test's workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

SR = 44100
SUBDIV = 6
CORPUS = "tiny"
FILES = ("a-low", "b-mid", "c-high")
HELD_OUT = ["c-high"]
_CACHE: dict[str, Path] = {}


def _melody(freqs: list[float], amps: list[float], *, note: float = 0.25, rest: float = 0.1) -> np.ndarray:
    out = []
    for f, a in zip(freqs, amps, strict=True):
        t = np.arange(int(note * SR)) / SR
        env = np.minimum(1.0, np.minimum(t, note - t) / 0.01)
        out.append(a * env * np.cos(2 * np.pi * f * t))
        out.append(np.zeros(int(rest * SR)))
    return np.concatenate(out).astype(np.float32)


def write_audio(workspace: Path, *, corpus: str = CORPUS) -> Path:
    """Three mono recordings of about 1.4 s each in ``corpora/<corpus>/audio``."""
    folder = workspace / "corpora" / corpus / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    melodies = {
        "a-low": ([110, 147, 196, 165], [0.3, 0.5, 0.7, 0.4]),
        "b-mid": ([330, 392, 262, 440], [0.6, 0.2, 0.5, 0.8]),
        "c-high": ([660, 880, 523, 988], [0.5, 0.7, 0.3, 0.6]),
    }
    for stem, (freqs, amps) in melodies.items():
        sf.write(folder / f"{stem}.wav", _melody(freqs, amps), SR, subtype="FLOAT")
    return folder


def config_dict(**overrides) -> dict:
    """A small, fast training config for the tiny workspace."""
    cfg = {
        "synth": "sine",
        "corpus": CORPUS,
        "lookup": {"subdiv": SUBDIV},
        "features": ["loudness-dBFS", "centroid", "pitch-hz"],
        "action_type": "discrete",
        "step_size": 0.2,
        "algorithm": "PPO",
        "algorithm_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 2},
        "net_arch": [16],
        "timesteps": 256,
        "n_envs": 2,
        "max_episode_steps": 32,
        "eval_freq": 128,
        "checkpoint_freq": 128,
        "held_out_files": list(HELD_OUT),
        "seed": 3,
    }
    cfg.update(overrides)
    return cfg


def write_config(path: Path, **overrides) -> Path:
    """Write :func:`config_dict` as YAML to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_dict(**overrides), sort_keys=False))
    return path


def _build(root: Path) -> None:
    from rlimpro.corpus import analyze_corpus
    from rlimpro.lookup import compute_lookup

    compute_lookup(synth="sine", workspace=root, subdiv=SUBDIV, duration=0.1, workers=1, show_progress=False)
    write_audio(root)
    analyze_corpus(corpus=CORPUS, workspace=root, workers=1, show_progress=False)
    write_config(root / "configs" / "tiny.yaml")


def tiny_workspace(tmp_path_factory, dest: Path) -> Path:
    """Copy the session's tiny workspace (built on first use) into ``dest`` and return ``dest``."""
    if "root" not in _CACHE:
        root = tmp_path_factory.mktemp("learning-ws")
        _build(root)
        _CACHE["root"] = root
    shutil.copytree(_CACHE["root"], dest, dirs_exist_ok=True)
    return dest
