"""Training a cross-adaptive agent: ``rlimpro train CONFIG.yaml`` with ``task: cross-adaptive``.

The same order of work as the imitation task (:mod:`rlimpro.train`, whose model builder, callbacks
and saving it reuses): validate the config (nothing is created when anything is wrong), generate or
read the material and analyze it, build the Stable-Baselines3 algorithm, create the run folder
(:mod:`rlimpro.crossadaptive.runs`) with the resolved config, the command line and the feature space,
learn with ``n_envs`` environments, evaluating on the held-out pairs every ``eval_freq`` steps (the
best model is kept), and finally evaluate on the held-out pairs (:mod:`rlimpro.crossadaptive.evaluate`).
Ctrl-C saves ``final_model.zip`` before stopping.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from rlimpro import __version__
from rlimpro.errors import ParameterError, RlimproError
from rlimpro.progress import progress_bar
from rlimpro.runs import CONFIG, FINAL_MODEL, save_feature_space, write_run_json
from rlimpro.tables import write_text_atomic


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
    from rlimpro.train import (
        TrainingInterrupted,
        _callbacks,
        _final_best,
        _planned_steps,
        _vec_env,
        build_model,
        save_model,
    )
    from rlimpro.train_config import check_algorithm_kwargs

    if timesteps is not None and timesteps < 1:
        raise ParameterError(f"--timesteps {timesteps}: must be >= 1")
    source = str(config_path)
    config = load_cross_config(Path(config_path), overrides={"timesteps": timesteps, "seed": seed})
    check_algorithm_kwargs(config, source=source)
    t_prep = time.perf_counter()
    setup = prepare(config, workspace=Path(workspace), source=source)
    prep_seconds = time.perf_counter() - t_prep

    import torch

    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    venv = _vec_env(setup, n_envs=config.n_envs, split="train", seed=config.seed)
    model = build_model(setup, venv, seed=config.seed)
    eval_env = _vec_env(setup, n_envs=1, split="eval", seed=config.seed) if setup.held_out_pairs else None

    run = new_run_dir(algorithm=config.algorithm, workspace=Path(workspace))
    chain = setup.chain
    try:
        (run / "checkpoints").mkdir()
        (run / "tb").mkdir()
        write_text_atomic(run / CONFIG, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        write_text_atomic(run / "command.txt", (command or shlex.join(sys.argv)) + "\n")
        save_feature_space(run, setup.feature_space)
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
            "timesteps": config.timesteps,
            "seed": config.seed,
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
            "status": "training",
        }
        write_run_json(run, info)
    except RlimproError:
        raise
    except OSError as exc:
        raise ParameterError(f"cannot write the run folder {run}: {exc.strerror or exc}") from exc

    model.tensorboard_log = str(run / "tb")
    t0 = time.perf_counter()
    total = _planned_steps(model, config.timesteps)
    with progress_bar(f"train cross-adaptive {config.algorithm}", total=total, enabled=show_progress) as advance:
        callbacks = _callbacks(setup, run, eval_env=eval_env, timesteps=config.timesteps, show_progress=show_progress, advance=advance)
        try:
            model.learn(total_timesteps=config.timesteps, callback=callbacks, tb_log_name="run", progress_bar=False)
        except KeyboardInterrupt:
            save_model(model, run / FINAL_MODEL)
            info.update(status="interrupted", steps=int(model.num_timesteps), seconds=round(time.perf_counter() - t0, 2))
            write_run_json(run, info)
            venv.close()
            raise TrainingInterrupted(run, int(model.num_timesteps)) from None
    seconds = time.perf_counter() - t0
    save_model(model, run / FINAL_MODEL)
    if config.checkpoint_freq > 0:
        save_model(model, run / "checkpoints" / f"model_{model.num_timesteps}_steps.zip")
    final_reward = _final_best(model, run, eval_env, setup, callbacks)
    info.update(
        status="trained",
        steps=int(model.num_timesteps),
        seconds=round(seconds, 2),
        steps_per_second=round(model.num_timesteps / seconds, 1) if seconds > 0 else None,
        final_eval_reward=final_reward,
    )
    write_run_json(run, info)
    venv.close()
    if eval_env is not None:
        eval_env.close()
    if evaluate and setup.held_out_pairs:
        from rlimpro.crossadaptive.evaluate import evaluate_cross_run

        evaluate_cross_run(run, workspace=Path(workspace), show_progress=show_progress, setup=setup)
    return run
