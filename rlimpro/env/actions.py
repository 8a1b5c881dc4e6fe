"""Action spaces: how an action moves the synth parameters.

- ``discrete``: ``Discrete(3 ** N)``; action ``a`` written in base 3 (parameter 0 the most significant
  digit) gives per parameter digit 0 = down, 1 = stay, 2 = up, each by ``step_size`` (as in the paper).
- ``continuous``: ``Box(-1, 1, (N,))``; parameters move by ``action * step_size`` (incremental).
- ``absolute``: ``Box(0, 1, (N,))``; the action is the new parameter vector.

Parameters are clipped to [0, 1] after every action.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rlimpro.errors import ParameterError

ACTION_TYPES = ("discrete", "continuous", "absolute")
ActionType = Literal["discrete", "continuous", "absolute"]
MAX_DISCRETE_PARAMS = 8  # 3^8 = 6561 actions


class ActionMap:
    """The action space and the map (params, action) -> new params.

    Parameters
    ----------
    action_type : {"discrete", "continuous", "absolute"}
    n_params : int
    step_size : float
        Parameter change per step for the incremental types, in (0, 1].
    """

    def __init__(self, action_type: str, *, n_params: int, step_size: float = 0.05):
        from rlimpro.workspace import did_you_mean

        if action_type not in ACTION_TYPES:
            raise ParameterError(
                f"action_type '{action_type}' is unknown{did_you_mean(action_type, list(ACTION_TYPES))} "
                f"(choose {', '.join(ACTION_TYPES)})"
            )
        if not (0.0 < step_size <= 1.0):
            raise ParameterError(f"step_size {step_size} must be in (0, 1]")
        if action_type == "discrete" and n_params > MAX_DISCRETE_PARAMS:
            raise ParameterError(
                f"discrete actions over {n_params} parameters would be 3^{n_params} actions; "
                "use action_type continuous or absolute"
            )
        self.action_type = action_type
        self.n_params = int(n_params)
        self.step_size = float(step_size)
        digits = (np.arange(3**n_params)[:, None] // 3 ** np.arange(n_params - 1, -1, -1)[None, :]) % 3
        #: parameter change of every discrete action, shape (3^N, N)
        self.deltas = (digits - 1).astype(np.float64) * self.step_size

    def space(self):
        """The gymnasium action space."""
        from gymnasium import spaces

        n = self.n_params
        if self.action_type == "discrete":
            return spaces.Discrete(3**n)
        if self.action_type == "continuous":
            return spaces.Box(low=-1.0, high=1.0, shape=(n,), dtype=np.float32)
        return spaces.Box(low=0.0, high=1.0, shape=(n,), dtype=np.float32)

    def apply(self, params: np.ndarray, action) -> np.ndarray:
        """New parameters (shape (N,), float64, in [0, 1]); ``params`` is not modified."""
        if self.action_type == "discrete":
            new = params + self.deltas[action]
        elif self.action_type == "continuous":
            new = params + np.clip(action, -1.0, 1.0) * self.step_size
        else:
            new = np.asarray(action, dtype=np.float64)
        return np.clip(new, 0.0, 1.0)

    def stay_action(self):
        """The action that leaves the parameters unchanged (incremental types), for baselines."""
        if self.action_type == "discrete":
            return (3**self.n_params - 1) // 2
        return np.zeros(self.n_params, dtype=np.float32)
