"""Black-box baselines: CMA-ES and random search over [0, 1]^M, within their render budget."""

from __future__ import annotations

import numpy as np
import pytest

from rlimpro.errors import ParameterError
from rlimpro.tasks.optimizers import cmaes, optimize, random_search

OPTIMUM = np.array([0.2, 0.7, 0.55, 0.9])


class Counted:
    def __init__(self):
        self.calls = 0
        self.points: list[np.ndarray] = []

    def __call__(self, x):
        self.calls += 1
        self.points.append(np.array(x))
        return float(np.sum((np.asarray(x) - OPTIMUM) ** 2))


@pytest.mark.parametrize("budget", [1, 5, 13, 200])
def test_optimizers_spend_exactly_their_budget_inside_the_box(budget):
    for name in ("cmaes", "random"):
        f = Counted()
        x, v = optimize(name, f, dim=4, budget=budget, rng=np.random.default_rng(0), x0=np.full(4, 0.5))
        assert f.calls == budget
        pts = np.stack(f.points)
        assert (pts >= 0).all() and (pts <= 1).all()
        assert v == min(f(p) for p in f.points[:budget])
        assert np.allclose(f.points[0], 0.5)  # the start point comes first


def test_cmaes_converges_on_a_quadratic_and_beats_random_search():
    rng = np.random.default_rng(3)
    _, v_cma = cmaes(Counted(), dim=4, budget=300, rng=rng)
    _, v_rand = random_search(Counted(), dim=4, budget=300, rng=rng)
    assert v_cma < 1e-4
    assert v_cma < v_rand


def test_cmaes_finds_an_optimum_on_the_boundary():
    x, v = cmaes(lambda u: float(np.sum((u - np.array([0.0, 1.0])) ** 2)), dim=2, budget=200, rng=np.random.default_rng(0))
    assert v < 1e-3 and x[0] < 0.03 and x[1] > 0.97


def test_cmaes_is_the_cma_package_on_a_standard_function():
    """Rosenbrock in 4-D inside the box (optimum at 0.5 after shifting): cma's CMA-ES finds it."""
    def rosenbrock(u):
        x = 4 * (np.asarray(u) - 0.5) + 1.0  # [0, 1] -> [-1, 3], optimum x = 1 at u = 0.5
        return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    x, v = cmaes(rosenbrock, dim=4, budget=3000, rng=np.random.default_rng(1), x0=np.full(4, 0.2))
    assert v < 1e-6 and np.allclose(x, 0.5, atol=1e-3)


def test_bad_optimizer_and_budget():
    with pytest.raises(ParameterError, match="optimizer 'bfgs'"):
        optimize("bfgs", Counted(), dim=2, budget=3, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="budget 0"):
        cmaes(Counted(), dim=2, budget=0, rng=np.random.default_rng(0))
