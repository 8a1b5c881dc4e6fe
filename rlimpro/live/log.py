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
stays bounded however long the session.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError
from rlimpro.tables import publish, sidecar_path, write_json_atomic

FLUSH_ROWS = 256


def log_columns(n_params: int) -> list[str]:
    """``time``, ``active``, ``param-i``, ``target:<d>``, ``agent:<d>`` in that order."""
    return (
        ["time", "active"]
        + [f"param-{i}" for i in range(n_params)]
        + [f"target:{d}" for d in DESCRIPTORS]
        + [f"agent:{d}" for d in DESCRIPTORS]
    )


class SessionLog:
    """Append-only session log written atomically on :meth:`close`.

    Parameters
    ----------
    path : Path
        The CSV to write (its folder is created). The sidecar goes to ``path.with_suffix(".json")``.
    n_params : int
        Synth parameters per row.
    """

    def __init__(self, path: Path, *, n_params: int):
        self.path = Path(path)
        if self.path.suffix.lower() != ".csv":
            raise ParameterError(f"--log {self.path}: the session log is a CSV file; give a name ending in .csv")
        self.n_params = int(n_params)
        self.columns = log_columns(self.n_params)
        self._width = len(self.columns)
        self._buf = np.empty((FLUSH_ROWS, self._width))
        self._n_buf = 0
        self.rows = 0
        self.active_rows = 0
        self._fmt = ",".join(["%.9g", "%d"] + ["%.9g"] * (self._width - 2))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        except OSError as exc:
            raise ParameterError(f"--log {self.path}: cannot write to {self.path.parent} ({exc.strerror or exc})") from exc
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "w", buffering=1 << 16)
        self._fh.write(",".join(self.columns) + "\n")
        self.closed = False

    def add(self, *, time: float, active: bool, params: np.ndarray, target: np.ndarray, agent: np.ndarray) -> None:
        """Append one row (buffered; written every :data:`FLUSH_ROWS` rows)."""
        row = self._buf[self._n_buf]
        n = self.n_params
        d = len(DESCRIPTORS)
        row[0] = time
        row[1] = 1.0 if active else 0.0
        row[2 : 2 + n] = params
        row[2 + n : 2 + n + d] = target
        row[2 + n + d :] = agent
        self._n_buf += 1
        self.rows += 1
        self.active_rows += int(active)
        if self._n_buf == FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows to the temporary file."""
        if self._n_buf:
            np.savetxt(self._fh, self._buf[: self._n_buf], fmt=self._fmt.split(","), delimiter=",")
            self._n_buf = 0
        self._fh.flush()

    def close(self, meta: dict[str, Any]) -> None:
        """Flush, rename the CSV into place and write the JSON sidecar ``meta`` (plus columns, rows)."""
        if self.closed:
            return
        self.flush()
        self._fh.close()
        publish(self._tmp, self.path)
        self.closed = True
        from rlimpro import __version__

        write_json_atomic(
            sidecar_path(self.path),
            {"rlimpro_version": __version__, **meta, "rows": self.rows, "active_rows": self.active_rows,
             "columns": self.columns},
        )

    def discard(self) -> None:
        """Drop the log (an error before anything useful happened)."""
        if not self.closed:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)
            self.closed = True
