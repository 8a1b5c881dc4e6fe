"""Append-only CSV logs for long sessions: buffered rows, one atomic rename when closed.

Rows go to a hidden temporary file beside the log and are renamed onto it by :meth:`CsvLog.close`,
so a reader never sees half a log, and memory stays bounded however long a live session runs.

The writer never writes a row twice and never leaves half a row:

- each flush formats the buffered rows first, then writes them at the end of the complete rows
  (``os.pwrite`` at a known offset); the buffer is emptied only once they are all written. A flush
  that was interrupted (an exception in the middle of it) is therefore redone from the same offset;
- a write that fails (a full disk, a read-only file system) cuts the file back to its complete rows
  and raises :class:`~rlimpro.errors.StorageError`; :meth:`CsvLog.close` then still publishes those
  rows with a sidecar that counts them;
- room for the sidecar is reserved when the log opens (``posix_fallocate``), so a full disk does not
  keep the complete rows from their sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import MismatchError, ParameterError, StorageError, storage_error
from rlimpro.interrupts import critical, track_partial, untrack_partial
from rlimpro.tables import publish, sidecar_path

FLUSH_ROWS = 256
SIDECAR_RESERVE = 1 << 16  #: bytes reserved for the sidecar when a log opens


def _write_all(fd: int, data: bytes, offset: int) -> int:
    """Write ``data`` at ``offset``; returns the offset after it."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n
    return offset


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

    Attributes
    ----------
    rows : int
        Rows added.
    rows_written : int
        Rows safely in the file (all of them after :meth:`close`, unless writing failed).
    error : StorageError or None
        Why writing failed, if it did.

    Raises
    ------
    ParameterError
        The folder cannot be written.
    """

    def __init__(self, path: Path, *, columns: list[str], formats: list[str], label: str):
        self.path = Path(path)
        self.columns = list(columns)
        self.label = label
        self._fmt = ",".join(formats)
        self._buf = np.empty((FLUSH_ROWS, len(self.columns)))
        self._n_buf = 0
        self.rows = 0
        self.rows_written = 0
        self.error: StorageError | None = None
        self.closed = False
        self._size = 0
        self._fd = -1
        self._side_fd = -1
        self._side_tmp: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        except OSError as exc:
            raise ParameterError(f"{label}: cannot write to {self.path.parent} ({exc.strerror or exc})") from exc
        self._fd, self._tmp = fd, Path(tmp)
        track_partial(self._tmp)
        try:
            self._reserve_sidecar()
            self._write((",".join(self.columns) + "\n").encode())
        except BaseException:
            self._drop_files()
            raise

    def _reserve_sidecar(self) -> None:
        side = sidecar_path(self.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{side.name}.", suffix=".partial", dir=side.parent)
        except OSError as exc:
            raise storage_error(exc, side, label=self.label) from exc
        self._side_fd, self._side_tmp = fd, Path(tmp)
        track_partial(self._side_tmp)
        try:
            os.posix_fallocate(fd, 0, SIDECAR_RESERVE)
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC: the disk is full already
                raise storage_error(exc, side, label=self.label) from exc
            # file systems without fallocate: the sidecar is written without a reservation

    def _write(self, data: bytes) -> None:
        """Append ``data`` after the complete rows; on failure cut the file back to them and raise."""
        try:
            end = _write_all(self._fd, data, self._size)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            self.error = storage_error(exc, self.path, label=self.label)
            raise self.error from exc
        self._size = end

    def _next_row(self) -> np.ndarray:
        """The buffer row to fill for the next record (call :meth:`_commit_row` once filled)."""
        return self._buf[self._n_buf]

    def _commit_row(self) -> None:
        self._n_buf += 1
        self.rows += 1
        if self._n_buf == FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows (each exactly once) to the temporary file.

        Raises
        ------
        StorageError
            Writing failed; the file keeps its complete rows (see :attr:`rows_written`).
        """
        if self.error is not None:
            raise self.error
        n = self._n_buf
        if not n:
            return
        fmt = self._fmt
        text = "".join(fmt % tuple(row) + "\n" for row in self._buf[:n].tolist())
        self._write(text.encode())
        self.rows_written += n
        self._n_buf = 0

    def sidecar_extra(self) -> dict[str, Any]:
        """Fields added to the sidecar after ``meta`` (subclasses add their counts)."""
        return {"rows": self.rows_written, "columns": self.columns}

    def close(self, meta: dict[str, Any]) -> None:
        """Flush, rename the CSV into place and write the sidecar (``meta`` plus :meth:`sidecar_extra`).

        After a write error the complete rows are published with a sidecar counting them (and naming
        the error); the error is raised again afterwards.

        Raises
        ------
        StorageError
        """
        if self.closed:
            return
        with critical():
            if self.error is None:
                with contextlib.suppress(StorageError):
                    self.flush()
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # a write cut short by an exception leaves nothing behind
            os.close(self._fd)
            self._fd = -1
            self.closed = True
            publish(self._tmp, self.path)
            from rlimpro import __version__

            data = {"rlimpro_version": __version__, **meta, **self.sidecar_extra()}
            if self.error is not None:
                data["write_error"] = str(self.error)
            self._write_sidecar((json.dumps(data, indent=2) + "\n").encode())
        if self.error is not None:
            raise self.error

    def _write_sidecar(self, data: bytes) -> None:
        side = sidecar_path(self.path)
        assert self._side_tmp is not None
        try:
            _write_all(self._side_fd, data, 0)
            os.ftruncate(self._side_fd, len(data))
        except OSError as exc:
            self._drop_sidecar()
            raise storage_error(exc, side, label=self.label) from exc
        os.close(self._side_fd)
        self._side_fd = -1
        publish(self._side_tmp, side)

    def _drop_sidecar(self) -> None:
        if self._side_fd >= 0:
            os.close(self._side_fd)
            self._side_fd = -1
        if self._side_tmp is not None:
            self._side_tmp.unlink(missing_ok=True)
            untrack_partial(self._side_tmp)

    def _drop_files(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._tmp.unlink(missing_ok=True)
        untrack_partial(self._tmp)
        self._drop_sidecar()

    def discard(self) -> None:
        """Drop the log (an error before anything useful happened)."""
        if not self.closed:
            self._drop_files()
            self.closed = True


def check_log_rows(path: Path, rows: int, times: np.ndarray | None, *, label: str) -> None:
    """Refuse a log whose row count disagrees with its sidecar, or whose time runs backwards.

    Parameters
    ----------
    path : Path
        The CSV; its sidecar (``path.with_suffix(".json")``), when there is one, must count ``rows``.
    rows : int
        Rows read from the CSV.
    times : ndarray, shape (rows,), optional
        The ``time`` column (s): it must increase from row to row.
    label : str
        How messages name the log (``"--log FILE"``).

    Raises
    ------
    MismatchError
    """
    side = sidecar_path(Path(path))
    if side.is_file():
        try:
            meta = json.loads(side.read_text())
        except (OSError, ValueError) as exc:
            raise MismatchError(f"{label}: its sidecar {side} is not readable JSON ({exc})") from exc
        expected = meta.get("rows") if isinstance(meta, dict) else None
        if isinstance(expected, int) and expected != rows:
            raise MismatchError(
                f"{label}: the log holds {rows} rows but its sidecar {side.name} says {expected}; "
                "it is damaged (written twice or cut short): record the session again"
            )
    if times is not None and len(times) > 1:
        steps = np.diff(np.asarray(times, dtype=np.float64))
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0))
            raise MismatchError(
                f"{label}: time runs backwards at line {i + 3} ({times[i]:.6g} s then {times[i + 1]:.6g} s); "
                "the log is damaged: record the session again"
            )
