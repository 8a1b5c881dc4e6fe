"""Child-process helpers: malloc tuning for the analyzer's batch driver."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_is_accepted_by_glibc_and_idempotent():
    code = (
        "from rlimpro.workers import keep_freed_memory as k; "
        "import rlimpro.workers as w; assert not w._MALLOC_TUNED; print(k(), k())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def test_building_an_analyzer_tunes_malloc():
    code = "from rlimpro.descriptors.analyzer import Analyzer; import rlimpro.workers as w; Analyzer(); print(w._MALLOC_TUNED)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out.strip() == str(expected)
