"""The players an imitation agent is measured against, and the timeline every player plays on.

Each player turns the musician's frames into one parameter vector per frame:

- ``follower``: the lookup row nearest to the frame just heard, in the reward's space (the run's
  features, weights, units and pitch mask; a KD-tree, Euclidean), jumping freely. It needs no
  training; it is what users of FluCoMa's KD-tree build. In the environment's timing it scores the
  floor on the lookup model (up to the distance's error cap, which a KD-tree does not know).
- ``follower_smooth``: the follower, its parameters moving at most ``step`` per hop toward the
  follower's row (the limit the agent's incremental actions have).
- ``fixed``: the single lookup row with the lowest mean distance over all evaluated frames (the best
  constant setting, chosen once for all files).
- ``floor``: not a player but a bound: per frame, the distance of the nearest lookup row.
- ``agent`` and ``random`` play through the environment (:mod:`rlimpro.evaluate`).

A player decides only on the musician's active frames and holds its parameters on the others
(:func:`timeline`), exactly as ``rlimpro live`` does; a file starts from the synth's defaults.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rlimpro.errors import ParameterError

_CHUNK = 512  # target frames per block of the all-rows distance computations


def row_distances(grid_features: np.ndarray, target_features: np.ndarray, mask: np.ndarray, cap: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Distances between every lookup row and every target frame, a block of frames at a time.

    ``d[t, r] = sqrt(sum_i min(m[t, i] |g[r, i] - x[t, i]|, cap_i)^2)``: :meth:`FeatureSpace.distance`.

    Parameters
    ----------
    grid_features : ndarray, shape (rows, R)
        :meth:`FeatureSpace.reward_features` of the lookup rows.
    target_features : ndarray, shape (T, R)
        The same of the target frames.
    mask : ndarray, shape (T, R)
        :meth:`FeatureSpace.reward_mask` of the target frames.
    cap : ndarray, shape (R,)
        :attr:`FeatureSpace.error_cap`.

    Yields
    ------
    start : int
        Index of the block's first frame.
    distances : ndarray, shape (block, rows)
    """
    g = np.asarray(grid_features, dtype=np.float64)
    chunk = max(1, min(_CHUNK, 2_000_000 // max(1, g.size)))  # bounds the (block, rows, R) temporaries
    for s in range(0, target_features.shape[0], chunk):
        x = target_features[s : s + chunk]
        m = mask[s : s + chunk]
        diff = np.minimum(np.abs(g[None, :, :] - x[:, None, :]) * m[:, None, :], cap)
        yield s, np.sqrt(np.einsum("trk,trk->tr", diff, diff))


def nearest_rows(feature_space, grid_values: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lookup row nearest to each target frame and its distance.

    Parameters
    ----------
    feature_space : FeatureSpace
    grid_values : ndarray, shape (rows, len(DESCRIPTORS))
        Raw descriptors of the lookup rows.
    targets : ndarray, shape (T, len(DESCRIPTORS))
        Raw target frames.

    Returns
    -------
    rows : ndarray of int, shape (T,)
    distances : ndarray, shape (T,)
    """
    gf = feature_space.reward_features(grid_values)
    rows = np.empty(targets.shape[0], dtype=np.int64)
    dist = np.empty(targets.shape[0])
    for s, d in row_distances(gf, feature_space.reward_features(targets), feature_space.reward_mask(targets), feature_space.error_cap):
        k = np.argmin(d, axis=1)
        rows[s : s + len(k)] = k
        dist[s : s + len(k)] = d[np.arange(len(k)), k]
    return rows, dist


class Follower:
    """The follower as a function: the parameters of the lookup row nearest to a target frame.

    A KD-tree over the lookup rows' reward features (scipy's ``cKDTree``), built once; targets that are
    not pitched are matched on the other reward features only (a second tree), as the distance's pitch
    mask says. One query per frame live; whole files at once in training and evaluation.

    Parameters
    ----------
    feature_space : FeatureSpace
    grid_values : ndarray, shape (rows, len(DESCRIPTORS))
        Raw descriptors of the lookup rows.
    grid_params : ndarray, shape (rows, N)
        Their parameters.
    """

    def __init__(self, feature_space, grid_values: np.ndarray, grid_params: np.ndarray):
        from scipy.spatial import cKDTree

        self.feature_space = feature_space
        self.grid_params = np.asarray(grid_params, dtype=np.float64)
        gf = feature_space.reward_features(grid_values)
        self._trees = {True: cKDTree(gf)}
        keep = np.setdiff1d(np.arange(gf.shape[1]), feature_space.pitch_positions)
        self._unpitched_cols = keep
        if feature_space.pitch_positions.size and keep.size:
            self._trees[False] = cKDTree(gf[:, keep])

    def rows(self, targets: np.ndarray) -> np.ndarray:
        """Nearest lookup row of each raw target frame, shape (T,) (targets: (T, len(DESCRIPTORS)))."""
        targets = np.atleast_2d(np.asarray(targets, dtype=np.float64))
        tf = self.feature_space.reward_features(targets)
        pitched = self.feature_space.reward_mask(targets).min(axis=1) > 0 if False in self._trees else np.ones(len(tf), bool)
        out = np.empty(len(tf), dtype=np.int64)
        if pitched.any():
            out[pitched] = self._trees[True].query(tf[pitched])[1]
        if (~pitched).any():
            out[~pitched] = self._trees[False].query(tf[~pitched][:, self._unpitched_cols])[1]
        return out

    def params(self, targets: np.ndarray) -> np.ndarray:
        """Parameters of the nearest lookup row of each target frame, shape (T, N)."""
        return self.grid_params[self.rows(targets)]


def best_fixed_row(feature_space, grid_values: np.ndarray, targets: list[np.ndarray]) -> int:
    """The lookup row with the lowest mean distance over all frames of all ``targets`` (raw, (T_i, D))."""
    gf = feature_space.reward_features(grid_values)
    sums = np.zeros(gf.shape[0])
    for frames in targets:
        for _, d in row_distances(gf, feature_space.reward_features(frames), feature_space.reward_mask(frames), feature_space.error_cap):
            sums += d.sum(axis=0)
    return int(np.argmin(sums))


def limited(path: np.ndarray, *, start: np.ndarray, step: float) -> np.ndarray:
    """Follow ``path`` (shape (A, N)) moving each parameter at most ``step`` per frame from ``start`` (N,)."""
    if not step > 0:
        raise ParameterError(f"step {step} must be > 0")
    out = np.empty_like(path, dtype=np.float64)
    p = np.asarray(start, dtype=np.float64).copy()
    for t in range(path.shape[0]):
        p = p + np.clip(path[t] - p, -step, step)
        out[t] = p
    return out


def timeline(decisions: np.ndarray, *, active: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Parameters at every frame from the decisions made on the active frames.

    Parameters
    ----------
    decisions : ndarray, shape (A, N)
        Parameters chosen at each active frame, in order; ``A = active.sum()``.
    active : ndarray of bool, shape (T,)
    start : ndarray, shape (N,)
        Parameters before the first decision (the synth's defaults).

    Returns
    -------
    ndarray, shape (T, N)
        Held (the last decision, or ``start``) on inactive frames.
    """
    active = np.asarray(active, dtype=bool)
    decisions = np.asarray(decisions, dtype=np.float64)
    if decisions.shape[0] != int(active.sum()):
        raise ParameterError(f"{decisions.shape[0]} decisions for {int(active.sum())} active frames")
    table = np.vstack([np.asarray(start, dtype=np.float64)[None, :], decisions])
    return table[np.cumsum(active)]


def movement(params: np.ndarray, *, active: np.ndarray, start: np.ndarray) -> float:
    """Mean absolute parameter change per hop over the active frames (the hop into each active frame),
    averaged over parameters; [0, 1] parameter units. 0 when no frame is active.

    Parameters
    ----------
    params : ndarray, shape (T, N)
        A :func:`timeline`.
    active : ndarray of bool, shape (T,)
    start : ndarray, shape (N,)
        Parameters before frame 0.
    """
    prev = np.vstack([np.asarray(start, dtype=np.float64)[None, :], params[:-1]])
    step = np.abs(params - prev).mean(axis=1)[np.asarray(active, dtype=bool)]
    return float(step.mean()) if step.size else 0.0
