"""Two audio streams on one clock: frame ``i`` of the source and frame ``i`` of the target, together.

The prototype this task comes from analyzed the two musicians in separate processes and met their
descriptor frames over OSC as they happened to arrive, so a decision could pair the source of one
moment with the target of another (jitter). Here both streams are cut into hops by one counter:
:meth:`PairedAnalyzer.push_hops` takes hop ``i`` of both and returns both frames stamped with the
same index ``i`` and time ``i * hop / sample_rate`` — a frame can only ever meet the frame of its
own time. Blocks of any size go through :meth:`PairedAnalyzer.push`, which requires both blocks
to have the same length (two channels of one device, or two files read in step).

Framing is the analyzer's (see :mod:`rlimpro.descriptors.analyzer`): frame ``i`` is the window
ending at sample ``(i + 1) * hop``, so a file fed hop by hop gives the batch analyzer's frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from rlimpro.descriptors.analyzer import AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.errors import AudioError, MismatchError

_ANALYZERS: dict[AnalysisSettings, Analyzer] = {}


def shared_analyzer(settings: AnalysisSettings) -> Analyzer:
    """One :class:`Analyzer` per settings in this process (filterbanks built once, shared by every env)."""
    if settings not in _ANALYZERS:
        _ANALYZERS[settings] = Analyzer(settings)
    return _ANALYZERS[settings]


@dataclasses.dataclass(frozen=True)
class PairedFrame:
    """Frame ``index`` of both streams.

    Attributes
    ----------
    index : int
        Frame (hop) index, the same for both streams.
    time : float
        ``index * hop / sample_rate``, s.
    source, target : ndarray, shape (len(DESCRIPTORS),)
        Raw descriptors.
    """

    index: int
    time: float
    source: np.ndarray
    target: np.ndarray


class PairedAnalyzer:
    """Streaming analysis of a source and a target on one clock.

    Parameters
    ----------
    settings : AnalysisSettings
    analyzer : Analyzer, optional
        Share its filterbanks (default: :func:`shared_analyzer`).
    """

    def __init__(self, settings: AnalysisSettings, *, analyzer: Analyzer | None = None):
        an = analyzer or shared_analyzer(settings)
        self.settings = an.settings
        self.source = StreamingAnalyzer(analyzer=an)
        self.target = StreamingAnalyzer(analyzer=an)
        self.index = 0
        self._pending = (np.zeros(0), np.zeros(0))

    def reset(self) -> None:
        """Start both streams again at frame 0."""
        self.source.reset()
        self.target.reset()
        self.index = 0
        self._pending = (np.zeros(0), np.zeros(0))

    def push_hops(self, source_hop: np.ndarray, target_hop: np.ndarray) -> PairedFrame:
        """Analyze hop ``index`` of both streams.

        Parameters
        ----------
        source_hop, target_hop : ndarray, shape (hop,)

        Raises
        ------
        AudioError
            A hop of the wrong length.
        """
        h = self.settings.hop
        s = np.asarray(source_hop, dtype=np.float64)
        t = np.asarray(target_hop, dtype=np.float64)
        if s.shape != (h,) or t.shape != (h,):
            raise AudioError(f"paired hops must both have {h} samples, got {s.shape} (source) and {t.shape} (target)")
        frame = PairedFrame(
            index=self.index,
            time=self.index * h / self.settings.sample_rate,
            source=self.source.push_hop(s),
            target=self.target.push_hop(t),
        )
        self.index += 1
        return frame

    def push(self, source_block: np.ndarray, target_block: np.ndarray) -> list[PairedFrame]:
        """Feed one block of each stream (equal lengths: one clock); return the frames completed.

        Raises
        ------
        MismatchError
            The blocks differ in length (they cannot come from one clock).
        """
        s = np.asarray(source_block, dtype=np.float64).ravel()
        t = np.asarray(target_block, dtype=np.float64).ravel()
        if s.size != t.size:
            raise MismatchError(
                f"source and target blocks of one clock must have equal lengths, got {s.size} and {t.size} samples"
            )
        s = np.concatenate([self._pending[0], s])
        t = np.concatenate([self._pending[1], t])
        h = self.settings.hop
        k = s.size // h
        frames = [self.push_hops(s[i * h : (i + 1) * h], t[i * h : (i + 1) * h]) for i in range(k)]
        self._pending = (s[k * h :].copy(), t[k * h :].copy())
        return frames


def paired_hops(source: np.ndarray, target: np.ndarray, *, hop: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(i, source hop i, target hop i)`` for ``i < ceil(n / hop)``; the last hop zero-padded.

    Raises
    ------
    MismatchError
        The signals differ in length (make them a :class:`~rlimpro.crossadaptive.material.Pair` first).
    """
    if source.size != target.size:
        raise MismatchError(f"source ({source.size} samples) and target ({target.size} samples) differ in length")
    n = source.size
    for i in range(-(-n // hop)):
        s = source[i * hop : (i + 1) * hop]
        t = target[i * hop : (i + 1) * hop]
        if s.size < hop:
            s = np.concatenate([s, np.zeros(hop - s.size)])
            t = np.concatenate([t, np.zeros(hop - t.size)])
        yield i, s, t


def analyze_pair(source: np.ndarray, target: np.ndarray, *, analyzer: Analyzer) -> tuple[np.ndarray, np.ndarray]:
    """Batch analysis of both streams: ``(source frames, target frames)``, row ``i`` of both at time ``i * hop / sr``.

    Returns
    -------
    source_frames, target_frames : ndarray, shape (ceil(n / hop), len(DESCRIPTORS))

    Raises
    ------
    MismatchError
        The signals differ in length.
    """
    if np.shape(source) != np.shape(target):
        raise MismatchError(f"source {np.shape(source)} and target {np.shape(target)} differ in length")
    return analyzer.analyze(source), analyzer.analyze(target)
