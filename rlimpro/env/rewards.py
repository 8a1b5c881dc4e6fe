"""Reward functions: the distance between synth and target, shaped by ``reward_type``.

Every reward is a function of ``x = d / reward_scale``, where ``d`` is the weighted RMSE in z space
over ``features_reward`` (:meth:`rlimpro.env.features.FeatureSpace.distance`) and ``reward_scale``
the distance counted as "far" (default 1 standard deviation). ``prize`` is paid when
``x <= prize_threshold``. The shapes follow the prototype's, with ``x`` capped at 2 for the cubic ones:

============ ===================================================== ===================
type         reward                                                range
============ ===================================================== ===================
linear       ``1 - x``                                             (-inf, 1]
cubic        ``8 (0.5 - min(x, 2))^3``                             [-27, 1]
cubic+prize  ``4 (0.5 - min(x, 2))^3 + prize * [x <= threshold]``  [-13.5, 0.5 + prize]
prize        ``prize`` if ``x <= threshold`` else ``-prize``       {-prize, prize}
inverse      ``1 / (1 + x)``                                       (0, 1]
============ ===================================================== ===================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from rlimpro.errors import ParameterError

RewardType = Literal["linear", "cubic", "cubic+prize", "prize", "inverse"]


def _linear(x: float, threshold: float, prize: float) -> float:
    return 1.0 - x


def _cubic(x: float, threshold: float, prize: float) -> float:
    c = 0.5 - min(x, 2.0)
    return 8.0 * c * c * c


def _cubic_prize(x: float, threshold: float, prize: float) -> float:
    c = 0.5 - min(x, 2.0)
    return 4.0 * c * c * c + (prize if x <= threshold else 0.0)


def _prize(x: float, threshold: float, prize: float) -> float:
    return prize if x <= threshold else -prize


def _inverse(x: float, threshold: float, prize: float) -> float:
    return 1.0 / (1.0 + x)


REWARDS: dict[str, Callable[[float, float, float], float]] = {
    "linear": _linear,
    "cubic": _cubic,
    "cubic+prize": _cubic_prize,
    "prize": _prize,
    "inverse": _inverse,
}


class Reward:
    """A reward function of the distance.

    Parameters
    ----------
    reward_type : {"linear", "cubic", "cubic+prize", "prize", "inverse"}
    scale : float
        Distance (z units) mapped to ``x = 1``; > 0.
    prize_threshold : float
        ``x`` at or below which the prize is paid (prize types only); > 0.
    prize : float
        Prize value (prize types only); > 0.

    Raises
    ------
    ParameterError
        Unknown type (with a close match) or non-positive numbers.
    """

    def __init__(self, reward_type: str = "linear", *, scale: float = 1.0, prize_threshold: float = 0.1, prize: float = 1.0):
        from rlimpro.workspace import did_you_mean

        if reward_type not in REWARDS:
            raise ParameterError(
                f"reward_type '{reward_type}' is unknown{did_you_mean(reward_type, list(REWARDS))} "
                f"(choose {', '.join(REWARDS)})"
            )
        for name, value in (("reward_scale", scale), ("prize_threshold", prize_threshold), ("prize", prize)):
            if not value > 0:
                raise ParameterError(f"{name} must be > 0, got {value}")
        self.reward_type = reward_type
        self.scale = float(scale)
        self.prize_threshold = float(prize_threshold)
        self.prize = float(prize)
        self._fn = REWARDS[reward_type]
        self._inv_scale = 1.0 / self.scale

    def __call__(self, distance: float) -> float:
        """Reward for a distance ``d >= 0`` (z units)."""
        return self._fn(distance * self._inv_scale, self.prize_threshold, self.prize)
