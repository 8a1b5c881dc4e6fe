"""Target sources: what the agent is asked to imitate during an episode, by ``training_mode``.

- ``corpus``: frames of a corpus file in order. Which file (and, when the file is longer than an
  episode, which stretch of it) is drawn from the environment's ``np_random``, so a fixed seed gives a
  reproducible sequence of different files, never one file replayed forever. ``order="cycle"`` plays
  whole files one after the other in sorted order (evaluation).
- ``static_random``: one target for the whole episode, the descriptors of a random lookup row (a
  sound the synth can make).
- ``dynamic_random``: a random lookup row that jumps to another random row with probability
  ``change_prob`` per step (piecewise-constant "notes" of mean length ``1 / change_prob`` steps).
- ``mixed_random``: each episode is static_random or dynamic_random with equal probability.
- ``mixed_random+corpus``: each episode is corpus with probability ``corpus_fraction``, otherwise
  mixed_random.

An episode's targets are an array of packed rows (see :meth:`FeatureSpace.packed`), built at reset so
that a step only reads one row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

import numpy as np

from rlimpro.errors import ParameterError

TRAINING_MODES = ("corpus", "static_random", "dynamic_random", "mixed_random", "mixed_random+corpus")
TrainingMode = Literal["corpus", "static_random", "dynamic_random", "mixed_random", "mixed_random+corpus"]


@dataclasses.dataclass
class Episode:
    """The targets of one episode.

    Attributes
    ----------
    targets : ndarray, shape (L, K)
        Packed target rows, one per step.
    mode : str
        ``corpus``, ``static_random`` or ``dynamic_random``.
    file : str or None
        Corpus file stem (corpus episodes).
    start : int
        First frame of the file played (corpus episodes).
    rows : ndarray of int or None
        Lookup rows used as targets (random episodes), shape (L,).
    """

    targets: np.ndarray
    mode: str
    file: str | None = None
    start: int = 0
    rows: np.ndarray | None = None


class TargetSource:
    """Draws the targets of each episode.

    Parameters
    ----------
    mode : str
        One of :data:`TRAINING_MODES`.
    grid_rows : ndarray, shape (rows, K)
        Packed rows of every lookup grid point (the reachable targets).
    corpus : mapping str -> ndarray (frames, K)
        Packed rows of each corpus file (needed by the corpus modes).
    episode_steps : int or None
        Steps per episode; ``None`` plays corpus files whole (random modes need a number).
    change_prob : float
        dynamic_random: probability per step that the target jumps, in [0, 1].
    corpus_fraction : float
        mixed_random+corpus: probability that an episode is a corpus episode, in [0, 1].
    order : {"random", "cycle"}
        corpus: files drawn at random (training) or played whole in sorted order (evaluation).

    Raises
    ------
    ParameterError
        Unknown mode, a corpus mode without corpus files, random modes without an episode length.
    """

    def __init__(
        self,
        *,
        mode: str,
        grid_rows: np.ndarray,
        corpus: Mapping[str, np.ndarray] | None = None,
        episode_steps: int | None = None,
        change_prob: float = 0.02,
        corpus_fraction: float = 0.5,
        order: Literal["random", "cycle"] = "random",
    ):
        from rlimpro.workspace import did_you_mean

        if mode not in TRAINING_MODES:
            raise ParameterError(
                f"training_mode '{mode}' is unknown{did_you_mean(mode, list(TRAINING_MODES))} "
                f"(choose {', '.join(TRAINING_MODES)})"
            )
        if order not in ("random", "cycle"):
            raise ParameterError(f"order '{order}': choose random or cycle")
        self.mode = mode
        self.grid_rows = np.asarray(grid_rows, dtype=np.float64)
        self.files = sorted(corpus or {})
        self.corpus = {k: np.asarray(v, dtype=np.float64) for k, v in (corpus or {}).items()}
        for stem, rows in self.corpus.items():
            if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] != self.grid_rows.shape[1]:
                raise ParameterError(f"corpus file '{stem}' has no usable frames (shape {rows.shape})")
        if mode in ("corpus", "mixed_random+corpus") and not self.files:
            raise ParameterError(f"training_mode '{mode}' needs corpus files with active frames; none were given")
        if episode_steps is not None and episode_steps < 1:
            raise ParameterError(f"max_episode_steps {episode_steps} must be >= 1")
        if mode != "corpus" and episode_steps is None:
            raise ParameterError(f"training_mode '{mode}' needs max_episode_steps (random targets have no natural end)")
        if not (0.0 <= change_prob <= 1.0) or not (0.0 <= corpus_fraction <= 1.0):
            raise ParameterError("target_change_prob and corpus_fraction must be in [0, 1]")
        self.episode_steps = episode_steps
        self.change_prob = float(change_prob)
        self.corpus_fraction = float(corpus_fraction)
        self.order = order
        self._next = 0

    # ------------------------------------------------------------------ episodes
    def episode(self, rng: np.random.Generator, *, file: str | None = None) -> Episode:
        """The targets of a new episode, drawn with ``rng`` (the environment's ``np_random``).

        Parameters
        ----------
        rng : numpy.random.Generator
        file : str, optional
            Play this corpus file whole, from its first frame, whatever the mode.

        Raises
        ------
        ParameterError
            ``file`` is not one of the corpus files.
        """
        if file is not None:
            if file not in self.corpus:
                from rlimpro.workspace import did_you_mean

                raise ParameterError(f"corpus file '{file}' is not in this environment{did_you_mean(file, self.files)}")
            return Episode(targets=self.corpus[file], mode="corpus", file=file, start=0)
        mode = self.mode
        if mode == "mixed_random+corpus":
            mode = "corpus" if rng.random() < self.corpus_fraction else "mixed_random"
        if mode == "mixed_random":
            mode = "static_random" if rng.random() < 0.5 else "dynamic_random"
        if mode == "corpus":
            return self._corpus_episode(rng)
        return self._random_episode(rng, dynamic=mode == "dynamic_random")

    def _corpus_episode(self, rng: np.random.Generator) -> Episode:
        if self.order == "cycle":
            stem = self.files[self._next % len(self.files)]
            self._next += 1
            return Episode(targets=self.corpus[stem], mode="corpus", file=stem, start=0)
        stem = self.files[int(rng.integers(len(self.files)))]
        rows = self.corpus[stem]
        length = rows.shape[0] if self.episode_steps is None else min(self.episode_steps, rows.shape[0])
        start = int(rng.integers(rows.shape[0] - length + 1))
        return Episode(targets=rows[start : start + length], mode="corpus", file=stem, start=start)

    def _random_episode(self, rng: np.random.Generator, *, dynamic: bool) -> Episode:
        length = int(self.episode_steps)  # checked in __init__
        n = self.grid_rows.shape[0]
        if not dynamic:
            idx = np.full(length, int(rng.integers(n)))
            return Episode(targets=np.broadcast_to(self.grid_rows[idx[0]], (length, self.grid_rows.shape[1])),
                           mode="static_random", rows=idx)
        jumps = rng.random(length) < self.change_prob
        jumps[0] = False
        seg = np.cumsum(jumps)
        choices = rng.integers(n, size=int(seg[-1]) + 1)
        idx = choices[seg]
        return Episode(targets=self.grid_rows[idx], mode="dynamic_random", rows=idx)
