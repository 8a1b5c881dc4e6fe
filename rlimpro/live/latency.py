"""Decision-latency statistics: every hop's decision time, summarised as median and p99."""

from __future__ import annotations

import numpy as np


class LatencyRecorder:
    """Collect durations (seconds) in a preallocated, doubling array (8 bytes per hop).

    An hour of hops at 44.1 kHz / 512 is about 310,000 values: 2.5 MB.
    """

    def __init__(self, capacity: int = 4096):
        self._values = np.empty((max(int(capacity), 16), 2))
        self.n = 0

    def add(self, seconds: float, cpu_seconds: float = float("nan")) -> None:
        """Record one wall-clock duration and, optionally, the thread CPU time it took (seconds)."""
        if self.n == self._values.shape[0]:
            self._values = np.concatenate([self._values, np.empty_like(self._values)])
        self._values[self.n, 0] = seconds
        self._values[self.n, 1] = cpu_seconds
        self.n += 1

    @property
    def values(self) -> np.ndarray:
        """The recorded wall-clock durations, seconds, shape (n,)."""
        return self._values[: self.n, 0]

    @property
    def cpu_values(self) -> np.ndarray:
        """The recorded thread CPU times, seconds, shape (n,) (NaN where not recorded)."""
        return self._values[: self.n, 1]

    def summary(self) -> dict[str, float | int | None]:
        """``n``, ``median_ms``, ``p99_ms``, ``mean_ms``, ``max_ms`` of wall-clock time (None when empty),
        plus ``cpu_median_ms`` and ``cpu_p99_ms`` of thread CPU time when it was recorded.

        Wall-clock time is what the musician waits; CPU time leaves out the time the process was
        not running (another program had the core), so the two together tell a slow decision from a busy
        machine.
        """
        if self.n == 0:
            return {"n": 0, "median_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
        ms = self.values * 1e3
        out: dict[str, float | int | None] = {
            "n": int(self.n),
            "median_ms": round(float(np.median(ms)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "mean_ms": round(float(ms.mean()), 4),
            "max_ms": round(float(ms.max()), 4),
        }
        cpu = self.cpu_values
        cpu = cpu[np.isfinite(cpu)] * 1e3
        if cpu.size:
            out["cpu_median_ms"] = round(float(np.median(cpu)), 4)
            out["cpu_p99_ms"] = round(float(np.percentile(cpu, 99)), 4)
        return out


def format_summary(summary: dict[str, float | int | None], *, what: str = "decision latency per hop") -> str:
    """One line: ``decision latency per hop: median 0.21 ms, p99 0.35 ms (n = 1234 hops)``."""
    if not summary.get("n"):
        return f"{what}: no hops processed"
    line = (
        f"{what}: median {summary['median_ms']:.3f} ms, p99 {summary['p99_ms']:.3f} ms, "
        f"max {summary['max_ms']:.3f} ms (n = {summary['n']} hops)"
    )
    if summary.get("cpu_p99_ms") is not None:
        line += f"; CPU time median {summary['cpu_median_ms']:.3f} ms, p99 {summary['cpu_p99_ms']:.3f} ms"
    return line
