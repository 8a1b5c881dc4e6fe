"""``live --output midi[:PORT]``: the agent's parameters as MIDI control changes, one hop at a time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rlimpro.live.outputs import Sink
from rlimpro.midi.cc import CcEncoder, check_ccs

DRAIN_SECONDS = 0.1  # after the last message, before the port closes (JACK sends on its next cycle)


def session_ccs(spec: Any, ccs: list[int] | None, channel: int | None) -> tuple[list[int], int]:
    """The CC numbers and channel of a session: ``--midi-cc``/``--midi-channel``, else synth.yaml's ``midi:``.

    Raises
    ------
    ParameterError
        No CC numbers anywhere, or not one distinct number per parameter.
    """
    from rlimpro.errors import ParameterError

    midi = getattr(spec, "midi", None)
    if ccs is None:
        ccs = list(midi.ccs) if midi is not None and midi.ccs else None
    if ccs is None:
        raise ParameterError(
            f"--output midi: give the CC number of each of synth '{spec.name}''s {spec.n_params} parameters with "
            f"--midi-cc (e.g. --midi-cc {','.join(str(c) for c in (74, 71, 1, 7, 10, 91, 93, 73)[: spec.n_params])}) "
            "or as midi: {ccs: [...]} in its synth.yaml"
        )
    check_ccs(list(ccs), n_params=spec.n_params, what="--midi-cc" if midi is None or not midi.ccs else "synth.yaml midi.ccs")
    if channel is None:
        channel = midi.channel if midi is not None else 1
    if not 1 <= channel <= 16:
        raise ParameterError(f"--midi-channel {channel}: choose 1..16")
    return list(ccs), int(channel)


class MidiSink(Sink):
    """Control changes to a MIDI port per decision: one message per parameter that moved a 7-bit step.

    Parameters
    ----------
    port : str
        Destination name fragment ('' opens a port of its own, ``rlimpro:out``).
    ccs : list of int
        CC number per parameter.
    channel : int
        1..16.
    """

    name = "midi"

    def __init__(self, *, port: str, ccs: list[int], channel: int):
        self.port = port
        self.encoder = CcEncoder(ccs, channel=channel)
        self.channel = channel
        self.out: Any = None
        self.port_name = ""
        self.api = ""
        self.messages = 0
        self.hops_sent = 0

    def start(self) -> None:
        from rlimpro.midi.ports import open_output

        self.out, self.port_name, self.api = open_output(self.port or None)

    def on_decision(self, params: np.ndarray, descriptors: np.ndarray, hop: np.ndarray | None, *, active: bool = True) -> None:
        # while the musician rests the parameters are held (nothing moves, nothing is sent); a hardware
        # synth's own level is the player's to set
        msgs = self.encoder.changes(params)
        for m in msgs:
            self.out.send_message(m)
        self.messages += len(msgs)
        self.hops_sent += bool(msgs)

    def close(self, *, ok: bool) -> None:
        if self.out is None:
            return
        try:
            if self.messages:
                time.sleep(DRAIN_SECONDS)
            self.out.close_port()
        finally:
            self.out.delete()
            self.out = None

    def stats(self) -> dict[str, Any]:
        return {"port": self.port_name, "api": self.api, "channel": self.channel, "ccs": self.encoder.ccs,
                "messages": self.messages, "hops_with_messages": self.hops_sent}
