"""Parameters in [0, 1] as MIDI control changes: one CC number per parameter, sent only on change.

A parameter ``p`` is sent as ``p * 127`` rounded half up (7-bit, see :func:`to_7bit`). :meth:`CcEncoder.changes` gives, per hop, one
control-change message for each parameter whose 7-bit value differs from the last one sent (all of them
on the first hop), in parameter order: a parameter that moves less than one step sends nothing, and no
parameter is sent more than once per hop. 14-bit CC pairs are not sent.
"""

from __future__ import annotations

import numpy as np

from rlimpro.errors import ParameterError

STEPS = 127


def parse_ccs(text: str, *, n_params: int | None = None) -> list[int]:
    """``"74,71,1"`` -> ``[74, 71, 1]``, one CC number (0..127) per parameter.

    Raises
    ------
    ParameterError
        Not integers in 0..127, a number repeated, or not one per parameter.
    """
    try:
        ccs = [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise ParameterError(f"--midi-cc {text}: give CC numbers separated by commas, e.g. 74,71,1") from None
    check_ccs(ccs, n_params=len(ccs) if n_params is None else n_params, what=f"--midi-cc {text}")
    if not ccs:
        raise ParameterError(f"--midi-cc {text!r}: give CC numbers separated by commas, e.g. 74,71,1")
    return ccs


def check_ccs(ccs: list[int], *, n_params: int, what: str) -> None:
    """Refuse CC lists that are not one distinct number in 0..127 per parameter."""
    if len(ccs) != n_params:
        raise ParameterError(f"{what}: the synth has {n_params} parameters, so give {n_params} CC numbers (got {len(ccs)})")
    bad = [c for c in ccs if not 0 <= c <= 127]
    if bad:
        raise ParameterError(f"{what}: CC numbers are 0..127 (got {bad[0]})")
    if len(set(ccs)) != len(ccs):
        raise ParameterError(f"{what}: each parameter needs its own CC number (a number is repeated)")


#: Halves round up, with this tolerance: parameters that differ only by float rounding (0.49999999999999994
#: after a few steps of 0.05, 0.5 in a 9-digit CSV log) give the same step.
HALF_STEP_TOLERANCE = 1e-9


def to_7bit(params: np.ndarray) -> np.ndarray:
    """Parameters in [0, 1] (clipped) as integers 0..127 (``p * 127`` rounded half up), shape kept."""
    x = np.clip(np.asarray(params, dtype=np.float64), 0.0, 1.0) * STEPS
    return np.minimum(np.floor(x + 0.5 + HALF_STEP_TOLERANCE), STEPS).astype(np.int64)


class CcEncoder:
    """Control changes for parameter vectors, sent only when a parameter moves by at least one step.

    Parameters
    ----------
    ccs : list of int
        CC number of each parameter.
    channel : int
        MIDI channel 1..16.
    """

    def __init__(self, ccs: list[int], *, channel: int = 1):
        if not 1 <= channel <= 16:
            raise ParameterError(f"MIDI channel {channel}: choose 1..16")
        self.ccs = list(ccs)
        self.status = 0xB0 | (channel - 1)
        self.last: np.ndarray | None = None

    def changes(self, params: np.ndarray) -> list[list[int]]:
        """The messages ``[status, cc, value]`` for one hop's parameters (shape (N,)), in parameter order."""
        values = to_7bit(params)
        if values.shape != (len(self.ccs),):
            raise ParameterError(f"{values.shape[0]} parameters for {len(self.ccs)} CC numbers")
        changed = np.ones(len(values), bool) if self.last is None else values != self.last
        self.last = values
        return [[self.status, self.ccs[i], int(values[i])] for i in np.flatnonzero(changed)]
