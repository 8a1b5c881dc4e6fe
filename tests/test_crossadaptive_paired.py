"""Two streams on one clock: frame i of the source always meets frame i of the target."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.crossadaptive.paired import PairedAnalyzer, analyze_pair, paired_hops, shared_analyzer
from rlimpro.descriptors.analyzer import AnalysisSettings
from rlimpro.descriptors.registry import descriptor_index
from rlimpro.errors import AudioError, MismatchError

SETTINGS = AnalysisSettings(sample_rate=22050, window=512, hop=256)
LOUD = descriptor_index("loudness-dBFS")


def bursts(n_hops: int, at: list[int], *, hop: int = 256, seed: int = 0) -> np.ndarray:
    """Silence with a noise burst filling hop k for every k in ``at``."""
    x = np.zeros(n_hops * hop)
    rng = np.random.default_rng(seed)
    for k in at:
        x[k * hop : (k + 1) * hop] = rng.standard_normal(hop) * 0.3
    return x


def test_frames_are_paired_by_time_index():
    """Bursts at different hops in the two streams: each frame pair reports exactly the hops of its own time."""
    src_hops, tgt_hops = [3, 10, 11, 30], [5, 10, 20, 31]
    src, tgt = bursts(40, src_hops, seed=1), bursts(40, tgt_hops, seed=2)
    paired = PairedAnalyzer(SETTINGS)
    frames = [paired.push_hops(s, t) for _, s, t in paired_hops(src, tgt, hop=256)]
    assert [f.index for f in frames] == list(range(40))
    assert_allclose([f.time for f in frames], np.arange(40) * 256 / 22050, atol=1e-12, rtol=0)
    # frame i covers hops i-1 and i (window 512): loud exactly where a burst is in one of them
    for f in frames:
        i = f.index
        assert (f.source[LOUD] > -40) == (i in src_hops or i - 1 in src_hops), i
        assert (f.target[LOUD] > -40) == (i in tgt_hops or i - 1 in tgt_hops), i


def test_streaming_pairs_equal_the_batch_frames_row_by_row():
    rng = np.random.default_rng(3)
    src = rng.standard_normal(256 * 25 + 100) * 0.2
    tgt = np.sin(2 * np.pi * 330 * np.arange(src.size) / 22050) * np.linspace(0, 1, src.size)
    batch_s, batch_t = analyze_pair(src, tgt, analyzer=shared_analyzer(SETTINGS))
    paired = PairedAnalyzer(SETTINGS)
    frames = []
    pos = 0
    for size in rng.integers(1, 700, size=100):  # blocks of any size, equal for both streams
        frames += paired.push(src[pos : pos + size], tgt[pos : pos + size])
        pos += size
        if pos >= src.size:
            break
    frames += paired.push(np.zeros(-src.size % 256), np.zeros(-src.size % 256))  # pad the last hop, as batch does
    assert len(frames) == batch_s.shape[0] == batch_t.shape[0] == 26
    assert_allclose(np.stack([f.source for f in frames]), batch_s, atol=1e-9, rtol=0)
    assert_allclose(np.stack([f.target for f in frames]), batch_t, atol=1e-9, rtol=0)


def test_reset_starts_both_streams_again():
    paired = PairedAnalyzer(SETTINGS)
    x = np.random.default_rng(0).standard_normal(256)
    first = paired.push_hops(x, x)
    paired.push_hops(x * 0, x * 0)
    paired.reset()
    again = paired.push_hops(x, x)
    assert again.index == 0 and np.array_equal(again.source, first.source)


def test_blocks_of_different_lengths_cannot_share_a_clock():
    paired = PairedAnalyzer(SETTINGS)
    with pytest.raises(MismatchError, match="equal lengths, got 300 and 299"):
        paired.push(np.zeros(300), np.zeros(299))
    with pytest.raises(AudioError, match="256 samples"):
        paired.push_hops(np.zeros(256), np.zeros(255))
    with pytest.raises(MismatchError, match="differ in length"):
        list(paired_hops(np.zeros(10), np.zeros(11), hop=4))
    with pytest.raises(MismatchError, match="differ in length"):
        analyze_pair(np.zeros(10), np.zeros(11), analyzer=shared_analyzer(SETTINGS))
