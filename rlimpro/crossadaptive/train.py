"""Training a cross-adaptive agent: ``rlimpro train CONFIG.yaml`` with ``task: cross-adaptive``.

The same order of work as the imitation task (:func:`rlimpro.train.run_training` builds the model,
writes the run folder, learns and saves for both): validate the config (nothing is created when
anything is wrong), generate or read the material and analyze it, build the Stable-Baselines3
algorithm, create the run folder (:mod:`rlimpro.crossadaptive.runs`) with the resolved config, the
command line and the feature space, learn with ``n_envs`` environments, evaluating on the held-out
pairs every ``eval_freq`` steps (the best model is kept), and finally evaluate on the held-out pairs
(:mod:`rlimpro.crossadaptive.evaluate`).
Ctrl-C saves ``final_model.zip`` before stopping.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rlimpro import __version__
from rlimpro.errors import ParameterError


def train_cross_adaptive(
    *,
    config_path: Path,
    workspace: Path,
    timesteps: int | None = None,
    seed: int | None = None,
    show_progress: bool = True,
    evaluate: bool = True,
    command: str | None = None,
) -> Path:
    """Train a cross-adaptive agent as ``config_path`` says; return its run folder.

    Parameters
    ----------
    config_path : Path
        A ``task: cross-adaptive`` config (see ``configs/cross-adaptive.yaml``).
    workspace : Path
        Workspace root (corpora for corpus material; where the run folder goes).
    timesteps, seed : int, optional
        Override the config's.
    show_progress : bool
        Rich progress bars on stderr.
    evaluate : bool
        Evaluate on the held-out pairs at the end (writes evaluation.json and evaluation/).
    command : str, optional
        Command line recorded in command.txt (default: this process's argv).

    Returns
    -------
    Path
        ``crossadaptive/models/<YYYYmmdd-HHMMSS>-<ALGO>/``.

    Raises
    ------
    ConfigError, NotFoundError, MismatchError, AudioError
        Before anything is created or trained.
    TrainingInterrupted
        Ctrl-C; the model was saved first.
    """
    from rlimpro.crossadaptive.config import load_cross_config
    from rlimpro.crossadaptive.runs import TASK, new_run_dir
    from rlimpro.crossadaptive.setup import prepare
    from rlimpro.train import run_training
    from rlimpro.train_config import check_algorithm_kwargs

    if timesteps is not None and timesteps < 1:
        raise ParameterError(f"--timesteps {timesteps}: must be >= 1")
    source = str(config_path)
    config = load_cross_config(Path(config_path), overrides={"timesteps": timesteps, "seed": seed})
    check_algorithm_kwargs(config, source=source)
    t_prep = time.perf_counter()
    setup = prepare(config, workspace=Path(workspace), source=source)
    prep_seconds = time.perf_counter() - t_prep

    chain = setup.chain
    info: dict[str, Any] = {
        "rlimpro_version": __version__,
        "task": TASK,
        "algorithm": config.algorithm,
        "action_type": config.action_type,
        "effects": chain.spec(),
        "n_params": chain.n_params,
        "param_names": list(chain.param_names),
        "default_params": [float(v) for v in chain.defaults],
        "ramp": config.ramp,
        "analysis": config.analysis_settings().to_dict(),
        "material": config.material.model_dump(mode="json"),
        "train_pairs": setup.train_pairs,
        "held_out_pairs": setup.held_out_pairs,
        "material_seconds": round(prep_seconds, 2),
    }

    def evaluate_held_out(run: Path) -> None:
        from rlimpro.crossadaptive.evaluate import evaluate_cross_run

        evaluate_cross_run(run, workspace=Path(workspace), show_progress=show_progress, setup=setup)

    return run_training(
        setup,
        new_run=lambda: new_run_dir(algorithm=config.algorithm, workspace=Path(workspace)),
        config_data=config.model_dump(mode="json"),
        run_info=info,
        label=f"train cross-adaptive {config.algorithm}",
        command=command,
        show_progress=show_progress,
        evaluate=evaluate_held_out if evaluate else None,
    )
