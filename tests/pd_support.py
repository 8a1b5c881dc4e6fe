"""Shared helpers for the Pure Data tests: finding pd, the fixture synths, checking for leftover Pd processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rlimpro.synths.spec import ParamSpec, SynthSpec

PD_SYNTHS = Path(__file__).parent / "pd_synths"


def require_pd() -> None:
    """Skip (with a printed reason naming the Debian package) when Pure Data is not installed."""
    from rlimpro.errors import PdError
    from rlimpro.pd.process import check_pd

    try:
        check_pd()
    except PdError as exc:
        pytest.skip(f"pd not found: apt-get install puredata-core ({exc})")


def fixture_spec(name: str, n_params: int) -> SynthSpec:
    """A bare-synth.pd spec (generic linear parameters) for ``tests/pd_synths/<name>/synth.pd``."""
    return SynthSpec(
        engine="pd",
        pd="synth.pd",
        params=[ParamSpec(name=f"param-{i}") for i in range(n_params)],
        name=name,
        folder=PD_SYNTHS / name,
    )


def install_fixture(workspace: Path, name: str, as_name: str | None = None) -> Path:
    """Copy fixture synth ``name`` to ``<workspace>/synths/<as_name>/synth.pd`` (a user synth folder)."""
    dest = workspace / "synths" / (as_name or name)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "synth.pd").write_bytes((PD_SYNTHS / name / "synth.pd").read_bytes())
    return dest


def peak_frequency(x: np.ndarray, sr: int) -> float:
    """Frequency (Hz) of the strongest spectral peak: zero-padded Hann FFT + parabolic interpolation."""
    n = 1 << 20
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n))
    k = int(np.argmax(mag[1:-1])) + 1
    a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + shift) * sr / n


def pd_processes_in(folder: Path) -> list[int]:
    """Pids of live (non-zombie) processes whose working directory lies under ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.startswith(str(folder)):
            found.append(int(entry.name))
    return found
