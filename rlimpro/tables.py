"""Descriptor tables on disk: CSV + JSON sidecar, atomic writes, metadata checks.

Every table ``x.csv`` has a sidecar ``x.json`` with the rlimpro version, the analysis settings and the
descriptor names (DESIGN.md "Tables and metadata"). Writes go to a temporary file in the same folder
and are renamed into place, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from rlimpro import __version__
from rlimpro.errors import MismatchError, NotFoundError, ParameterError, storage_error
from rlimpro.interrupts import track_partial, untrack_partial


def sidecar_path(table: Path) -> Path:
    """The JSON sidecar of a CSV table: ``lookup.csv`` -> ``lookup.json``."""
    return table.with_suffix(".json")


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and check it can be written, before any long job starts.

    Raises
    ------
    ParameterError
        The folder cannot be created or written (names it).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK):
        raise ParameterError(f"output folder {folder} is not writable; fix its permissions or use another --root")


def publish(tmp: Path, path: Path) -> None:
    """Give a finished temporary file the mode a plain ``open()`` would (0666 minus the umask;
    mkstemp makes it 0600) and rename it onto ``path``. For files written incrementally."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    untrack_partial(tmp)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it onto ``path``.

    Raises
    ------
    ParameterError
        The folder cannot be created or written (names the folder).
    StorageError
        Writing failed (a full disk, a read-only file system): names ``path`` and the reason; the
        temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ParameterError(f"cannot write to folder {path.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    track_partial(tmp)
    try:
        write(tmp)
        publish(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        untrack_partial(tmp)
        raise storage_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        untrack_partial(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, as ``"sha256:<hex>"``."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def write_table(path: Path, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Write a descriptor table and its sidecar, each atomically (sidecar last).

    ``meta`` gets ``rlimpro_version`` added, and ``csv_bytes`` / ``csv_sha256`` (the CSV's size and
    hash, so :func:`verify_table` can tell a complete table from a damaged one). Floats are written
    with full round-trip precision.
    """
    written: dict[str, Any] = {}

    def write(tmp: Path) -> None:
        frame.to_csv(tmp, index=False, float_format="%.9g")
        written.update(csv_bytes=tmp.stat().st_size, csv_sha256=file_sha256(tmp))

    atomic_write(path, write)
    write_json_atomic(sidecar_path(path), {"rlimpro_version": __version__, **meta, **written})


def verify_table(path: Path, meta: dict[str, Any]) -> str | None:
    """Why the table at ``path`` is not the one its sidecar ``meta`` describes, or None when it is.

    With ``csv_sha256`` in the sidecar the file's bytes are checked; otherwise the table is read and
    its rows counted against ``rows`` (and every cell must be a number).
    """
    path = Path(path)
    try:
        if "csv_sha256" in meta:
            size = path.stat().st_size
            if size != meta.get("csv_bytes"):
                return f"it holds {size} bytes, its sidecar says {meta.get('csv_bytes')} (truncated or changed)"
            if file_sha256(path) != meta["csv_sha256"]:
                return "its contents differ from what its sidecar recorded (changed or damaged)"
            return None
        read_table(path)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    except (NotFoundError, MismatchError) as exc:
        return str(exc)
    return None


def read_meta(path: Path) -> dict[str, Any]:
    """Read the sidecar of table ``path``.

    Raises
    ------
    NotFoundError
        The sidecar is missing or not valid JSON (names the file).
    """
    side = sidecar_path(Path(path))
    if not side.is_file():
        raise NotFoundError(f"metadata sidecar {side} is missing; re-create the table")
    try:
        return json.loads(side.read_text())
    except json.JSONDecodeError as exc:
        raise NotFoundError(f"metadata sidecar {side} is not valid JSON ({exc}); re-create the table") from exc


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a table and its sidecar.

    Raises
    ------
    NotFoundError
        The table or its sidecar is missing or unreadable.
    MismatchError
        A cell is not a number (names its line and column), or the table has another number of rows
        than its sidecar says (truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"table {path} does not exist")
    meta = read_meta(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise NotFoundError(f"table {path} is not a readable CSV ({exc}); re-create it") from exc
    check_numeric(frame, path=path)
    rows = meta.get("rows")
    if isinstance(rows, int) and len(frame) != rows:
        raise MismatchError(
            f"table {path} has {len(frame)} rows but its sidecar says {rows} (truncated or changed); re-create it"
        )
    return frame, meta


def check_descriptors(meta: dict[str, Any], *, what: str, fix: str) -> None:
    """Refuse a table whose sidecar lists other descriptors than this rlimpro computes (a table made by
    another version); the message names what differs and ``fix``, the command that re-creates it.

    Raises
    ------
    MismatchError
    """
    from rlimpro.descriptors.registry import DESCRIPTORS

    have = list(meta.get("descriptors") or [])
    if have == list(DESCRIPTORS):
        return
    missing = [d for d in DESCRIPTORS if d not in have]
    extra = [d for d in have if d not in DESCRIPTORS]
    detail = "; ".join(
        part for part in (
            f"it lacks {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}" if missing else "",
            f"it has {', '.join(extra[:4])}, which this version does not compute" if extra else "",
            "its columns are in another order" if not missing and not extra else "",
        ) if part
    )
    raise MismatchError(f"{what} was made by another rlimpro version ({detail}); re-create it with `{fix}`")


def check_numeric(frame: pd.DataFrame, *, path: Path) -> None:
    """Refuse a table with a cell that is not a finite number; the message names its line and column.

    Raises
    ------
    MismatchError
    """
    import numpy as np

    for column in frame.columns:
        values = frame[column]
        numbers = values if pd.api.types.is_numeric_dtype(values.dtype) else pd.to_numeric(values, errors="coerce")
        bad = ~np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            row = int(np.argmax(bad))
            cell = values.iloc[row]
            shown = "an empty cell" if pd.isna(cell) else repr(cell) if isinstance(cell, str) else str(cell)
            raise MismatchError(
                f"table {path}, line {row + 2}, column '{column}': {shown} is not a number; "
                "re-create the table (or fix that cell)"
            )


def check_same_analysis(a: dict[str, Any], b: dict[str, Any], *, a_name: str, b_name: str) -> None:
    """Refuse two tables whose analysis settings differ; the message names both values.

    ``a`` and ``b`` are sidecar dicts (with an ``analysis`` entry) or analysis dicts themselves.

    Raises
    ------
    MismatchError
    """
    sa = a.get("analysis", a)
    sb = b.get("analysis", b)
    keys = sorted(set(sa) | set(sb))
    diffs = [f"{k}: {sa.get(k)!r} in {a_name} vs {sb.get(k)!r} in {b_name}" for k in keys if sa.get(k) != sb.get(k)]
    if diffs:
        raise MismatchError(
            "analysis settings differ (" + "; ".join(diffs) + "); re-run one stage with the other's settings"
        )
