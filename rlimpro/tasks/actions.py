"""Action spaces of the sound tasks over an :class:`~rlimpro.tasks.specs.ActionLayout`'s controls.

Continuous when any control is ``lin`` or ``exp`` (choice controls are then read from their bin), discrete
when every control is a ``choice``:

============ ================================================= =============================================
mode         continuous (``Box(-1, 1, (M,))``, float32)        discrete (``MultiDiscrete``)
============ ================================================= =============================================
incremental  ``u += a * step_size`` (clipped to [0, 1])        ``[3] * M``: each choice down / stay / up one
absolute     ``u = (a + 1) / 2``                               ``nvec``: the index of each choice
============ ================================================= =============================================

The Box is symmetric and normalised as SB3 recommends.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rlimpro.errors import ParameterError
from rlimpro.tasks.specs import ActionLayout

ActionMode = Literal["incremental", "absolute"]
ACTION_MODES = ("incremental", "absolute")


class ControlActions:
    """The action space and the map (controls, action) -> new controls.

    Parameters
    ----------
    layout : ActionLayout
    mode : {"incremental", "absolute"}
    step_size : float
        Control change per step at full action (incremental continuous), in (0, 1].
    """

    def __init__(self, layout: ActionLayout, *, mode: str = "incremental", step_size: float = 0.1):
        if mode not in ACTION_MODES:
            raise ParameterError(f"action mode '{mode}': choose {' or '.join(ACTION_MODES)}")
        if not 0.0 < step_size <= 1.0:
            raise ParameterError(f"step_size {step_size} must be in (0, 1]")
        self.layout = layout
        self.mode = mode
        self.step_size = float(step_size)
        self.discrete = layout.discrete
        self.nvec = np.asarray(layout.nvec, dtype=np.int64)

    def space(self):
        """The gymnasium action space."""
        from gymnasium import spaces

        m = self.layout.n_controls
        if self.discrete:
            return spaces.MultiDiscrete(np.full(m, 3) if self.mode == "incremental" else self.nvec)
        return spaces.Box(low=-1.0, high=1.0, shape=(m,), dtype=np.float32)

    def apply(self, u: np.ndarray, action) -> np.ndarray:
        """New controls, shape (M,), float64, in [0, 1] (choice controls at their bin centre)."""
        a = np.asarray(action)
        if self.discrete:
            a = a.astype(np.int64)
            if self.mode == "absolute":
                return self.layout.controls_of_choices(np.clip(a, 0, self.nvec - 1))
            k = np.minimum((u * self.nvec).astype(np.int64), self.nvec - 1)
            return self.layout.controls_of_choices(np.clip(k + a - 1, 0, self.nvec - 1))
        a = np.clip(a.astype(np.float64), -1.0, 1.0)
        if self.mode == "absolute":
            return (a + 1.0) / 2.0
        return np.clip(u + a * self.step_size, 0.0, 1.0)

    def to_action(self, u: np.ndarray):
        """The absolute action that sets controls ``u`` (for baselines and optimisers)."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        if self.discrete:
            return np.minimum((u * self.nvec).astype(np.int64), self.nvec - 1)
        return (2.0 * u - 1.0).astype(np.float32)
