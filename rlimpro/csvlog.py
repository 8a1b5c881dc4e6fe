"""Append-only CSV logs for long sessions: buffered rows, one atomic rename when closed.

Rows go to a hidden temporary file beside the log and are renamed onto it by :meth:`CsvLog.close`,
so a reader never sees half a log, and memory stays bounded however long a live session runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import ParameterError
from rlimpro.tables import publish, sidecar_path, write_json_atomic

FLUSH_ROWS = 256


class CsvLog:
    """A CSV log with fixed numeric columns and a JSON sidecar written on :meth:`close`.

    Parameters
    ----------
    path : Path
        The CSV (its folder is created); the sidecar is ``path.with_suffix(".json")``.
    columns : list of str
        Column names.
    formats : list of str
        One ``%``-format per column (e.g. ``"%d"``, ``"%.9g"``).
    label : str
        How errors name the log (e.g. ``"--log out.csv"``).

    Raises
    ------
    ParameterError
        The folder cannot be written.
    """

    def __init__(self, path: Path, *, columns: list[str], formats: list[str], label: str):
        self.path = Path(path)
        self.columns = list(columns)
        self._fmt = list(formats)
        self._buf = np.empty((FLUSH_ROWS, len(self.columns)))
        self._n_buf = 0
        self.rows = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        except OSError as exc:
            raise ParameterError(f"{label}: cannot write to {self.path.parent} ({exc.strerror or exc})") from exc
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "w", buffering=1 << 16)
        self._fh.write(",".join(self.columns) + "\n")
        self.closed = False

    def _next_row(self) -> np.ndarray:
        """The buffer row to fill for the next record (call :meth:`_commit_row` once filled)."""
        return self._buf[self._n_buf]

    def _commit_row(self) -> None:
        self._n_buf += 1
        self.rows += 1
        if self._n_buf == FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows to the temporary file."""
        if self._n_buf:
            np.savetxt(self._fh, self._buf[: self._n_buf], fmt=self._fmt, delimiter=",")
            self._n_buf = 0
        self._fh.flush()

    def sidecar_extra(self) -> dict[str, Any]:
        """Fields added to the sidecar after ``meta`` (subclasses add their counts)."""
        return {"rows": self.rows, "columns": self.columns}

    def close(self, meta: dict[str, Any]) -> None:
        """Flush, rename the CSV into place and write the sidecar (``meta`` plus :meth:`sidecar_extra`)."""
        if self.closed:
            return
        self.flush()
        self._fh.close()
        publish(self._tmp, self.path)
        self.closed = True
        from rlimpro import __version__

        write_json_atomic(sidecar_path(self.path), {"rlimpro_version": __version__, **meta, **self.sidecar_extra()})

    def discard(self) -> None:
        """Drop the log (an error before anything useful happened)."""
        if not self.closed:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)
            self.closed = True
