"""Which synth engines can run here: each test of a real engine skips, with the install line, when its program is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: engine -> (programs it needs, Debian packages that bring them)
NEEDS = {
    "native": ((), ""),
    "pd": (("pd",), "puredata-core"),
    "faust": (("faust", "g++"), "faust g++"),
    "csound": (("csound",), "csound libcsound64-dev libcsnd-dev"),
    "supercollider": (("scsynth",), "supercollider-server"),
}
#: engines with a source for the built-in sine and fm
SOURCE_ENGINES = ["native", "pd", "faust", "csound", "supercollider"]


def require_engine(engine: str) -> None:
    """Skip with a printed reason when ``engine``'s programs are missing (make test installs them as root)."""
    programs, packages = NEEDS[engine]
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: apt-get install {packages} (make test installs it as root)")
    if engine == "csound":
        try:
            import ctcsound  # noqa: F401
        except (ImportError, OSError) as exc:
            pytest.skip(f"ctcsound cannot load libcsound64 ({exc}): apt-get install libcsound64-dev libcsnd-dev")


def processes_mentioning(text: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(int(entry.name))
    return found
