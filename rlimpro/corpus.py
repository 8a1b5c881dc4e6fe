"""The ``analyze-corpus`` stage: a folder of recordings -> one descriptor table per file.

Input: every audio file in ``corpora/<corpus>/audio/`` (wav, flac, ogg, aiff; mp3 where libsndfile
supports it). Each file is decoded, mixed down to mono (mean of the channels), resampled to the
analysis rate with soxr and analyzed with the one :class:`~rlimpro.descriptors.Analyzer`.

Output, in ``corpora/<corpus>/features/``:

- ``<stem>.csv``: one row per frame — ``time`` (s, ``i * hop / sample_rate``), ``active`` (1 when the
  frame's unsmoothed RMS loudness is above :data:`SILENCE_THRESHOLD_DB`, else 0), then every descriptor
  in :data:`~rlimpro.descriptors.DESCRIPTORS` order. A file of ``n`` samples at the analysis rate has
  ``ceil(n / hop)`` rows. With ``smooth > 1`` the descriptors are a causal rolling mean over that many
  frames (as the live analyzer computes them); ``active`` is always decided on the unsmoothed frame.
- ``analysis.json``: ``rlimpro_version``, ``corpus``, ``analysis`` (``AnalysisSettings.to_dict()``,
  including ``smooth``), ``descriptors``, ``silence_threshold_db`` and ``files``: for each stem the
  source file name, its SHA-256, sample rate, channels, duration (s), frames and active frames.

Re-running skips a file whose bytes (hash), name and analysis settings are unchanged; anything else is
re-analyzed, and tables whose audio is gone are removed. Every table and the sidecar are written
atomically, and the sidecar is updated after each finished file, so an interrupted run leaves a
consistent folder and the next run resumes.

Files are streamed (:func:`analyze_file`): decoded, mixed down, resampled and analyzed in blocks of
:data:`BLOCK_FRAMES` frames, the table written block by block, so memory stays bounded whatever the
file's length; the tables are identical to analyzing the whole signal at once (same kernel calls on
the same frames, the smoothing's running sum carried across blocks). One lock per corpus features
folder (:mod:`rlimpro.locks`): a second identical command waits, then skips what the first finished.
A full disk stops with the finished files' tables kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlimpro import __version__
from rlimpro.audiofile import file_hash, supported_extensions
from rlimpro.descriptors.analyzer import _CHUNK_FRAMES, AnalysisSettings, Analyzer, smooth_frames
from rlimpro.descriptors.derived import derive
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import (
    AudioError,
    NotFoundError,
    ParameterError,
    PartialFailure,
    StorageError,
    storage_error,
)
from rlimpro.locks import output_lock
from rlimpro.progress import progress_bar, status_line
from rlimpro.tables import check_descriptors, ensure_writable_folder, write_json_atomic
from rlimpro.workers import one_blas_thread, pool_worker_init, stop_pool
from rlimpro.workspace import corpus_dir, did_you_mean

#: A frame is ``active`` when its unsmoothed RMS loudness exceeds this, dBFS.
SILENCE_THRESHOLD_DB = -60.0
#: Name of the corpus sidecar inside the features folder.
MANIFEST = "analysis.json"
#: Table columns before the descriptors.
LEADING_COLUMNS = ("time", "active")
#: Frames analyzed per block when streaming a file (a multiple of the analyzer's kernel batch, so the
#: kernel sees exactly the frames it sees on the whole signal): 4096 frames = 47.6 s at 44.1 kHz / 512.
BLOCK_FRAMES = 16 * _CHUNK_FRAMES
READ_FRAMES = 1 << 18  #: samples per channel decoded at a time


@dataclasses.dataclass
class CorpusResult:
    """What :func:`analyze_corpus` did.

    Attributes
    ----------
    corpus : str
    features_dir : Path
        ``corpora/<corpus>/features``.
    files : list of str
        Stems that have an up-to-date table after the run, sorted.
    analyzed : list of str
        Stems analyzed in this run.
    skipped : list of str
        Stems left as they were (audio and settings unchanged).
    removed : list of str
        Stems whose stale table was deleted (their audio file is gone).
    audio_seconds : float
        Duration of the audio analyzed in this run, s.
    frames : int
        Rows written in this run.
    seconds : float
        Wall-clock time of the run, s.
    warnings : list of str
    """

    corpus: str
    features_dir: Path
    files: list[str]
    analyzed: list[str]
    skipped: list[str]
    removed: list[str]
    audio_seconds: float
    frames: int
    seconds: float
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def speed(self) -> float:
        """Audio analyzed per wall-clock second (x real time); 0 when nothing was analyzed."""
        return self.audio_seconds / self.seconds if self.seconds > 0 and self.audio_seconds else 0.0


# ---------------------------------------------------------------- paths
def audio_dir(corpus: str, *, workspace: Path) -> Path:
    """``<workspace>/corpora/<corpus>/audio``."""
    return corpus_dir(corpus, workspace=workspace) / "audio"


def features_dir(corpus: str, *, workspace: Path) -> Path:
    """``<workspace>/corpora/<corpus>/features``."""
    return corpus_dir(corpus, workspace=workspace) / "features"


def corpus_names(*, workspace: Path) -> list[str]:
    """Corpora in the workspace: folders ``corpora/<name>/`` holding an ``audio/`` folder."""
    base = workspace / "corpora"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "audio").is_dir())


def check_corpus_name(corpus: str) -> None:
    """Refuse names that are not a plain folder name.

    Raises
    ------
    ParameterError
    """
    if not corpus or corpus in (".", "..") or "/" in corpus or "\\" in corpus or corpus != corpus.strip():
        raise ParameterError(
            f"--corpus {corpus!r}: give the name of a folder under corpora/ (no slashes), e.g. --corpus demo"
        )


def formats_text() -> str:
    """The audio formats this installation reads, for messages: ``"wav, flac, ogg, aiff, mp3"``."""
    exts = supported_extensions()
    return ", ".join(e.lstrip(".") for e in (".wav", ".flac", ".ogg", ".aiff", ".mp3") if e in exts)


def check_arguments(*, smooth: int, workers: int | None) -> None:
    """Refuse ``smooth < 1`` and ``workers < 1`` (before anything is read or written).

    Raises
    ------
    ParameterError
    """
    if smooth < 1:
        raise ParameterError(f"--smooth {smooth}: must be >= 1 frame (1 = no smoothing)")
    if workers is not None and workers < 1:
        raise ParameterError(f"--workers {workers}: must be >= 1")


def _missing_corpus(corpus: str, *, workspace: Path) -> NotFoundError:
    folder = audio_dir(corpus, workspace=workspace)
    known = corpus_names(workspace=workspace)
    msg = f"corpus '{corpus}' not found: {folder} does not exist{did_you_mean(corpus, known)}"
    parent = folder.parent
    exts = set(supported_extensions())
    loose = [p for p in parent.iterdir() if p.is_file() and p.suffix.lower() in exts] if parent.is_dir() else []
    if loose:
        msg += f"; {len(loose)} audio files are directly in {parent}, move them into {folder}"
    else:
        msg += f"; put the recordings ({formats_text()}) in that folder"
    if corpus == "demo":
        msg += " or run `rlimpro make-demo-corpus`"
    if known:
        msg += f" (corpora here: {', '.join(known)})"
    return NotFoundError(msg)


def _audio_files(folder: Path) -> tuple[list[Path], list[str]]:
    """Non-hidden regular files of ``folder`` (sorted) and warnings about what was ignored."""
    files, warnings = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            warnings.append(f"ignored sub-folder {p} (only files directly in {folder} are analyzed)")
        elif p.is_file():
            files.append(p)
    return files, warnings


def _check_duplicate_stems(files: list[Path], folder: Path) -> None:
    by_stem: dict[str, list[str]] = {}
    for p in files:
        by_stem.setdefault(p.stem.lower(), []).append(p.name)
    dups = [names for names in by_stem.values() if len(names) > 1]
    if dups:
        pairs = "; ".join(" and ".join(names) for names in dups)
        raise ParameterError(
            f"{pairs} in {folder} would write the same table (features/<name>.csv): "
            "rename or remove one of each"
        )


# ---------------------------------------------------------------- one file
_WORKER: dict[str, Any] = {}


def _analyzer(settings: AnalysisSettings) -> Analyzer:
    """A process-wide analyzer for ``settings`` (filterbanks built once per process)."""
    if _WORKER.get("settings") != settings:
        _WORKER.update(settings=settings, analyzer=Analyzer(settings))
    return _WORKER["analyzer"]


def describe_signal(signal: np.ndarray, *, settings: AnalysisSettings, analyzer: Analyzer | None = None) -> pd.DataFrame:
    """The corpus table of one mono signal.

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
        Mono audio at ``settings.sample_rate``, full scale = 1.
    settings : AnalysisSettings
        ``settings.smooth`` frames of causal rolling mean are applied to the descriptors.
    analyzer : Analyzer, optional
        An analyzer built with ``smooth=1`` and otherwise the same settings (built when omitted).

    Returns
    -------
    DataFrame, shape (ceil(n_samples / hop), 2 + len(DESCRIPTORS))
        Columns ``time`` (s), ``active`` (0/1 int), then DESCRIPTORS.
    """
    raw_settings = dataclasses.replace(settings, smooth=1)
    analyzer = analyzer or _analyzer(raw_settings)
    if analyzer.settings != raw_settings:
        raise ParameterError(f"analyzer settings {analyzer.settings} differ from {raw_settings}")
    raw = analyzer.analyze(signal)
    active = (raw[:, 0] > SILENCE_THRESHOLD_DB).astype(np.int64)
    values = smooth_frames(raw, settings.smooth)
    frame = pd.DataFrame(values, columns=list(DESCRIPTORS))
    frame.insert(0, "active", active)
    frame.insert(0, "time", analyzer.times(values.shape[0]))
    return frame


def table_csv(frame: pd.DataFrame) -> str:
    """A corpus table as CSV text: header, then one line per frame, floats as ``%.9g``, ``active`` as int.

    Same text as ``frame.to_csv(index=False, float_format="%.9g")`` (what :func:`rlimpro.tables.write_table`
    writes), about four times faster: one format string per row instead of one call per value.
    """
    fmt = ",".join("%d" if name == "active" else "%.9g" for name in frame.columns)
    rows = frame.to_numpy(dtype=np.float64).tolist()
    return "\n".join([",".join(frame.columns), *(fmt % tuple(row) for row in rows)]) + "\n"


class _BlockAnalysis:
    """The whole-signal analysis (:func:`describe_signal`), computed block by block.

    Frame ``i`` is the window ending at sample ``(i + 1) * hop`` of the signal with ``window - hop``
    zeros before it (the batch analyzer's framing). Samples are pushed as they are decoded; frames are
    analyzed :data:`BLOCK_FRAMES` at a time, starting at multiples of the kernel batch, so every
    kernel call gets the same frames as on the whole signal. The causal rolling mean carries its
    running sum across blocks, so it adds in the same order as on the whole signal.
    """

    def __init__(self, settings: AnalysisSettings, analyzer: Analyzer):
        self.settings = settings
        self.analyzer = analyzer
        s = settings
        self._buf = np.zeros(s.window - s.hop, dtype=np.float64)  # the zeros before the signal
        self._frame0 = 0  # index of the first frame whose window starts at self._buf[0]
        self.samples = 0
        self.frames = 0
        self.active = 0
        d = len(DESCRIPTORS)
        self._cs = np.zeros((1, d))  # the last ``smooth`` rows of the running sum, from row self._cs0
        self._cs0 = 0

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        """Add samples; returns the table rows of the blocks completed (arrays (k, 2 + D))."""
        self.samples += samples.size
        self._buf = np.concatenate([self._buf, samples.astype(np.float64)])
        s = self.settings
        need = (BLOCK_FRAMES - 1) * s.hop + s.window
        out = []
        while self._buf.size >= need:
            out.append(self._block(BLOCK_FRAMES))
        return out

    def finish(self) -> list[np.ndarray]:
        """The rows of the frames left (the signal's end padded with zeros)."""
        s = self.settings
        total = s.n_frames(self.samples)
        left = total - self._frame0
        if left <= 0:
            return []
        need = (left - 1) * s.hop + s.window
        if self._buf.size < need:
            self._buf = np.concatenate([self._buf, np.zeros(need - self._buf.size)])
        out = []
        while left > 0:
            k = min(BLOCK_FRAMES, left)
            out.append(self._block(k))
            left -= k
        return out

    def _block(self, k: int) -> np.ndarray:
        s = self.settings
        span = (k - 1) * s.hop + s.window
        frames = np.lib.stride_tricks.sliding_window_view(self._buf[:span], s.window)[:: s.hop][:k]
        raw = np.empty((k, len(DESCRIPTORS)))
        for start in range(0, k, _CHUNK_FRAMES):
            raw[start : start + _CHUNK_FRAMES] = self.analyzer.kernel(frames[start : start + _CHUNK_FRAMES])
        active = (raw[:, 0] > SILENCE_THRESHOLD_DB).astype(np.float64)
        values = self._smooth(raw)
        first = self._frame0
        times = np.arange(first, first + k) * s.hop / s.sample_rate
        self._buf = self._buf[k * s.hop :].copy()
        self._frame0 += k
        self.frames += k
        self.active += int(active.sum())
        return np.column_stack([times, active, values])

    def _smooth(self, raw: np.ndarray) -> np.ndarray:
        n = self.settings.smooth
        if n <= 1:
            return raw
        k0 = self._frame0
        new = np.cumsum(np.vstack([self._cs[-1:], raw]), axis=0)[1:]  # running sum rows k0+1 .. k0+k
        cs = np.vstack([self._cs, new])
        idx = np.arange(k0 + 1, k0 + raw.shape[0] + 1)
        lo = np.maximum(idx - n, 0)
        out = (cs[idx - self._cs0] - cs[lo - self._cs0]) / (idx - lo)[:, None]
        self._cs = cs[-n:]
        self._cs0 = k0 + raw.shape[0] + 1 - self._cs.shape[0]
        return derive(out)  # the -midi descriptors of the smoothed values, as smooth_frames does


def _stream_mono(path: Path, *, sample_rate: int):  # noqa: ANN202 - (AudioInfo, iterator of float32 blocks)
    """Decode ``path`` block by block: mono (mean of the channels), resampled to ``sample_rate`` (soxr HQ,
    streamed: the same samples as resampling the whole signal at once).

    Raises
    ------
    AudioError
        As :func:`rlimpro.audiofile.read_audio` (undecodable, empty, NaN/infinite samples, too short).
    """
    import soundfile as sf
    import soxr

    from rlimpro.audiofile import AudioInfo

    try:
        fh = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc)
        if ": " in reason and reason.startswith("Error opening"):
            reason = reason.split(": ", 1)[1]
        raise AudioError(f"cannot decode audio ({reason})") from exc
    except OSError as exc:
        raise AudioError(f"cannot read the file ({exc.strerror or exc})") from exc
    rate, channels, frames = int(fh.samplerate), int(fh.channels), int(fh.frames)
    if rate <= 0:
        fh.close()
        raise AudioError(f"invalid sample rate {rate} Hz in the header")

    def blocks():
        stream = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ") if rate != sample_rate else None
        read = produced = 0
        with fh:
            while True:
                try:
                    data = fh.read(READ_FRAMES, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
                    raise AudioError(f"cannot decode audio ({exc})") from exc
                if data.shape[0] == 0:
                    break
                read += data.shape[0]
                if not np.isfinite(data).all():
                    raise AudioError("the file holds NaN or infinite samples")
                mono = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
                mono = np.ascontiguousarray(mono, dtype=np.float32)
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=False)
                produced += mono.size
                if mono.size:
                    yield mono
        if read == 0:
            raise AudioError("the file holds no audio samples")
        if stream is not None:
            tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            produced += tail.size
            if tail.size:
                yield tail
            if produced == 0:
                raise AudioError(f"too short to resample from {rate} Hz to {sample_rate} Hz")

    return AudioInfo(sample_rate=rate, channels=channels, frames=frames), blocks()


def analyze_file(path: Path, *, table: Path, settings: AnalysisSettings) -> dict[str, Any]:
    """Decode, analyze and write the table of one audio file (atomically), streaming it in blocks.

    Memory is bounded by the block size whatever the file's length; the table is the one
    :func:`describe_signal` gives for the whole signal, to the byte.

    Parameters
    ----------
    path : Path
        The audio file.
    table : Path
        Where the CSV goes.
    settings : AnalysisSettings

    Returns
    -------
    dict
        The file's entry in ``analysis.json`` (without the hash): source, sample_rate, channels,
        duration (s), frames, active_frames.

    Raises
    ------
    AudioError
        The file cannot be decoded or holds no usable audio (the message gives the reason).
    StorageError
        The table cannot be written (a full disk): nothing is left of it.
    """
    import tempfile

    from rlimpro.interrupts import track_partial, untrack_partial
    from rlimpro.tables import publish

    table = Path(table)
    raw_settings = dataclasses.replace(settings, smooth=1)
    analysis = _BlockAnalysis(settings, _analyzer(raw_settings))
    info, blocks = _stream_mono(Path(path), sample_rate=settings.sample_rate)
    columns = [*LEADING_COLUMNS, *DESCRIPTORS]
    fmt = ",".join("%d" if name == "active" else "%.9g" for name in columns)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{table.name}.", suffix=".tmp", dir=table.parent)
    except OSError as exc:
        raise storage_error(exc, table) from exc
    tmp = Path(tmp_name)
    track_partial(tmp)
    try:
        with os.fdopen(fd, "w") as out:

            def write(rows: list[np.ndarray]) -> None:
                for block in rows:
                    out.write("".join(fmt % tuple(r) + "\n" for r in block.tolist()))

            out.write(",".join(columns) + "\n")
            for samples in blocks:
                write(analysis.push(samples))
            write(analysis.finish())
        publish(tmp, table)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        untrack_partial(tmp)
        raise storage_error(exc, table) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        untrack_partial(tmp)
        raise
    return {
        "source": Path(path).name,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "duration": round(info.duration, 6),
        "frames": int(analysis.frames),
        "active_frames": int(analysis.active),
    }


def _job(path: str, table: str, settings: AnalysisSettings) -> tuple[bool, Any]:
    """Worker entry: ``(True, entry)`` or ``(False, reason)`` for a file that cannot be used."""
    try:
        return True, analyze_file(Path(path), table=Path(table), settings=settings)
    except AudioError as exc:
        return False, str(exc)


# ---------------------------------------------------------------- the stage
def _resolve_settings(settings: AnalysisSettings | None, smooth: int) -> AnalysisSettings:
    settings = settings or AnalysisSettings()
    if smooth != 1 and settings.smooth not in (1, smooth):
        raise ParameterError(f"smooth={smooth} contradicts settings.smooth={settings.smooth}; give one of them")
    return dataclasses.replace(settings, smooth=max(smooth, settings.smooth))


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {}


def analyze_corpus(
    *,
    corpus: str,
    workspace: Path,
    smooth: int = 1,
    workers: int | None = None,
    force: bool = False,
    settings: AnalysisSettings | None = None,
    show_progress: bool = True,
) -> CorpusResult:
    """Analyze every audio file of ``corpora/<corpus>/audio/`` into ``corpora/<corpus>/features/``.

    Parameters
    ----------
    corpus : str
        Corpus name (a folder under ``<workspace>/corpora``).
    workspace : Path
        Workspace root.
    smooth : int
        Causal rolling mean over this many frames (1 = none); recorded in the analysis settings.
    workers : int, optional
        Processes analyzing files in parallel (default: all cores).
    force : bool
        Re-analyze every file even when its table is up to date.
    settings : AnalysisSettings, optional
        Analysis settings (default: ``AnalysisSettings()``, the lookup stage's defaults).
    show_progress : bool
        Draw a rich progress bar on stderr.

    Returns
    -------
    CorpusResult

    Raises
    ------
    NotFoundError
        The corpus folder is missing or holds no files (the message names the folder).
    ParameterError
        Bad arguments, two files with the same stem, or an unwritable output folder.
    PartialFailure
        Some files could not be analyzed (``failures`` maps file name -> reason); every other file's
        table and the sidecar were written before raising. ``exc.result`` is the :class:`CorpusResult`.
    """
    t0 = time.perf_counter()
    check_arguments(smooth=smooth, workers=workers)
    settings = _resolve_settings(settings, smooth)
    check_corpus_name(corpus)
    folder = audio_dir(corpus, workspace=workspace)
    if not folder.is_dir():
        raise _missing_corpus(corpus, workspace=workspace)
    files, warnings = _audio_files(folder)
    exts = supported_extensions()
    if not files:
        raise NotFoundError(f"no audio files in {folder}; put the recordings there ({formats_text()})")
    _check_duplicate_stems(files, folder)

    failures: dict[str, str] = {}
    candidates: dict[str, Path] = {}
    for p in files:
        if p.suffix.lower() not in exts:
            failures[p.name] = (
                f"not an audio file (extension '{p.suffix or '(none)'}'; rlimpro reads {formats_text()}); "
                "convert it or move it out of the audio folder"
            )
        else:
            candidates[p.stem] = p

    out = features_dir(corpus, workspace=workspace)
    ensure_writable_folder(out)
    manifest_path = out / MANIFEST
    # One analysis of this corpus at a time: a second identical command waits, then skips finished files.
    with output_lock(manifest_path, what=f"the tables of corpus '{corpus}' ({out})",
                     on_wait=lambda line: status_line(line, enabled=show_progress)):
        header = {
            "rlimpro_version": __version__,
            "corpus": corpus,
            "analysis": settings.to_dict(),
            "descriptors": list(DESCRIPTORS),
            "silence_threshold_db": SILENCE_THRESHOLD_DB,
            "active": "unsmoothed loudness-dBFS above silence_threshold_db",
        }
        old = _load_manifest(manifest_path)
        old_files = old.get("files", {}) if all(old.get(k) == v for k, v in header.items()) else {}

        hashes: dict[str, str] = {}
        for stem, p in candidates.items():
            try:
                hashes[stem] = file_hash(p)
            except OSError as exc:
                failures[p.name] = f"cannot read the file ({exc.strerror or exc})"
        kept: dict[str, dict[str, Any]] = {}
        todo: list[str] = []
        for stem in hashes:
            entry = old_files.get(stem)
            fresh = (
                not force
                and isinstance(entry, dict)
                and entry.get("source") == candidates[stem].name
                and entry.get("sha256") == hashes[stem]
                and (out / f"{stem}.csv").is_file()
            )
            if fresh:
                kept[stem] = entry
            else:
                todo.append(stem)

        # Tables not kept are stale (changed, failed or vanished audio, other settings): remove them first,
        # so the folder never pairs a table with the wrong audio, even if this run is interrupted.
        removed = []
        for csv in sorted(out.glob("*.csv")):
            if csv.stem not in kept:
                csv.unlink(missing_ok=True)
                if csv.stem not in hashes:
                    removed.append(csv.stem)
        for tmp in out.glob(".*.tmp"):  # leftovers of a killed writer
            tmp.unlink(missing_ok=True)

        manifest: dict[str, Any] = {**header, "files": dict(sorted(kept.items()))}
        if manifest != old:
            write_json_atomic(manifest_path, manifest)

        analyzed: list[str] = []
        audio_seconds = 0.0
        frames = 0

        def finish(stem: str, ok: bool, payload: Any) -> None:
            nonlocal audio_seconds, frames
            if not ok:
                failures[candidates[stem].name] = payload
                return
            manifest["files"][stem] = {**payload, "sha256": hashes[stem]}
            manifest["files"] = dict(sorted(manifest["files"].items()))
            write_json_atomic(manifest_path, manifest)
            analyzed.append(stem)
            audio_seconds += payload["duration"]
            frames += payload["frames"]

        todo.sort(key=lambda s: candidates[s].stat().st_size, reverse=True)  # biggest first balances workers
        n_workers = min(workers or os.cpu_count() or 1, len(todo))
        try:
            if todo and n_workers <= 1:
                with progress_bar(f"analyze {corpus}", total=len(todo), enabled=show_progress) as advance:
                    for stem in todo:
                        finish(stem, *_job(str(candidates[stem]), str(out / f"{stem}.csv"), settings))
                        advance(1)
            elif todo:
                # Build the analyzer before the pool: forked workers inherit it (no librosa import per worker).
                _analyzer(dataclasses.replace(settings, smooth=1))
                with one_blas_thread():
                    pool = ProcessPoolExecutor(max_workers=n_workers, initializer=pool_worker_init)
                    pending = {
                        pool.submit(_job, str(candidates[s]), str(out / f"{s}.csv"), settings): s for s in todo
                    }
                    try:
                        with progress_bar(f"analyze {corpus}", total=len(todo), enabled=show_progress) as advance:
                            while pending:
                                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                                for fut in finished:
                                    finish(pending.pop(fut), *fut.result())
                                    advance(1)
                    except BaseException:  # Ctrl-C or an error: stop the workers now, not after their files
                        with contextlib.suppress(Exception):
                            stop_pool(pool)
                        raise
                    pool.shutdown(wait=True)
        except KeyboardInterrupt:
            done = len(manifest["files"])
            again = "the same command without --force" if force else "the same command"
            raise KeyboardInterrupt(
                f"analyze-corpus interrupted: the tables of {done} of {done + len(todo) - len(analyzed)} files are "
                f"saved in {out}" + (f"; run {again} to analyze the others" if done else "")
            ) from None
        except StorageError as exc:
            raise StorageError(f"{exc}; the tables of the {len(manifest['files'])} files finished are kept: free some "
                               "space and run the same command to analyze the others") from exc

        result = CorpusResult(
            corpus=corpus,
            features_dir=out,
            files=sorted(manifest["files"]),
            analyzed=sorted(analyzed),
            skipped=sorted(kept),
            removed=removed,
            audio_seconds=audio_seconds,
            frames=frames,
            seconds=time.perf_counter() - t0,
            warnings=warnings,
        )
        if failures:
            n_ok = len(result.files)
            total = n_ok + len(failures)
            if n_ok:
                others = "the other file's table is" if n_ok == 1 else f"the tables of the other {n_ok} files are"
                msg = (
                    f"{len(failures)} of {total} files in {folder} could not be analyzed; {others} in {out}. "
                    "Fix or remove these files and run again:"
                )
            else:
                msg = f"none of the {total} files in {folder} could be analyzed; fix or replace them:"
            exc = PartialFailure(msg, dict(sorted(failures.items())))
            exc.result = result  # type: ignore[attr-defined]
            raise exc
        return result


# ---------------------------------------------------------------- reading
def read_corpus(*, corpus: str, workspace: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read the descriptor tables of an analyzed corpus.

    Parameters
    ----------
    corpus : str
        Corpus name.
    workspace : Path
        Workspace root.

    Returns
    -------
    tables : dict of str to DataFrame
        ``{stem: table}`` sorted by stem; each table has columns ``time``, ``active``, then DESCRIPTORS,
        one row per frame.
    meta : dict
        The contents of ``analysis.json`` (``analysis`` holds the AnalysisSettings dict).

    Raises
    ------
    NotFoundError
        The corpus is missing, not analyzed, or a table is missing/unreadable (the message says which
        command fixes it).
    MismatchError
        The tables were written with another descriptor set than this rlimpro's.
    """
    check_corpus_name(corpus)
    out = features_dir(corpus, workspace=workspace)
    manifest_path = out / MANIFEST
    fix = f"run `rlimpro analyze-corpus --corpus {corpus}`"
    if not manifest_path.is_file():
        if not audio_dir(corpus, workspace=workspace).is_dir():
            raise _missing_corpus(corpus, workspace=workspace)
        raise NotFoundError(f"corpus '{corpus}' has not been analyzed ({manifest_path} is missing); {fix}")
    try:
        meta = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NotFoundError(f"{manifest_path} is not readable JSON ({exc}); {fix} --force") from exc
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict) or not files:
        raise NotFoundError(f"{manifest_path} lists no analyzed files; {fix}")
    check_descriptors(meta, what=f"the corpus analysis in {out}", fix=f"rlimpro analyze-corpus --corpus {corpus} --force")
    expected = [*LEADING_COLUMNS, *DESCRIPTORS]
    tables: dict[str, pd.DataFrame] = {}
    for stem in sorted(files):
        path = out / f"{stem}.csv"
        if not path.is_file():
            raise NotFoundError(f"table {path} listed in {manifest_path} is missing; {fix}")
        try:
            table = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise NotFoundError(f"table {path} is not a readable CSV ({exc}); {fix} --force") from exc
        if list(table.columns) != expected:
            raise NotFoundError(f"table {path} does not have the corpus columns (time, active, descriptors); {fix} --force")
        tables[stem] = table
    return tables, meta
