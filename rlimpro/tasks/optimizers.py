"""Black-box optimiser baselines over the controls in [0, 1]^M: random search and CMA-ES.

Both minimise ``f(u)`` (one render per call) within a budget of calls and return the best point and
value found. CMA-ES is the standard (mu/mu_w, lambda) algorithm with cumulative step-size adaptation,
rank-one and rank-mu covariance updates (Hansen, "The CMA Evolution Strategy: A Tutorial", 2016, the
default parameters of its Table 1), implemented here in numpy. Candidates outside [0, 1] are evaluated
at their projection onto the box and penalised by their squared distance to it (so the search stays
inside); the first candidate is the start point, e.g. the agent's starting controls.
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
    """Minimise ``f`` over [0, 1]^dim with CMA-ES in ``budget`` evaluations.

    Parameters
    ----------
    f : callable (dim,) -> float
    dim : int
    budget : int
        Evaluations of ``f`` (renders), >= 1.
    rng : numpy Generator
    x0 : ndarray, shape (dim,), optional
        Start (the first candidate evaluated); default the centre of the box.
    sigma0 : float
        Initial step size, in units of the box.
    popsize : int, optional
        Default ``4 + floor(3 ln dim)``.

    Returns
    -------
    best : ndarray, shape (dim,)
        The best point evaluated (inside the box).
    value : float
    """
    if budget < 1:
        raise ParameterError(f"optimiser budget {budget} must be >= 1")
    n = int(dim)
    lam = int(popsize or 4 + int(3 * np.log(n)))
    mu = lam // 2
    w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    mueff = 1.0 / np.sum(w**2)
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    cs = (mueff + 2) / (n + mueff + 5)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    damps = 1 + 2 * max(0.0, np.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    chin = np.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))

    mean = np.clip(np.asarray(x0, dtype=np.float64), 0, 1) if x0 is not None else np.full(n, 0.5)
    sigma = float(sigma0)
    pc, ps = np.zeros(n), np.zeros(n)
    B, D = np.eye(n), np.ones(n)
    C = np.eye(n)
    used = 0
    best_x, best_f = mean.copy(), float(f(mean))
    used += 1
    gen = 0
    while used < budget:
        k = min(lam, budget - used)
        z = rng.standard_normal((lam, n))
        y = z @ (B * D).T  # B diag(D) z
        x = mean + sigma * y
        fx = np.empty(lam)
        for i in range(lam):
            inside = np.clip(x[i], 0.0, 1.0)
            if i < k:
                v = float(f(inside))
                used += 1
                if v < best_f:
                    best_x, best_f = inside.copy(), v
                fx[i] = v + float(np.sum((x[i] - inside) ** 2))
            else:
                fx[i] = np.inf  # budget exhausted mid-generation: not evaluated
        if k < lam:
            break
        order = np.argsort(fx)[:mu]
        y_w = w @ y[order]
        mean = mean + sigma * y_w
        invsqrt = B @ np.diag(1 / D) @ B.T
        ps = (1 - cs) * ps + np.sqrt(cs * (2 - cs) * mueff) * (invsqrt @ y_w)
        gen += 1
        hsig = np.linalg.norm(ps) / np.sqrt(1 - (1 - cs) ** (2 * gen)) / chin < 1.4 + 2 / (n + 1)
        pc = (1 - cc) * pc + hsig * np.sqrt(cc * (2 - cc) * mueff) * y_w
        rank_mu = (y[order].T * w) @ y[order]
        C = (1 - c1 - cmu) * C + c1 * (np.outer(pc, pc) + (1 - hsig) * cc * (2 - cc) * C) + cmu * rank_mu
        sigma *= np.exp((cs / damps) * (np.linalg.norm(ps) / chin - 1))
        sigma = float(np.clip(sigma, 1e-8, 1.0))
        C = np.triu(C) + np.triu(C, 1).T
        evals, B = np.linalg.eigh(C)
        D = np.sqrt(np.maximum(evals, 1e-20))
    return best_x, best_f


def optimize(name: str, f: Objective, *, dim: int, budget: int, rng: np.random.Generator, x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Run optimiser ``name`` (``cmaes`` or ``random``)."""
    if name == "cmaes":
        return cmaes(f, dim=dim, budget=budget, rng=rng, x0=x0)
    if name == "random":
        return random_search(f, dim=dim, budget=budget, rng=rng, x0=x0)
    raise ParameterError(f"optimizer '{name}': choose {' or '.join(OPTIMIZERS)}")
