"""Real-time scheduling for the decision loop, as audio programs (JACK, Pd ``-rt``) ask for it.

On a busy machine a normal process waits its turn for a core, and a hop's decision that takes 0.2 ms
of CPU can take 10 ms of wall time. With ``SCHED_FIFO`` the loop runs as soon as its input arrives.
The priority is modest (:data:`RT_PRIORITY`, below JACK's own threads, which run at 70 and above,
so the audio server still comes first), applies to the calling thread only, and is restored when the
session ends. The loop always blocks waiting for input, and Linux keeps 5 % of each core for other
tasks (``kernel.sched_rt_runtime_us``), so it cannot lock the machine.

Linux grants it to root or to users with an ``rtprio`` limit (``/etc/security/limits.d/audio.conf``:
``@audio - rtprio 95``, the same set-up JACK needs); elsewhere the session runs at normal priority and
says so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

RT_PRIORITY = 20


@contextlib.contextmanager
def realtime_priority(enabled: bool = True) -> Iterator[str]:
    """Run the body with ``SCHED_FIFO`` priority for the calling thread, if permitted.

    Yields
    ------
    str
        ``"SCHED_FIFO <priority>"`` when granted, else why not (``"off"``, ``"not permitted (...)"``,
        ``"not available on this system"``).
    """
    if not enabled:
        yield "off"
        return
    if not hasattr(os, "sched_setscheduler"):
        yield "not available on this system"
        return
    try:
        previous = os.sched_getscheduler(0)
        previous_param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except OSError as exc:
        yield f"not permitted ({exc.strerror or exc}); allow rtprio for your user as for JACK"
        return
    try:
        yield f"SCHED_FIFO {RT_PRIORITY}"
    finally:
        try:
            os.sched_setscheduler(0, previous, previous_param)
        except OSError:
            pass
