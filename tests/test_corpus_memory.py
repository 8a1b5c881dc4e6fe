"""analyze-corpus streams long files: bounded memory, the very tables of a whole-signal analysis.

The whole-signal analysis took 655 MB for a 10-minute file and 1.7 GB for 30 minutes. Here a generated
30-minute file is analyzed in a fresh process whose peak resident memory (``VmHWM``) is compared
with the same process analyzing a 10-second file: the length must not show. Streamed tables are
compared byte for byte with ``table_csv(describe_signal(read_audio(...)))`` on files that span several
blocks, with resampling, stereo and smoothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.audiofile import read_audio
from rlimpro.corpus import analyze_file, describe_signal, table_csv
from rlimpro.descriptors.analyzer import AnalysisSettings

pytestmark = pytest.mark.slow
PEAK_MB = 300  #: absolute bound on the analysis process (about 150 MB of it is Python, numpy, scipy ...)
GROWTH_MB = 64  #: what a file 180 times longer may add


def write_music(path: Path, *, seconds: float, sr: int = 44100, channels: int = 1) -> None:
    """A gliding tone with rests and a little noise, written 10 s at a time (never all in memory)."""
    rng = np.random.default_rng(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = int(seconds * sr)
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype="PCM_16") as fh:
        for start in range(0, total, 10 * sr):
            n = min(10 * sr, total - start)
            t = (start + np.arange(n)) / sr
            x = 0.3 * np.sin(2 * np.pi * (220 + 110 * np.sin(2 * np.pi * t / 37)) * t) * (np.sin(2 * np.pi * t / 7) > -0.3)
            x = x + 0.01 * rng.standard_normal(n)
            fh.write(np.stack([x, 0.5 * x], axis=1)[:, :channels].astype(np.float32))


# VmHWM, the peak resident set of this process image. Not ru_maxrss: Linux carries the parent's resident
# size at fork into the child's ru_maxrss, so under a big pytest process it measures pytest.
PROBE = """
import sys
from pathlib import Path
from rlimpro.corpus import analyze_corpus
analyze_corpus(corpus="long", workspace=Path(sys.argv[1]), workers=1, show_progress=False)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def peak_rss_mb(workspace: Path) -> float:
    """Peak resident memory (MB) of a fresh process analyzing ``workspace``'s corpus 'long'."""
    res = subprocess.run([sys.executable, "-c", PROBE, str(workspace)], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split()[-1]) / 1024  # kB


def test_a_30_minute_file_is_analyzed_in_bounded_memory(tmp_path):
    short, long = tmp_path / "short", tmp_path / "long"
    write_music(short / "corpora" / "long" / "audio" / "a.wav", seconds=10)
    write_music(long / "corpora" / "long" / "audio" / "a.wav", seconds=30 * 60)
    base = peak_rss_mb(short)
    peak = peak_rss_mb(long)
    print(f"peak RSS: {peak:.0f} MB for 30 minutes, {base:.0f} MB for 10 seconds")
    assert peak < PEAK_MB
    assert peak - base < GROWTH_MB
    rows = sum(1 for _ in open(long / "corpora" / "long" / "features" / "a.csv")) - 1
    assert rows == -(-30 * 60 * 44100 // 512)


@pytest.mark.parametrize(
    ("sr", "channels", "smooth"),
    [(44100, 1, 1), (44100, 1, 4), (48000, 2, 1), (22050, 2, 3)],
)
def test_streamed_tables_are_the_whole_signal_tables(tmp_path, sr, channels, smooth):
    from rlimpro.corpus import BLOCK_FRAMES

    settings = AnalysisSettings(smooth=smooth)
    audio = tmp_path / "a.wav"
    seconds = 2.5 * BLOCK_FRAMES * 512 / 44100 + 0.123  # three blocks, the last one partial
    write_music(audio, seconds=seconds, sr=sr, channels=channels)
    table = tmp_path / "a.csv"
    entry = analyze_file(audio, table=table, settings=settings)
    signal, info = read_audio(audio, sample_rate=44100)
    expected = table_csv(describe_signal(signal, settings=settings))
    streamed = table.read_text()
    assert streamed == expected
    assert entry["frames"] == -(-signal.size // 512) and entry["channels"] == channels and entry["sample_rate"] == sr
