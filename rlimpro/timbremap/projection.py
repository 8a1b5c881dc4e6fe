"""Geometry of the timbre map: z-scoring, 2-D projections, placing new points, nearest rows, coverage.

All distances are measured in the lookup table's z-scored descriptor space over the chosen features
(each descriptor minus its mean over the table, divided by its standard deviation over the table — the
same normalisation the learning environment uses) and reported as an RMS over descriptors:

    d(a, b) = sqrt(mean_k (z_a[k] - z_b[k]) ** 2)

which is the per-step tracking RMSE of DESIGN.md "Evaluation" (the ``floor`` RMSE of a frame is its
distance to the nearest lookup row). Being a mean over descriptors, it does not grow with their number.

Projections (``method``):

- ``pca`` (scikit-learn): linear; new points (corpus frames) go through the same transform.
- ``tsne`` (scikit-learn, Barnes-Hut): cannot transform new points; a new point is placed at the
  inverse-distance-weighted mean of the map positions of its :data:`PLACEMENT_NEIGHBOURS` nearest
  lookup rows in z-scored descriptor space (the way openTSNE initialises new points before
  optimising them). It lands among the synth sounds it resembles most; how far it is from them is
  told by the coverage figure, not by the map.
- ``umap`` (the optional ``umap-learn`` package): ``UMAP.transform`` places new points.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

import numpy as np

from rlimpro.descriptors.scaling import z_scale
from rlimpro.errors import ParameterError

METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
METHOD_TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
DEFAULT_PERPLEXITY = 30.0
PLACEMENT_NEIGHBOURS = 5
#: Default coverage threshold: RMS z-scored distance (see the module docstring and :func:`coverage`).
COVERAGE_THRESHOLD = 0.5
#: Further thresholds reported beside the chosen one, so a reader sees how coverage grows.
COVERAGE_CURVE = (0.25, 0.5, 1.0, 2.0)
TSNE_THREADS_FROM = 3000  # t-SNE runs single-threaded below this many points
_SPACING_SAMPLE = 2000  # lookup rows sampled to estimate the grid's own neighbour spacing


@dataclasses.dataclass(frozen=True)
class Scaler:
    """Per-descriptor z-scoring with the lookup table's statistics.

    Attributes
    ----------
    mean, std : ndarray, shape (D,)
        Column means and standard deviations of the lookup table; a column the table does not vary
        gets std 1 in its own unit (:func:`rlimpro.descriptors.scaling.z_scale`, the rule the learning
        environment uses too).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, table: np.ndarray) -> Scaler:
        """Statistics of ``table`` (R, D)."""
        table = np.asarray(table, dtype=np.float64)
        mean = table.mean(axis=0)
        return cls(mean=mean, std=z_scale(mean, table.std(axis=0)))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(M, D) descriptor values -> (M, D) z-scores."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std


