"""Targets of the sound tasks: sounds of the synth itself with hidden parameters, or audio files.

- :func:`synth_sound`: one sound of ``duration`` s at hidden controls drawn uniformly (``match``);
- :func:`synth_phrase`: ``total_steps`` segments of ``step_seconds`` s (``sequence``), a melodic random
  walk: the first segment's controls are uniform, then every ``choice`` control (the notes of a scale,
  say) moves by -2..+2 choices (reflected at the ends) and every continuous control drifts by a
  Gaussian step of 0.1 (clipped), so that a phrase is a melody with a slowly changing timbre;
- :func:`file_target`: a stretch of an audio file (a corpus file by name, or a path in the workspace),
  read at the task's sample rate; a file of corpus ``demo`` that is missing is synthesized first.

A :class:`TargetPool` hands an environment its targets: held-out targets in a fixed order, or for
training fresh synth targets (from the environment's seeded generator) mixed with fixed ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlimpro.errors import NotFoundError, ParameterError
from rlimpro.tasks.specs import ActionLayout

PHRASE_CHOICE_STEPS = (-2, -1, 1, 2)
PHRASE_DRIFT = 0.1


@dataclasses.dataclass(eq=False)
class Target:
    """One target sound.

    Attributes
    ----------
    name : str
    audio : ndarray, shape (n_samples,), float32
    controls : ndarray or None
        Hidden controls of a synth-made target: (M,) for a sound, (T, M) for a phrase.
    params : ndarray or None
        The engine parameters they give: (N,) or (T, N).
    source : str
        ``synth`` or the file's path.
    """

    name: str
    audio: np.ndarray
    controls: np.ndarray | None = None
    params: np.ndarray | None = None
    source: str = "synth"


def synth_sound(renderer, layout: ActionLayout, *, rng: np.random.Generator, duration: float, sample_rate: int, name: str) -> Target:
    """A sound of the synth at uniformly drawn hidden controls (quantized to the choices)."""
    u = layout.quantize(rng.random(layout.n_controls))
    p = layout.to_engine(u)
    audio = renderer.render(p[None, :], duration=duration, sample_rate=sample_rate)[0]
    return Target(name=name, audio=np.asarray(audio, dtype=np.float32), controls=u, params=p)


def phrase_controls(layout: ActionLayout, *, rng: np.random.Generator, total_steps: int) -> np.ndarray:
    """Hidden controls of a melodic phrase, shape (total_steps, M) (see the module docstring)."""
    u = np.empty((total_steps, layout.n_controls))
    u[0] = rng.random(layout.n_controls)
    kinds = [layout.specs[i].type for i in layout.controls]
    sizes = [len(layout.specs[i].values or []) for i in layout.controls]
    for t in range(1, total_steps):
        for k, kind in enumerate(kinds):
            if kind == "choice":
                n = sizes[k]
                idx = min(int(u[t - 1, k] * n), n - 1) + int(rng.choice(PHRASE_CHOICE_STEPS))
                if idx < 0:
                    idx = -idx
                if idx > n - 1:
                    idx = 2 * (n - 1) - idx
                u[t, k] = (np.clip(idx, 0, n - 1) + 0.5) / n
            else:
                u[t, k] = np.clip(u[t - 1, k] + rng.normal(0.0, PHRASE_DRIFT), 0.0, 1.0)
    return layout.quantize(u)


def synth_phrase(
    renderer, layout: ActionLayout, *, rng: np.random.Generator, total_steps: int, step_seconds: float, sample_rate: int, name: str
) -> Target:
    """A phrase of the synth: ``total_steps`` segments at hidden controls, concatenated."""
    u = phrase_controls(layout, rng=rng, total_steps=total_steps)
    p = layout.to_engine(u)
    audio = renderer.render(p, duration=step_seconds, sample_rate=sample_rate)
    return Target(name=name, audio=np.asarray(audio, dtype=np.float32).reshape(-1), controls=u, params=p)


def resolve_file(*, file: str, corpus: str | None, workspace: Path) -> Path:
    """The path of a target file: ``corpora/<corpus>/audio/<file>.*`` or ``<workspace>/<file>``.

    Raises
    ------
    NotFoundError
        No such file (the message lists the corpus's files, with a close match).
    """
    from rlimpro.audiofile import supported_extensions
    from rlimpro.workspace import corpus_dir, did_you_mean

    workspace = Path(workspace)
    if corpus is None:
        path = Path(file).expanduser()
        path = path if path.is_absolute() else workspace / path
        if not path.is_file():
            raise NotFoundError(f"target file {path} does not exist")
        return path
    folder = corpus_dir(corpus, workspace=workspace) / "audio"
    exts = supported_extensions()

    def candidates() -> list[Path]:
        return sorted(p for p in folder.glob("*") if p.suffix.lower() in exts) if folder.is_dir() else []

    found = [p for p in candidates() if p.stem == file or p.name == file]
    if not found and corpus == "demo":
        from rlimpro.demo_corpus import make_demo_corpus

        make_demo_corpus(workspace=workspace)
        found = [p for p in candidates() if p.stem == file or p.name == file]
    if not found:
        stems = [p.stem for p in candidates()]
        raise NotFoundError(
            f"target '{file}' is not a file of corpus '{corpus}' ({folder}){did_you_mean(file, stems)}"
            f" (files: {', '.join(stems) or 'none'})"
        )
    return found[0]


def file_target(path: Path, *, start: float, seconds: float, sample_rate: int, name: str, step_seconds: float | None = None) -> Target:
    """``seconds`` s of an audio file from ``start`` s, mono at ``sample_rate``.

    Parameters
    ----------
    step_seconds : float, optional
        The sequence task's step: a file shorter than one step gets its own message.

    Raises
    ------
    AudioError
        The file cannot be decoded.
    ParameterError
        The file holds less than ``seconds`` s after ``start`` (or less than one step).
    """
    from rlimpro.audiofile import read_audio
    from rlimpro.errors import AudioError

    try:
        audio, _ = read_audio(path, sample_rate=sample_rate)
    except AudioError as exc:
        raise AudioError(f"target file {path}: {exc}") from exc
    first = int(round(start * sample_rate))
    n = int(round(seconds * sample_rate))
    have = max(audio.size - first, 0) / sample_rate
    if step_seconds is not None and have < step_seconds:
        raise ParameterError(
            f"target file {path} holds {have:.3f} s from start {start:g} s, shorter than one step "
            f"(step_seconds {step_seconds:g} s); use a longer file, an earlier start or a shorter step"
        )
    if audio.size - first < n:
        hint = ""
        if step_seconds is not None:
            hint = f"; it has room for total_steps <= {int(have / step_seconds + 1e-9)}"
        raise ParameterError(
            f"target file {path} holds {have:.3f} s from start {start:g} s but the task needs {seconds:g} s{hint}"
        )
    return Target(name=name, audio=np.asarray(audio[first : first + n], dtype=np.float32), source=str(path))


class TargetPool:
    """The targets an environment plays.

    Parameters
    ----------
    fixed : list of Target
        Held-out targets (played in turn when ``make_random`` is None) or fixed training targets.
    make_random : callable(rng, index) -> Target, optional
        Makes a fresh synth target from the environment's generator (training).
    random_fraction : float
        Share of episodes with a fresh random target when both kinds exist.
    """

    def __init__(self, *, fixed: list[Target] | None = None, make_random: Callable[[np.random.Generator, int], Target] | None = None, random_fraction: float = 1.0):
        self.fixed = list(fixed or [])
        self.make_random = make_random
        self.random_fraction = float(random_fraction)
        if not self.fixed and make_random is None:
            raise ParameterError("no targets: give synth targets or target files")
        self._next = 0
        self._made = 0

    @property
    def cycles(self) -> bool:
        """Whether the pool plays its fixed targets in turn (evaluation)."""
        return self.make_random is None

    def draw(self, rng: np.random.Generator) -> Target:
        """The next episode's target."""
        if self.make_random is None:
            target = self.fixed[self._next % len(self.fixed)]
            self._next += 1
            return target
        if not self.fixed or rng.random() < self.random_fraction:
            self._made += 1
            return self.make_random(rng, self._made)
        return self.fixed[int(rng.integers(len(self.fixed)))]

    def pick(self, key: int | str) -> Target:
        """A fixed target by index or name."""
        if isinstance(key, str):
            for t in self.fixed:
                if t.name == key:
                    return t
            from rlimpro.workspace import did_you_mean

            names = [t.name for t in self.fixed]
            raise ParameterError(f"no target named '{key}'{did_you_mean(key, names)} (targets: {', '.join(names)})")
        if not 0 <= int(key) < len(self.fixed):
            raise ParameterError(f"target index {key}: the pool holds {len(self.fixed)} fixed targets")
        return self.fixed[int(key)]
