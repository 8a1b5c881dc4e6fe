"""Reading audio files for analysis: decode, mix down to mono, resample to the analysis rate.

Decoding is libsndfile's (through ``soundfile``): wav, flac, ogg (vorbis/opus), aiff, and mp3 where the
installed libsndfile supports it. Mono mixdown is the mean of the channels. Resampling uses soxr's
band-limited, linear-phase "HQ" resampler (20-bit precision, passband roll-off <= 0.01 dB).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from rlimpro.errors import AudioError

#: File extensions (lower case) read as audio, with the libsndfile format each needs.
AUDIO_EXTENSIONS: dict[str, str] = {
    ".wav": "WAV",
    ".wave": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".opus": "OGG",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".aifc": "AIFF",
    ".mp3": "MP3",
}


def supported_extensions() -> list[str]:
    """Audio extensions this installation can decode (libsndfile's formats decide mp3)."""
    import soundfile as sf

    formats = set(sf.available_formats())
    return [ext for ext, fmt in AUDIO_EXTENSIONS.items() if fmt in formats]


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What the file held before mixdown and resampling.

    Parameters
    ----------
    sample_rate : int
        The file's sample rate, Hz.
    channels : int
    frames : int
        Samples per channel in the file.
    """

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Duration, s."""
        return self.frames / self.sample_rate


def file_hash(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes, as ``"sha256:<hex>"``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def read_audio(path: Path, *, sample_rate: int) -> tuple[np.ndarray, AudioInfo]:
    """Decode an audio file to a mono signal at ``sample_rate``.

    Parameters
    ----------
    path : Path
        A file libsndfile can decode (see :func:`supported_extensions`).
    sample_rate : int
        Target rate, Hz; the file is resampled with soxr (HQ) when its rate differs.

    Returns
    -------
    signal : ndarray, shape (n_samples,), float32
        Mean of the channels, full scale = 1, at ``sample_rate``.
    info : AudioInfo
        The file's own rate, channel count and length.

    Raises
    ------
    AudioError
        The file cannot be decoded, holds no samples, or holds NaN/infinite samples. The message says why
        (the caller names the file).
    """
    import soundfile as sf
    import soxr

    path = Path(path)
    try:
        with sf.SoundFile(str(path)) as fh:
            rate, channels = int(fh.samplerate), int(fh.channels)
            data = fh.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc)
        # libsndfile prefixes the path ("Error opening 'x.wav': ..."); keep only the reason.
        if ": " in reason and reason.startswith("Error opening"):
            reason = reason.split(": ", 1)[1]
        raise AudioError(f"cannot decode audio ({reason})") from exc
    except OSError as exc:
        raise AudioError(f"cannot read the file ({exc.strerror or exc})") from exc
    if data.shape[0] == 0:
        raise AudioError("the file holds no audio samples")
    if rate <= 0:
        raise AudioError(f"invalid sample rate {rate} Hz in the header")
    if not np.isfinite(data).all():
        raise AudioError("the file holds NaN or infinite samples")
    info = AudioInfo(sample_rate=rate, channels=channels, frames=int(data.shape[0]))
    mono = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
        if mono.size == 0:
            raise AudioError(f"too short to resample from {rate} Hz to {sample_rate} Hz")
    return mono, info


class PendingSoundFile:
    """A sound file written block by block to a temporary beside ``path``, renamed onto it on success.

    A reader never sees a half-written file; an aborted session leaves nothing behind. A write that
    fails (a full disk) raises :class:`~rlimpro.errors.StorageError` and the file is then discarded
    on close: it would be incomplete.

    Parameters
    ----------
    path : Path
        The file to produce (its folder is created).
    sample_rate : int
        Hz.
    channels : int
    fmt : str
        soundfile format name (``"WAV"``, ``"FLAC"``, ``"AIFF"``); samples are stored as 24-bit PCM.

    Attributes
    ----------
    frames : int
        Frames written.
    error : StorageError or None
        Why writing failed, if it did.

    Raises
    ------
    ParameterError
        The folder cannot be written (names ``--output PATH``).
    """

    def __init__(self, path: Path, *, sample_rate: int, channels: int, fmt: str):
        import os
        import tempfile

        import soundfile as sf

        from rlimpro.errors import ParameterError, storage_error
        from rlimpro.interrupts import track_partial, untrack_partial

        self.path = Path(path)
        self.frames = 0
        self.error = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
            os.close(fd)
        except OSError as exc:
            raise ParameterError(f"--output {self.path}: cannot write to {self.path.parent} ({exc.strerror or exc})") from exc
        self._tmp = Path(tmp)
        track_partial(self._tmp)
        try:
            self._fh = sf.SoundFile(str(self._tmp), "w", samplerate=int(sample_rate), channels=channels, format=fmt,
                                    subtype="PCM_24")
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            self._tmp.unlink(missing_ok=True)
            untrack_partial(self._tmp)
            raise storage_error(OSError(str(exc)), self.path, label="--output") from exc

    def write(self, block: np.ndarray) -> None:
        """Append samples, shape (n,) or (n, channels), clipped to [-1, 1].

        Raises
        ------
        StorageError
            libsndfile could not write them all (a full disk); the file will be discarded.
        """
        if self.error is not None:
            raise self.error
        data = np.clip(block, -1.0, 1.0)
        try:
            self._fh.write(data)
        except (AssertionError, RuntimeError, OSError) as exc:  # soundfile asserts the frame count written
            self.error = self._io_error(exc)
            raise self.error from exc
        self.frames += data.shape[0]

    def _io_error(self, exc: BaseException):  # noqa: ANN202 - a StorageError
        from rlimpro.errors import storage_error

        # libsndfile says nothing useful about a short write; storage_error tells a full disk
        return storage_error(exc if isinstance(exc, OSError) else OSError(str(exc)), self.path, label="--output")

    def truncate(self, frames: int) -> None:
        """Keep only the first ``frames`` frames (to match a session log cut short)."""
        if self._fh is None or self.error is not None or frames >= self.frames:
            return
        try:
            self._fh.truncate(max(int(frames), 0))
            self._fh.seek(0, 2)
        except (RuntimeError, OSError) as exc:
            self.error = self._io_error(exc)
            return
        self.frames = max(int(frames), 0)

    def close(self, *, ok: bool) -> None:
        """Rename the file into place (``ok`` and every write succeeded) or delete it; idempotent.

        Raises
        ------
        StorageError
            The file could not be completed (its header written): it is deleted.
        """
        from rlimpro.interrupts import critical, untrack_partial

        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        with critical():
            try:
                fh.close()
            except (RuntimeError, OSError) as exc:
                self.error = self.error or self._io_error(exc)
            if ok and self.error is None:
                from rlimpro.tables import publish

                publish(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)
                untrack_partial(self._tmp)
        if ok and self.error is not None:
            raise self.error
