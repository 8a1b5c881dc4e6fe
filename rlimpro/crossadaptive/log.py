"""The cross-adaptive trajectory / session log: both musicians, the processed signal and the parameters per frame.

CSV columns: ``frame`` (the frame index ``i``, the same for every stream: one clock), ``time``
(``i * hop / sample_rate``, s), ``param-0 … param-{N-1}`` (the effect parameters decided at frame
``i``, in [0, 1]), then for every descriptor in canonical order ``source:<d>`` (the dry source's
frame ``i``), ``processed:<d>`` (the processed signal's frame ``i``) and ``target:<d>`` (the target's
frame ``i``), raw values. The JSON sidecar names the run, the chain and the analysis settings.

Rows are buffered and appended to a hidden temporary file that is renamed onto the log when it is
closed, so a reader never sees half a log and memory stays bounded however long a live session runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.csvlog import CsvLog
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError
from rlimpro.tables import sidecar_path

STREAMS = ("source", "processed", "target")


def log_columns(n_params: int) -> list[str]:
    """``frame``, ``time``, ``param-i``, then ``<stream>:<d>`` for stream in source, processed, target."""
    return (["frame", "time"] + [f"param-{i}" for i in range(n_params)]
            + [f"{s}:{d}" for s in STREAMS for d in DESCRIPTORS])


class CrossLog(CsvLog):
    """Append-only cross-adaptive log, written atomically on :meth:`close`.

    Parameters
    ----------
    path : Path
        The CSV (its folder is created); the sidecar is ``<path>.json``.
    n_params : int
        Effect parameters.

    Raises
    ------
    ParameterError
        The folder cannot be written.
    """

    def __init__(self, path: Path, *, n_params: int):
        self.n_params = int(n_params)
        columns = log_columns(self.n_params)
        super().__init__(path, columns=columns, formats=["%d"] + ["%.9g"] * (len(columns) - 1), label=f"log {path}")

    def add(self, *, frame: int, time: float, params: np.ndarray, source: np.ndarray, processed: np.ndarray,
            target: np.ndarray) -> None:
        """Append the row of frame ``frame`` (raw descriptor vectors of shape (len(DESCRIPTORS),))."""
        row = self._next_row()
        n, d = self.n_params, len(DESCRIPTORS)
        row[0] = frame
        row[1] = time
        row[2 : 2 + n] = params
        row[2 + n : 2 + n + d] = source
        row[2 + n + d : 2 + n + 2 * d] = processed
        row[2 + n + 2 * d :] = target
        self._commit_row()


def read_log(path: Path) -> tuple[Any, dict[str, Any]]:
    """A cross-adaptive log as ``(DataFrame, sidecar dict)``.

    Raises
    ------
    NotFoundError
        No such file.
    ParameterError
        Not a cross-adaptive log (missing columns).
    """
    import json

    import pandas as pd

    from rlimpro.errors import NotFoundError

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"log {path} does not exist")
    frame = pd.read_csv(path)
    missing = [c for c in ("frame", "time", *(f"{s}:{DESCRIPTORS[0]}" for s in STREAMS)) if c not in frame.columns]
    if missing:
        raise ParameterError(f"{path} is not a cross-adaptive log (missing columns {', '.join(missing)})")
    side = sidecar_path(path)
    meta = json.loads(side.read_text()) if side.is_file() else {}
    return frame, meta
