"""``make bench``: run every ``bench/bench_*.py`` module's ``run()`` and print its lines.

``python -m bench`` runs all; ``python -m bench lookup env`` runs the named ones. Each benchmark runs
in a fresh Python process, as a user's ``rlimpro`` command does: what one benchmark imported (torch,
Ray) or tuned would otherwise change the next one's figures (a Python process that has loaded torch
starts subprocesses several times slower, for one).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    if argv:
        wanted = {f"bench_{a.removeprefix('bench_')}" for a in argv}
        unknown = wanted - set(names)
        if unknown:
            print(f"unknown benchmarks: {', '.join(sorted(unknown))}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    failed = []
    for name in names:
        print(f"== {name.removeprefix('bench_')} ==", flush=True)
        t0 = time.perf_counter()
        code = f"from bench.{name} import run\nfor line in run():\n    print(line, flush=True)"
        with subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(f"  {line.rstrip()}", flush=True)
        if proc.returncode != 0:  # a broken benchmark is reported (its traceback went to stderr), the others still run
            failed.append(name)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
