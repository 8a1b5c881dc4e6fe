"""``make bench``: run every ``bench/bench_*.py`` module's ``run()`` and print its lines.

``python -m bench`` runs all; ``python -m bench lookup env`` runs the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


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
        try:
            for line in importlib.import_module(f"bench.{name}").run():
                print(f"  {line}", flush=True)
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            failed.append(name)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