def check_method(method: str, *, n_points: int, perplexity: float = DEFAULT_PERPLEXITY) -> None:
    """Refuse a method that cannot run on ``n_points`` points, before any heavy work.

    Raises
    ------
    ParameterError
        Unknown method; t-SNE on too few points for its perplexity or a perplexity <= 0; UMAP when
        umap-learn is not installed; fewer than 3 points for any method.
    """
    from rlimpro.workspace import did_you_mean

    if method not in METHODS:
        raise ParameterError(f"--method {method}: choose one of {', '.join(METHODS)}{did_you_mean(method, METHODS)}")
    if n_points < 3:
        raise ParameterError(f"a map needs at least 3 lookup rows, the table has {n_points}; use a larger --subdiv")
    if method == "tsne":
        if perplexity <= 0:
            raise ParameterError(f"--perplexity {perplexity}: must be > 0")
        need = int(np.floor(3 * perplexity)) + 1
        if n_points <= need:
            best = max((n_points - 2) // 3, 1)
            raise ParameterError(
                f"t-SNE with perplexity {perplexity:g} needs more than {need} points (3 x perplexity + 1 neighbours "
                f"each); the lookup table has {n_points} rows: use --method pca, a larger --subdiv, "
                f"or --perplexity {best} or lower"
            )
    if method == "umap" and importlib.util.find_spec("umap") is None:
        raise ParameterError(
            "--method umap needs the optional package umap-learn, which is not installed: "
            "pip install umap-learn (or use --method pca or tsne)"
        )


@dataclasses.dataclass
class Projection:
    """A fitted 2-D map of the lookup table.

    Attributes
    ----------
    method : str
        ``pca``, ``tsne`` or ``umap``.
    coords : ndarray, shape (R, 2)
        Map position of every lookup row.
    axis_labels : tuple of str
    placement : str
        How :meth:`place` puts new points on the map (one sentence, shown in the page and PNG).
    """

    method: str
    coords: np.ndarray
    axis_labels: tuple[str, str]
    placement: str
    model: Any
    table_z: np.ndarray

    def place(self, z: np.ndarray, *, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Map positions of new points.

        Parameters
        ----------
        z : ndarray, shape (M, D)
            Z-scored descriptors (same scaler and features as the table).
        neighbours : (distances, indices), optional
            Precomputed :func:`nearest_rows` of ``z`` with at least :data:`PLACEMENT_NEIGHBOURS`
            neighbours (t-SNE only; computed when absent).

        Returns
        -------
        ndarray, shape (M, 2)
        """
        z = np.asarray(z, dtype=np.float64)
        if len(z) == 0:
            return np.zeros((0, 2))
        if self.method in ("pca", "umap"):
            return np.asarray(self.model.transform(z), dtype=np.float64)
        k = min(PLACEMENT_NEIGHBOURS, len(self.coords))
        if neighbours is None or neighbours[1].shape[1] < k:
            neighbours = nearest_rows(z, self.table_z, k=k)
        dist, idx = neighbours[0][:, :k], neighbours[1][:, :k]
        weights = 1.0 / (dist + 1e-6)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkc->mc", weights, self.coords[idx])


def fit_projection(
    z: np.ndarray, *, method: str, perplexity: float = DEFAULT_PERPLEXITY, seed: int = 0
) -> Projection:
    """Fit a 2-D projection of the z-scored lookup table.

    Parameters
    ----------
    z : ndarray, shape (R, D)
        Z-scored lookup descriptors, D >= 2.
    method : {"pca", "tsne", "umap"}
    perplexity : float
        t-SNE only.
    seed : int
        Random state of t-SNE / UMAP (PCA is deterministic).

    Returns
    -------
    Projection

    Raises
    ------
    ParameterError
        See :func:`check_method`.
    """
    z = np.asarray(z, dtype=np.float64)
    check_method(method, n_points=len(z), perplexity=perplexity)
    if method == "pca":
        from sklearn.decomposition import PCA

        model = PCA(n_components=2, random_state=seed).fit(z)
        coords = model.transform(z)
        var = model.explained_variance_ratio_ * 100
        labels = (f"PC 1 ({var[0]:.0f} % of variance)", f"PC 2 ({var[1]:.0f} % of variance)")
        placement = "corpus frames go through the same z-scoring and PCA transform as the table"
    elif method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        model = TSNE(
            n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed
        )
        # Each of the 1000 gradient steps opens an OpenMP region; on small tables, and on a busy
        # machine, thread hand-offs cost far more than the work (measured: 125 points 0.2 s on one
        # thread vs 3-17 s on two under load). Large tables keep every core.
        with threadpool_limits(limits=1 if len(z) < TSNE_THREADS_FROM else None, user_api="openmp"):
            coords = model.fit_transform(z)
        labels = ("t-SNE 1", "t-SNE 2")
        placement = (
            f"t-SNE cannot transform new points: a corpus frame is placed at the distance-weighted mean of "
            f"the map positions of its {PLACEMENT_NEIGHBOURS} nearest lookup rows (z-scored descriptor space), "
            "however far from them it is"
        )
    else:
        import umap

        model = umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit(z)  # a seed forces one job anyway
        coords = model.embedding_
        labels = ("UMAP 1", "UMAP 2")
        placement = (
            "corpus frames are placed by UMAP.transform on the same z-scored descriptors, which puts every "
            "frame beside the grid points it resembles most, however far from them it is"
        )
    return Projection(
        method=method,
        coords=np.asarray(coords, dtype=np.float64),
        axis_labels=labels,
        placement=placement,
        model=model,
        table_z=z,
    )


def nearest_rows(queries: np.ndarray, table: np.ndarray, *, k: int = 1, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest table rows of every query (exact, brute force in chunks).

    Parameters
    ----------
    queries : ndarray, shape (M, D)
    table : ndarray, shape (R, D)
    k : int
        Neighbours per query, 1 <= k <= R.
    chunk : int
        Queries per block (bounds memory to chunk x R floats).

    Returns
    -------
    distances : ndarray, shape (M, k)
        RMS distance over the D columns (Euclidean / sqrt(D)), nearest first.
    indices : ndarray, shape (M, k), int64
        Table row of each neighbour.
    """
    queries = np.asarray(queries, dtype=np.float64)
    table = np.asarray(table, dtype=np.float64)
    m, d = queries.shape
    r = len(table)
    if not (1 <= k <= r):
        raise ParameterError(f"k={k} neighbours asked of a table with {r} rows")
    t2 = np.einsum("ij,ij->i", table, table)
    dist = np.empty((m, k))
    idx = np.empty((m, k), dtype=np.int64)
    for start in range(0, m, chunk):
        q = queries[start : start + chunk]
        sq = np.einsum("ij,ij->i", q, q)[:, None] + t2[None, :] - 2.0 * (q @ table.T)
        np.maximum(sq, 0.0, out=sq)
        if k < r:
            part = np.argpartition(sq, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(r), (len(q), r)).copy()
        part_sq = np.take_along_axis(sq, part, axis=1)
        order = np.argsort(part_sq, axis=1, kind="stable")
        idx[start : start + len(q)] = np.take_along_axis(part, order, axis=1)
        dist[start : start + len(q)] = np.take_along_axis(part_sq, order, axis=1)
    return np.sqrt(dist / d), idx


def grid_spacing(table_z: np.ndarray, *, seed: int = 0) -> float:
    """Median RMS distance from a lookup row to its nearest other row (the table's own resolution).

    Estimated on at most 2,000 sampled rows (against the whole table).
    """
    table_z = np.asarray(table_z, dtype=np.float64)
    if len(table_z) < 2:
        return 0.0
    rows = np.arange(len(table_z))
    if len(rows) > _SPACING_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(rows, _SPACING_SAMPLE, replace=False))
    dist, idx = nearest_rows(table_z[rows], table_z, k=2)
    # the nearest is the row itself unless it has an exact duplicate (then the distance 0 is right)
    own = idx[:, 0] == rows
    nearest_other = np.where(own, dist[:, 1], dist[:, 0])
    return float(np.median(nearest_other))


def coverage(
    distances: np.ndarray, *, threshold: float = COVERAGE_THRESHOLD, spacing: float | None = None
) -> dict[str, Any]:
    """The coverage figure: the share of frames whose nearest lookup row lies within ``threshold``.

    Parameters
    ----------
    distances : ndarray, shape (M,)
        RMS z-scored distance of each active corpus frame to its nearest lookup row.
    threshold : float
        Distance counted as "reachable". The default 0.5 means that the synth, at its best grid
        point, is within half of its own standard deviation (over the table) of the frame, RMS over
        descriptors. For scale: two rows drawn at random from a z-scored table are sqrt(2) ~ 1.41
        apart in RMS (the expected squared difference of two z-scores is 2), so 0.5 is about a third
        of the distance between two random sounds of the synth. The result is stored with the
        curve over :data:`COVERAGE_CURVE` so other thresholds can be read too.
    spacing : float, optional
        The table's :func:`grid_spacing`, stored for context.

    Returns
    -------
    dict
        ``coverage`` (0..1), ``threshold``, ``frames``, ``within``, ``distance`` statistics
        (``mean`` = the floor RMSE over these features, ``median``, ``p90``, ``max``), ``curve``
        ({threshold: coverage}) and ``grid_spacing``.

    Raises
    ------
    ParameterError
        No distances, or a threshold <= 0.
    """
    distances = np.asarray(distances, dtype=np.float64)
    if threshold <= 0 or not np.isfinite(threshold):
        raise ParameterError(f"--coverage-threshold {threshold}: must be a positive distance")
    if distances.size == 0:
        raise ParameterError("coverage needs at least one active corpus frame")
    within = int((distances <= threshold).sum())
    curve = {f"{t:g}": float((distances <= t).mean()) for t in sorted(set(COVERAGE_CURVE) | {threshold})}
    return {
        "coverage": within / distances.size,
        "threshold": float(threshold),
        "frames": int(distances.size),
        "within": within,
        "distance": {
            "mean": float(distances.mean()),
            "median": float(np.median(distances)),
            "p90": float(np.percentile(distances, 90)),
            "max": float(distances.max()),
        },
        "curve": curve,
        "grid_spacing": None if spacing is None else float(spacing),
    }
