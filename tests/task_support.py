"""Helpers for the sound-task tests: small real environments built directly (fm, 0.1 s sounds at 16 kHz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlimpro.descriptors.analyzer import AnalysisSettings
from rlimpro.synths import load_spec, make_renderer
from rlimpro.tasks.listener import Listener, feature_space_from_sounds
from rlimpro.tasks.match import MatchEnv
from rlimpro.tasks.sequence import SequenceEnv
from rlimpro.tasks.specs import ActionLayout
from rlimpro.tasks.targets import TargetPool, synth_phrase, synth_sound

SR = 16000
SECONDS = 0.1
SETTINGS = AnalysisSettings(sample_rate=SR, window=512, hop=256)
NOTES = [110.0, 146.83, 196.0, 261.63, 349.23, 466.16]
CHOICE_SPECS = {"carrier": {"type": "choice", "values": NOTES}, "harmonicity": {"type": "choice", "values": [1, 2, 3]},
                "index": {"type": "fixed", "value": 1.5}}


def parts(specs=None, *, synth: str = "fm", engine: str | None = None, observation: str = "descriptors", distance: str = "descriptors"):
    spec = load_spec(synth, workspace=Path("."), engine=engine)
    layout = ActionLayout(spec, specs)
    renderer = make_renderer(spec)
    rng = np.random.default_rng(0)
    sounds = make_renderer(load_spec(synth, workspace=Path("."))).render(
        layout.to_engine(layout.quantize(rng.random((24, layout.n_controls)))), duration=SECONDS, sample_rate=SR)
    fs = feature_space_from_sounds(sounds, analysis=SETTINGS, features=["pitch", "centroid", "mfcc-1"], features_reward=["pitch-hz", "centroid"],
                                   n_params=layout.n_controls)
    listener = Listener(sample_rate=SR, n_samples=int(SECONDS * SR), analysis=SETTINGS, distance=distance, observation=observation, feature_space=fs)
    return spec, layout, renderer, listener


def match_env(specs=None, *, held_out: int = 0, observation: str = "descriptors", distance: str = "descriptors", **kwargs) -> MatchEnv:
    spec, layout, renderer, listener = parts(specs, observation=observation, distance=distance, engine=kwargs.pop("engine", None))
    if held_out:
        rng = np.random.default_rng(99)
        pool = TargetPool(fixed=[synth_sound(renderer, layout, rng=rng, duration=SECONDS, sample_rate=SR, name=f"t{i}") for i in range(held_out)])
    else:
        pool = TargetPool(make_random=lambda rng, i: synth_sound(renderer, layout, rng=rng, duration=SECONDS, sample_rate=SR, name="r"))
    kwargs.setdefault("max_steps", 5)
    return MatchEnv(renderer=renderer, layout=layout, listener=listener, targets=pool, duration=SECONDS, sample_rate=SR, **kwargs)


def sequence_env(specs=None, *, total_steps: int = 4, held_out: int = 0, observation: str = "descriptors", distance: str = "descriptors", **kwargs) -> SequenceEnv:
    spec, layout, renderer, listener = parts(specs, observation=observation, distance=distance)

    def make(rng, i):
        return synth_phrase(renderer, layout, rng=rng, total_steps=total_steps, step_seconds=SECONDS, sample_rate=SR, name="p")

    pool = TargetPool(fixed=[make(np.random.default_rng(99 + i), i) for i in range(held_out)]) if held_out else TargetPool(make_random=make)
    return SequenceEnv(renderer=renderer, layout=layout, listener=listener, targets=pool, total_steps=total_steps, step_seconds=SECONDS,
                       sample_rate=SR, **kwargs)
