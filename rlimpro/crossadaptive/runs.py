"""Run folders of cross-adaptive agents: ``<workspace>/crossadaptive/models/<YYYYmmdd-HHMMSS>-<ALGO>/``.

The layout is the imitation runs' (:mod:`rlimpro.runs`): ``final_model.zip``, ``best_model.zip``,
``checkpoints/``, ``tb/``, ``config.yaml`` (the resolved ``task: cross-adaptive`` config, which holds
the material and the effect chain), ``command.txt``, ``feature_space.json`` (features and z statistics)
and ``run.json`` with ``"task": "cross-adaptive"``, the chain's parameter names and defaults, the
analysis settings and the training/held-out pairs. ``evaluation.json`` and ``evaluation/`` (audio
and trajectories of the held-out pairs) come from the evaluation. The folder is self-contained:
``live`` and ``evaluate`` rebuild the chain and the observations from it.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from rlimpro.errors import MismatchError, NotFoundError
from rlimpro.runs import (
    CONFIG,
    FINAL_MODEL,
    RUN_JSON,
    create_run_dir,
    is_run,
    read_run_json,
    run_folder_named,
)

TASK = "cross-adaptive"


def models_dir(*, workspace: Path) -> Path:
    """``<workspace>/crossadaptive/models``."""
    return Path(workspace) / "crossadaptive" / "models"


def new_run_dir(*, algorithm: str, workspace: Path, now: _dt.datetime | None = None) -> Path:
    """Create and return a fresh cross-adaptive run folder: see :func:`rlimpro.runs.create_run_dir`."""
    return create_run_dir(models_dir(workspace=workspace), algorithm=algorithm, now=now)


def is_cross_run(path: Path) -> bool:
    """Whether ``path`` is a run folder whose run.json says ``task: cross-adaptive``."""
    try:
        return (Path(path) / RUN_JSON).is_file() and read_run_json(Path(path)).get("task") == TASK
    except NotFoundError:
        return False


def list_runs(*, workspace: Path) -> list[Path]:
    """Cross-adaptive run folders with a model, oldest first."""
    base = models_dir(workspace=workspace)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and is_run(p))


def resolve_run(model: str, *, workspace: Path) -> Path:
    """The cross-adaptive run folder named by ``model``.

    Parameters
    ----------
    model : str
        ``latest``, a run id (a folder name under ``crossadaptive/models/``), or a path to a run folder
        or to a model ``.zip`` inside one.
    workspace : Path

    Raises
    ------
    NotFoundError
        No such run (lists the runs there, or says how to train one).
    MismatchError
        The folder is a run of another task.
    """
    from rlimpro.workspace import did_you_mean

    workspace = Path(workspace)
    as_path = run_folder_named(model, workspace=workspace)
    if as_path is not None:
        if not is_cross_run(as_path):
            raise MismatchError(f"{as_path} is not a cross-adaptive run (its run.json has no task: cross-adaptive); "
                                "use it without --task cross-adaptive")
        if not is_run(as_path):
            raise NotFoundError(f"run {as_path} has no model yet ({FINAL_MODEL}); train it to the end")
        return as_path.resolve()
    runs = list_runs(workspace=workspace)
    names = [p.name for p in runs]
    if model == "latest":
        if not runs:
            raise NotFoundError(f"no cross-adaptive runs in {models_dir(workspace=workspace)}; "
                                "train one with `rlimpro train configs/cross-adaptive.yaml`")
        return runs[-1].resolve()
    if model in names:
        return runs[names.index(model)].resolve()
    listing = ", ".join(names[-10:]) if names else "none"
    raise NotFoundError(f"no cross-adaptive run '{model}'{did_you_mean(model, names)} "
                        f"(runs: {listing}; or 'latest', or a path to a run folder)")


def load_run_config(run: Path):
    """The run's resolved :class:`~rlimpro.crossadaptive.config.CrossAdaptiveConfig`."""
    from rlimpro.crossadaptive.config import load_cross_config

    return load_cross_config(Path(run) / CONFIG)


def load_run_features(run: Path, *, n_params: int):
    """The run's :class:`~rlimpro.crossadaptive.features.CrossFeatures`, checked against the chain's ``n_params``.

    Raises
    ------
    NotFoundError, MismatchError
    """
    from rlimpro.crossadaptive.features import CrossFeatures
    from rlimpro.runs import load_feature_space

    space = load_feature_space(Path(run))
    if space.n_params != n_params:
        raise MismatchError(f"run {Path(run).name}: its feature space has {space.n_params} effect parameters, "
                            f"its effect chain {n_params}; the run folder is inconsistent, train again")
    return CrossFeatures(space)


def check_model_fits(model: Any, *, observation_size: int, chain: Any, where: str) -> None:
    """Refuse a model whose action or observation size is not the chain's / the feature space's.

    Raises
    ------
    MismatchError
        Names both sizes and the chain's parameters.
    """
    shape = getattr(model.action_space, "shape", None)
    n = getattr(model.action_space, "n", None)
    if shape and len(shape) == 1:
        if shape[0] != chain.n_params:
            raise MismatchError(
                f"{where}: the model sets {shape[0]} effect parameters, the effect chain has {chain.n_params} "
                f"({', '.join(chain.param_names)}); use the chain the model was trained with"
            )
    elif n is not None and n != 3**chain.n_params:
        raise MismatchError(f"{where}: the model's {n} discrete actions do not fit a chain of {chain.n_params} "
                            f"parameters (3^{chain.n_params} = {3 ** chain.n_params})")
    obs = model.observation_space.shape[0]
    if obs != observation_size:
        raise MismatchError(f"{where}: the model takes observations of {obs} values, the run's features make "
                            f"{observation_size}; the model and its run do not belong together")


def run_info(run: Path) -> dict[str, Any]:
    """``run.json``, checked to be a cross-adaptive run.

    Raises
    ------
    NotFoundError, MismatchError
    """
    info = read_run_json(Path(run))
    if info.get("task") != TASK:
        raise MismatchError(f"{run} is not a cross-adaptive run")
    return info


__all__ = ["CONFIG", "TASK", "check_model_fits", "is_cross_run", "list_runs", "load_run_config", "load_run_features",
           "models_dir", "new_run_dir", "resolve_run", "run_info"]
