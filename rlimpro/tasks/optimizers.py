"""Black-box optimiser baselines over the controls in [0, 1]^M: random search and CMA-ES.

Both minimise ``f(u)`` (one render per call) within a budget of calls and return the best point and
value found. CMA-ES is the maintained reference implementation, the ``cma`` package (Hansen et al.),
with its own box handling (``bounds: [0, 1]``: candidates are repaired into the box and penalised),
seeded from the caller's generator; the first candidate evaluated is the start point, e.g. the
agent's starting controls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlimpro.errors import ParameterError

OPTIMIZERS = ("cmaes", "random")
Objective = Callable[[np.ndarray], float]


def random_search(f: Objective, *, dim: int, budget: int, rng: np.random.Generator, x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Best of ``budget`` uniform points in [0, 1]^dim (the first one ``x0`` when given).

    Returns
    -------
    best : ndarray, shape (dim,)
    value : float
    """
    if budget < 1:
        raise ParameterError(f"optimiser budget {budget} must be >= 1")
    best_x, best_f = None, float("inf")
    for i in range(budget):
        x = np.asarray(x0, dtype=np.float64) if (i == 0 and x0 is not None) else rng.random(dim)
        v = float(f(x))
        if v < best_f:
            best_x, best_f = x, v
    return best_x, best_f  # type: ignore[return-value]


def cmaes(f: Objective, *, dim: int, budget: int, rng: np.random.Generator, x0: np.ndarray | None = None,
          sigma0: float = 0.3, popsize: int | None = None) -> tuple[np.ndarray, float]:
    """Minimise ``f`` over [0, 1]^dim with CMA-ES (the ``cma`` package) in ``budget`` evaluations.

    Parameters
    ----------
    f : callable (dim,) -> float
    dim : int
    budget : int
        Evaluations of ``f`` (renders), >= 1.
    rng : numpy Generator
        Seeds ``cma``'s own generator.
    x0 : ndarray, shape (dim,), optional
        Start (the first candidate evaluated); default the centre of the box.
    sigma0 : float
        Initial step size, in units of the box.
    popsize : int, optional
        Default ``cma``'s: ``4 + floor(3 ln dim)``.

    Returns
    -------
    best : ndarray, shape (dim,)
        The best point evaluated (inside the box).
    value : float
    """
    import cma

    if budget < 1:
        raise ParameterError(f"optimiser budget {budget} must be >= 1")
    mean = np.clip(np.asarray(x0, dtype=np.float64), 0, 1) if x0 is not None else np.full(int(dim), 0.5)
    best_x, best_f = mean.copy(), float(f(mean))
    used = 1
    options = {"bounds": [0.0, 1.0], "seed": int(rng.integers(1, 2**31 - 1)), "verbose": -9,
               "maxfevals": budget, "CMA_stds": None}
    if popsize:
        options["popsize"] = int(popsize)
    es = cma.CMAEvolutionStrategy(mean, float(sigma0), options)
    while used < budget and not es.stop():
        xs = es.ask()
        k = min(len(xs), budget - used)
        values = []
        for x in xs[:k]:
            inside = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
            v = float(f(inside))
            used += 1
            if v < best_f:
                best_x, best_f = inside.copy(), v
            values.append(v)
        if k < len(xs):  # budget exhausted mid-generation: the rest is not evaluated
            break
        es.tell(xs, values)
    return best_x, best_f


def optimize(name: str, f: Objective, *, dim: int, budget: int, rng: np.random.Generator, x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Run optimiser ``name`` (``cmaes`` or ``random``)."""
    if name == "cmaes":
        return cmaes(f, dim=dim, budget=budget, rng=rng, x0=x0)
    if name == "random":
        return random_search(f, dim=dim, budget=budget, rng=rng, x0=x0)
    raise ParameterError(f"optimizer '{name}': choose {' or '.join(OPTIMIZERS)}")
