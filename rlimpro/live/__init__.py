"""The ``live`` stage: the trained agent listening to a musician and playing a synth in real time.

Modules, one job each:

- :mod:`~rlimpro.live.policy` — an SB3 policy's weights copied to numpy; the same deterministic actions
  as ``model.predict`` without torch in the loop;
- :mod:`~rlimpro.live.agent` — one decision per frame, as the environment steps in training
  (observation from the run's feature space, policy, action map, lookup-grid synth model);
- :mod:`~rlimpro.live.sources` — an audio file at real-time pace (rehearsal) and hop assembly;
- :mod:`~rlimpro.live.device` — audio devices through PortAudio (input, output, duplex);
- :mod:`~rlimpro.live.osc` — ``/rlimpro/target`` in, ``/rlimpro/params`` out, over a plain UDP socket;
- :mod:`~rlimpro.live.outputs` — sound file, audio device, OSC and Pure Data outputs;
- :mod:`~rlimpro.live.log` — the session log (CSV + JSON sidecar) that ``rlimpro evaluate --log`` scores;
- :mod:`~rlimpro.live.latency` — decision-latency statistics;
- :mod:`~rlimpro.live.priority` — real-time scheduling of the decision loop;
- :mod:`~rlimpro.live.session` — :func:`run_live`, the plain function behind ``rlimpro live``.

Heavy imports (torch, SB3, sounddevice) happen inside the functions that need them.
"""

from __future__ import annotations

__all__ = ["run_live", "load_agent", "export_policy"]


def __getattr__(name: str):  # lazy: importing rlimpro.live stays cheap
    if name == "run_live":
        from rlimpro.live.session import run_live

        return run_live
    if name == "load_agent":
        from rlimpro.live.agent import load_agent

        return load_agent
    if name == "export_policy":
        from rlimpro.live.policy import export_policy

        return export_policy
    raise AttributeError(name)
