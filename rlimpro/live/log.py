"""The session log: what the agent heard and did, hop by hop, for ``rlimpro evaluate RUN --log``.

CSV columns (the session-log format of :mod:`rlimpro.evaluate`, plus ``active``): ``time`` (s, of
the frame: ``i * hop / sample_rate`` for audio input, seconds since the start for OSC input),
``active`` (1: the agent decided on this frame; 0: the musician was silent and the parameters were
held — ``rlimpro evaluate --log`` scores the active rows, as evaluation skips silent frames),
``param-0 … param-{N-1}`` (the parameters after the frame's decision, in [0, 1]), ``target:<name>``
for every descriptor in canonical order (the musician's frame, raw values), ``agent:<name>`` for every
descriptor (the synth's descriptors at those parameters from the run's lookup-grid model, raw values).
The JSON sidecar (``<log>.json``) holds the run, synth, analysis settings, input, outputs, counters
and latency statistics.

Rows are buffered and appended to a hidden temporary file beside the log, which is renamed onto the
log when the session closes (Ctrl-C included); a reader never sees a half-written log, and memory
stays bounded however long the session. No row is ever written twice, and after a write error (a full
disk) the log keeps its complete rows and a sidecar that counts them (:mod:`rlimpro.csvlog`);
:func:`check_session_log` refuses a log whose rows disagree with its sidecar or whose time runs
backwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.csvlog import CsvLog
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError


def log_columns(n_params: int) -> list[str]:
    """``time``, ``active``, ``param-i``, ``target:<d>``, ``agent:<d>`` in that order."""
    return (
        ["time", "active"]
        + [f"param-{i}" for i in range(n_params)]
        + [f"target:{d}" for d in DESCRIPTORS]
        + [f"agent:{d}" for d in DESCRIPTORS]
    )


class SessionLog(CsvLog):
    """Append-only session log written atomically on :meth:`close`.

    Parameters
    ----------
    path : Path
        The CSV to write (its folder is created). The sidecar goes to ``path.with_suffix(".json")``.
    n_params : int
        Synth parameters per row.
    """

    def __init__(self, path: Path, *, n_params: int):
        path = Path(path)
        if path.suffix.lower() != ".csv":
            raise ParameterError(f"--log {path}: the session log is a CSV file; give a name ending in .csv")
        self.n_params = int(n_params)
        columns = log_columns(self.n_params)
        super().__init__(path, columns=columns, formats=["%.9g", "%d"] + ["%.9g"] * (len(columns) - 2), label=f"--log {path}")
        self.active_rows = 0
        self.active_rows_written = 0

    def add(self, *, time: float, active: bool, params: np.ndarray, target: np.ndarray, agent: np.ndarray) -> None:
        """Append one row (buffered; written every :data:`~rlimpro.csvlog.FLUSH_ROWS` rows)."""
        row = self._next_row()
        n = self.n_params
        d = len(DESCRIPTORS)
        row[0] = time
        row[1] = 1.0 if active else 0.0
        row[2 : 2 + n] = params
        row[2 + n : 2 + n + d] = target
        row[2 + n + d :] = agent
        self.active_rows += int(active)
        self._commit_row()

    def sidecar_extra(self) -> dict[str, Any]:
        return {"rows": self.rows_written, "active_rows": self.active_rows_written, "columns": self.columns}

    def flush(self) -> None:
        """Write the buffered rows (see :meth:`rlimpro.csvlog.CsvLog.flush`); counts the active ones written."""
        active = int(self._buf[: self._n_buf, 1].sum()) if self._n_buf else 0
        super().flush()
        self.active_rows_written += active


def check_session_log(path: Path, frame: Any) -> None:
    """Refuse a session log whose rows disagree with its sidecar or whose ``time`` runs backwards.

    Parameters
    ----------
    path : Path
        The CSV (its sidecar, when present, is ``path.with_suffix(".json")``).
    frame : DataFrame
        The CSV as read.

    Raises
    ------
    MismatchError
    """
    from rlimpro.csvlog import check_log_rows

    times = frame["time"].to_numpy(dtype=np.float64) if "time" in frame.columns else None
    check_log_rows(Path(path), len(frame), times, label=f"--log {path}")

