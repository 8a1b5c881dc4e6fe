"""Audio inputs for live use: a file played at real-time pace (rehearsal) and hop assembly.

The audio device input lives in :mod:`rlimpro.live.device`; OSC descriptor input in
:mod:`rlimpro.live.osc`. Every audio input ends here as hops of exactly ``hop`` samples at the
analysis sample rate, in order, which is what :meth:`StreamingAnalyzer.push_hop` takes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rlimpro.errors import AudioError, NotFoundError


class HopAssembler:
    """Cut a stream of blocks of any size into hops of ``hop`` samples.

    Parameters
    ----------
    hop : int
        Samples per hop.
    """

    def __init__(self, *, hop: int):
        self.hop = int(hop)
        self._buf = np.zeros(4 * self.hop, dtype=np.float64)
        self._n = 0

    def feed(self, block: np.ndarray) -> list[np.ndarray]:
        """Add ``block`` (shape (k,)); return the hops it completed (copies, shape (hop,) each)."""
        block = np.asarray(block, dtype=np.float64).ravel()
        need = self._n + block.size
        if need > self._buf.size:
            grown = np.zeros(max(need, 2 * self._buf.size))
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = block
        self._n = need
        k = self._n // self.hop
        hops = [self._buf[i * self.hop : (i + 1) * self.hop].copy() for i in range(k)]
        rest = self._n - k * self.hop
        if k:
            self._buf[:rest] = self._buf[k * self.hop : self._n]
            self._n = rest
        return hops

    @property
    def pending(self) -> int:
        """Samples waiting for the rest of their hop."""
        return self._n


class FileSource:
    """An audio file as hops at the analysis rate, at real-time pace or as fast as possible.

    Parameters
    ----------
    path : Path
        Audio file (wav, flac, ogg, aiff …), decoded and resampled by :func:`rlimpro.audiofile.read_audio`.
    sample_rate : int
        Analysis rate, Hz.
    hop : int
        Samples per hop.
    realtime : bool
        Deliver hop ``i`` no earlier than ``(i + 1) * hop / sample_rate`` s after the first (when it
        would have fully arrived from a microphone); False delivers as fast as the consumer takes them.

    Raises
    ------
    NotFoundError
        The file does not exist.
    AudioError
        The file cannot be decoded (names the file).
    """

    def __init__(self, path: Path, *, sample_rate: int, hop: int, realtime: bool):
        from rlimpro.audiofile import read_audio

        self.path = Path(path)
        if not self.path.is_file():
            raise NotFoundError(f"--input {self.path}: no such audio file (or use 'osc[:PORT]' or 'device')")
        try:
            self.signal, self.info = read_audio(self.path, sample_rate=sample_rate)
        except AudioError as exc:
            raise AudioError(f"--input {self.path}: {exc}") from exc
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.realtime = realtime
        self.late_hops = 0  #: real-time hops delivered more than one hop after their due time

    @property
    def n_samples(self) -> int:
        """Samples of the signal at the analysis rate."""
        return int(self.signal.size)

    @property
    def n_hops(self) -> int:
        """``ceil(n_samples / hop)``: the number of analysis frames of the file."""
        return -(-self.n_samples // self.hop)

    def hops(self) -> Iterator[np.ndarray]:
        """Hops of ``hop`` samples, float64; the last one zero-padded (as the batch analyzer pads)."""
        h = self.hop
        period = h / self.sample_rate
        t0 = time.perf_counter()
        for i in range(self.n_hops):
            if self.realtime:
                due = t0 + (i + 1) * period
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif -wait > period:
                    self.late_hops += 1
            chunk = self.signal[i * h : (i + 1) * h]
            if chunk.size < h:
                chunk = np.concatenate([chunk, np.zeros(h - chunk.size, dtype=chunk.dtype)])
            yield chunk.astype(np.float64)
