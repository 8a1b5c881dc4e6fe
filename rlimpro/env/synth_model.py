"""The synth model of the environment: parameters -> descriptors by indexing the lookup grid.

The lookup table's rows are the grid ``linspace(0, 1, subdiv)`` per parameter in C order, so the row
of grid index ``(i_0, ..., i_{N-1})`` is ``sum_k i_k * subdiv ** (N - 1 - k)``. A parameter vector is
turned into a row by arithmetic, never by searching the table:

- ``nearest``: ``i_k = floor(p_k * (subdiv - 1) + 0.5 + 1e-9)``, one row (halfway between two grid
  points goes up, also when float rounding lands a hair below the middle — so parameters read back
  from a CSV give the same row as the ones computed);
- ``multilinear``: the ``2 ** N`` corners of the grid cell around ``p`` weighted by
  ``prod_k (f_k if corner_k else 1 - f_k)`` with ``f_k`` the position inside the cell; exact at grid
  points and continuous in ``p``. A note cannot be averaged with "no note", nor with a note an octave
  away: the *gated* columns (``pitch-midi``, whose unpitched value is 0) are interpolated over the
  pitched corners only, are unpitched where those corners weigh less than half, and take the heaviest
  pitched corner's value where the pitched corners disagree by more than :data:`PITCH_JUMP` semitones
  (a pitch tracker's octave jump, or a register break of the synth: no sound lies halfway)
  (:meth:`LookupGrid.of_descriptors`).

Both are O(1) per query in the table size. :func:`nearest_by_scan` is the prototype's method (an
argmin over every row), kept as the reference for tests and the baseline for ``bench/bench_env.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import MismatchError, ParameterError

INTERPOLATIONS = ("nearest", "multilinear")
PITCH_JUMP = 6.0  #: semitones between pitched corners beyond which a gated column is not interpolated
_TIE = 1e-9  # tolerance of the half-way rule of nearest indexing (grid units)
Interpolation = Literal["nearest", "multilinear"]


class LookupGrid:
    """A lookup table viewed as a regular grid over [0, 1]^N.

    Parameters
    ----------
    values : ndarray, shape (subdiv ** n_params, K)
        One row per grid point in C order (param-0 slowest); any K columns (raw descriptors, or the
        environment's packed z-scores).
    n_params : int
        N.
    subdiv : int
        Grid points per parameter, >= 2.
    interpolation : {"nearest", "multilinear"}
    pitch : ndarray, shape (rows,), optional
        Each row's note (raw ``pitch-midi``; 0 where the row has no pitch), which decides how the
        ``gated`` columns are interpolated.
    gated : sequence of int
        Columns interpolated over voiced corners only (multilinear); they take ``unvoiced`` where the
        voiced corners weigh less than half.
    unvoiced : sequence of float
        The value of each gated column where the sound has no pitch.

    Raises
    ------
    ParameterError
        Inconsistent shapes or an unknown interpolation.
    """

    def __init__(
        self,
        values: np.ndarray,
        *,
        n_params: int,
        subdiv: int,
        interpolation: Interpolation = "nearest",
        pitch: np.ndarray | None = None,
        gated: Sequence[int] = (),
        unvoiced: Sequence[float] = (),
    ):
        values = np.ascontiguousarray(values, dtype=np.float64)
        if n_params < 1 or subdiv < 2:
            raise ParameterError(f"a lookup grid needs n_params >= 1 and subdiv >= 2, got {n_params} and {subdiv}")
        if values.ndim != 2 or values.shape[0] != subdiv**n_params:
            raise ParameterError(
                f"a grid of {subdiv}^{n_params} points needs {subdiv**n_params} rows, got array of shape {values.shape}"
            )
        if interpolation not in INTERPOLATIONS:
            raise ParameterError(f"interpolation '{interpolation}': choose one of {', '.join(INTERPOLATIONS)}")
        self.values = values
        self.n_params = int(n_params)
        self.subdiv = int(subdiv)
        self.interpolation: Interpolation = interpolation
        self._s1 = float(subdiv - 1)
        self._half = 0.5 + _TIE
        self.strides = subdiv ** np.arange(n_params - 1, -1, -1, dtype=np.int64)
        self._strides_f = self.strides.astype(np.float64)
        corners = (np.arange(2**n_params)[:, None] >> np.arange(n_params - 1, -1, -1)[None, :]) & 1
        self._corners = corners.astype(bool)  # (2^N, N)
        self._corner_offsets = corners @ self.strides  # (2^N,)
        self.gated = np.asarray(gated, dtype=np.intp)
        self.unvoiced = np.asarray(unvoiced, dtype=np.float64)
        if self.gated.shape != self.unvoiced.shape or (self.gated.size and pitch is None):
            raise ParameterError("gated columns need one unvoiced value each and the rows' pitch")
        self.pitch = None if pitch is None else np.asarray(pitch, dtype=np.float64)
        if self.pitch is not None and self.pitch.shape != (values.shape[0],):
            raise ParameterError(f"pitch must have shape ({values.shape[0]},), got {self.pitch.shape}")
        self._voiced_f = None if self.pitch is None else (self.pitch != 0).astype(np.float64)

    @classmethod
    def of_descriptors(cls, values: np.ndarray, *, n_params: int, subdiv: int, interpolation: Interpolation = "nearest") -> LookupGrid:
        """A grid of raw descriptors (every descriptor, canonical order), ``pitch-midi`` gated by the rows' pitch."""
        from rlimpro.descriptors.derived import UNPITCHED
        from rlimpro.descriptors.registry import descriptor_index

        values = np.asarray(values, dtype=np.float64)
        col = descriptor_index("pitch-midi")
        return cls(values, n_params=n_params, subdiv=subdiv, interpolation=interpolation,
                   pitch=np.where(values[:, col] != UNPITCHED, values[:, col], 0.0), gated=[col], unvoiced=[UNPITCHED])

    def with_values(self, values: np.ndarray, *, gated: Sequence[int] = (), unvoiced: Sequence[float] = ()) -> LookupGrid:
        """The same grid, interpolation and rows' pitch over other per-row values (same row order),
        with their own gated columns."""
        return LookupGrid(values, n_params=self.n_params, subdiv=self.subdiv, interpolation=self.interpolation,
                          pitch=self.pitch if len(gated) else None, gated=gated, unvoiced=unvoiced)

    # ------------------------------------------------------------------ queries
    def index(self, params: np.ndarray) -> int:
        """Row of the grid point nearest to ``params`` (shape (N,), in [0, 1])."""
        return int(np.dot(np.floor(params * self._s1 + self._half), self._strides_f))

    def __call__(self, params: np.ndarray) -> np.ndarray:
        """Values at ``params``, shape (K,). ``params``: shape (N,), clipped to [0, 1] by the caller."""
        if self.interpolation == "nearest":
            return self.values[int(np.dot(np.floor(params * self._s1 + self._half), self._strides_f))]
        x = params * self._s1
        i0 = np.minimum(np.floor(x), self._s1 - 1.0)
        f = x - i0
        w = np.where(self._corners, f, 1.0 - f).prod(axis=1)
        rows = int(np.dot(i0, self._strides_f)) + self._corner_offsets
        corners = self.values[rows]
        out = w @ corners
        if self.gated.size:
            wv = w * self._voiced_f[rows]
            total = wv.sum()
            if total < 0.5:
                out[self.gated] = self.unvoiced
            else:
                g = corners[:, self.gated]
                notes = self.pitch[rows][wv > 0]
                if notes.max() - notes.min() > PITCH_JUMP:  # no sound lies halfway
                    out[self.gated] = g[int(np.argmax(wv))]
                else:
                    out[self.gated] = (wv @ g) / total
        return out

    def batch(self, params: np.ndarray) -> np.ndarray:
        """Values at many parameter vectors.

        Parameters
        ----------
        params : ndarray, shape (B, N), in [0, 1]

        Returns
        -------
        ndarray, shape (B, K)
        """
        p = np.clip(np.asarray(params, dtype=np.float64), 0.0, 1.0)
        if p.ndim != 2 or p.shape[1] != self.n_params:
            raise ParameterError(f"params must have shape (B, {self.n_params}), got {p.shape}")
        if self.interpolation == "nearest":
            return self.values[np.floor(p * self._s1 + self._half).astype(np.int64) @ self.strides]
        x = p * self._s1
        i0 = np.minimum(np.floor(x), self._s1 - 1.0)
        f = x - i0
        w = np.where(self._corners[None], f[:, None, :], 1.0 - f[:, None, :]).prod(axis=2)  # (B, 2^N)
        rows = (i0.astype(np.int64) @ self.strides)[:, None] + self._corner_offsets[None, :]
        out = np.einsum("bc,bck->bk", w, self.values[rows])
        if self.gated.size:
            wv = w * self._voiced_f[rows]  # (B, 2^N)
            total = wv.sum(axis=1)
            g = self.values[rows][:, :, self.gated]  # (B, 2^N, k)
            mixed = np.einsum("bc,bck->bk", wv, g) / np.maximum(total, 1e-12)[:, None]
            notes, seen = self.pitch[rows], wv > 0
            spread = np.where(seen, notes, -np.inf).max(axis=1) - np.where(seen, notes, np.inf).min(axis=1)
            heaviest = g[np.arange(len(g)), np.argmax(wv, axis=1)]
            mixed = np.where((spread > PITCH_JUMP)[:, None], heaviest, mixed)
            out[:, self.gated] = np.where((total >= 0.5)[:, None], mixed, self.unvoiced[None, :])
        return out

    def grid_params(self) -> np.ndarray:
        """Parameters of every row, shape (subdiv ** N, N), C order."""
        axes = np.meshgrid(*([np.linspace(0.0, 1.0, self.subdiv)] * self.n_params), indexing="ij")
        return np.stack([a.ravel() for a in axes], axis=1)


def nearest_by_scan(params: np.ndarray, grid_params: np.ndarray) -> int:
    """The prototype's method: the row whose parameters are closest to ``params`` (argmin over all rows).

    O(rows) per call; a reference and a benchmark baseline, never used by the environment.
    """
    diff = grid_params - params
    return int(np.argmin(np.einsum("ij,ij->i", diff, diff)))


def grid_from_table(frame: Any, meta: dict[str, Any], *, interpolation: Interpolation = "nearest", source: str = "lookup.csv") -> LookupGrid:
    """A :class:`LookupGrid` of raw descriptors from a lookup table and its sidecar.

    Checks that the table really is the grid its sidecar describes (row count, parameter columns in
    C order), so that indexing by arithmetic is valid.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``param-0..param-{N-1}`` then every descriptor.
    meta : dict
        The ``lookup.json`` sidecar (``n_params``, ``subdiv``).
    source : str
        File name for error messages.

    Raises
    ------
    MismatchError
        The table is not the regular grid its sidecar says, or lacks descriptor columns.
    """
    try:
        n, s = int(meta["n_params"]), int(meta["subdiv"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MismatchError(f"{source}: sidecar lacks n_params/subdiv; re-create it with rlimpro lookup") from exc
    pcols = [f"param-{i}" for i in range(n)]
    missing = [c for c in [*pcols, *DESCRIPTORS] if c not in frame.columns]
    if missing:
        raise MismatchError(f"{source}: columns {', '.join(missing[:5])} are missing; re-create it with rlimpro lookup")
    if len(frame) != s**n:
        raise MismatchError(f"{source}: {len(frame)} rows, but a grid of {s}^{n} points has {s**n}; re-create it")
    grid = LookupGrid.of_descriptors(frame[list(DESCRIPTORS)].to_numpy(np.float64), n_params=n, subdiv=s, interpolation=interpolation)
    if not np.allclose(frame[pcols].to_numpy(np.float64), grid.grid_params(), atol=1e-6, rtol=0):
        raise MismatchError(f"{source}: rows are not the grid linspace(0, 1, {s}) in C order; re-create it with rlimpro lookup")
    if not np.isfinite(grid.values).all():
        raise MismatchError(f"{source}: holds non-finite descriptor values; re-create it with rlimpro lookup")
    return grid
