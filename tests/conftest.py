"""Shared fixtures: seeded RNG, temp workspaces, signal generators, availability of external programs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

SR = 44100


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace root."""
    return tmp_path


def sine(freq: float, *, seconds: float = 1.0, amp: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def require_program(name: str, package: str) -> str:
    """Path of an external program, or skip the test with a printed reason naming the Debian package."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found on PATH: apt-get install {package} (make test installs it as root)")
    return path
