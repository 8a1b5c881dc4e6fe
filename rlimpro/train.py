"""The ``train`` stage: a YAML config -> a trained agent in a run directory.

Order of work: validate the config and every table it names (nothing is created when anything is
wrong), build the Stable-Baselines3 algorithm (bad ``algorithm_kwargs`` values fail here, still before
any training), create the run directory with the resolved config, the command line, the feature space
and the synth model, then learn with ``n_envs`` vectorized environments, evaluating on the held-out
corpus files every ``eval_freq`` steps (the best model is kept) and checkpointing every
``checkpoint_freq`` steps. At the end the final model is evaluated on the held-out files too (so a
short run also has a best model and a checkpoint) and ``rlimpro evaluate`` writes evaluation.json.

Ctrl-C saves ``final_model.zip`` before stopping (:class:`TrainingInterrupted` carries the run).
Every model file (final, best, checkpoints) is written atomically, so a full disk or a kill never
leaves a half-written zip; a write error ends training with ``status: failed`` in run.json and a
:class:`~rlimpro.errors.StorageError` naming the file (the last good checkpoint and best model stay).
While training, run.json holds ``status: training`` and the process id, so a run whose process was
killed is told apart (:func:`rlimpro.runs.unfinished_warning`).
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rlimpro import __version__
from rlimpro.errors import ConfigError, ParameterError, StorageError, storage_error
from rlimpro.progress import progress_bar
from rlimpro.runs import (
    BEST_MODEL,
    CONFIG,
    FINAL_MODEL,
    new_run_dir,
    read_run_json,
    record_status,
    save_feature_space,
    save_synth_model,
    write_run_json,
)
from rlimpro.tables import atomic_write, write_text_atomic


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the model was saved to ``run / final_model.zip``."""

    def __init__(self, run: Path, timesteps: int):
        super().__init__(f"training interrupted after {timesteps} steps; model saved in {run}")
        self.run = run
        self.timesteps = timesteps


def save_model(model: Any, path: Path) -> None:
    """Save an SB3 model atomically (a reader never sees a half-written zip)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            model.save(fh)

    atomic_write(path, write)


def build_model(setup: Any, vec_env: Any, *, seed: int | None) -> Any:
    """The SB3 algorithm for ``setup.config`` on ``vec_env``.

    Raises
    ------
    ConfigError
        SB3 refuses the ``algorithm_kwargs`` values (the message is SB3's, prefixed by the file).
    """
    from rlimpro.train_config import algorithm_class

    c = setup.config
    kwargs = dict(c.algorithm_kwargs)
    if c.net_arch is not None:
        kwargs["policy_kwargs"] = {**(kwargs.get("policy_kwargs") or {}), "net_arch": list(c.net_arch)}
    policy = "MlpPolicy"
    if getattr(c, "task", "imitate") in ("match", "sequence"):  # a CNN policy for spectrogram observations
        policy = setup.policy()
        kwargs["policy_kwargs"] = {**setup.policy_kwargs(), **(kwargs.get("policy_kwargs") or {})}
    cls = algorithm_class(c.algorithm)
    try:
        return cls(policy, vec_env, seed=seed, verbose=0, device="cpu", **kwargs)
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        raise ConfigError(f"{setup.source}: [algorithm_kwargs] {c.algorithm} refused the settings: {exc}") from exc


def _vec_env(setup: Any, *, n_envs: int, split: str, seed: int | None) -> Any:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory() -> Any:
        return Monitor(setup.make_env(split=split))

    venv = DummyVecEnv([factory] * n_envs)
    if seed is not None:
        venv.seed(seed)
    return venv


def _callbacks(setup: Any, run: Path, *, eval_env: Any, timesteps: int, show_progress: bool, advance: Any) -> list[Any]:
    from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback

    c = setup.config

    class AtomicCheckpoint(CheckpointCallback):
        """SB3's checkpoints, each written atomically (SB3 writes the zip in place)."""

        def _on_step(self) -> bool:
            if self.n_calls % self.save_freq == 0:
                save_model(self.model, Path(self._checkpoint_path(extension="zip")))
            return True

    class SaveBest(BaseCallback):
        """Called by EvalCallback on a new best mean reward: best_model.zip, atomically."""

        def _on_step(self) -> bool:
            save_model(self.model, run / BEST_MODEL)
            return True

    class Progress(BaseCallback):
        """Advances the rich progress bar every 256 vector steps."""

        def __init__(self) -> None:
            super().__init__()
            self._shown = 0

        def _on_step(self) -> bool:
            if self.n_calls % 256 == 0:
                advance(self.num_timesteps - self._shown)
                self._shown = self.num_timesteps
            return True

        def _on_training_end(self) -> None:
            advance(self.num_timesteps - self._shown)
            self._shown = self.num_timesteps

    callbacks: list[Any] = [Progress()]
    if eval_env is not None and c.eval_freq > 0:
        callbacks.append(
            EvalCallback(
                eval_env,
                n_eval_episodes=len(setup.held_out_files),
                eval_freq=max(c.eval_freq // c.n_envs, 1),
                callback_on_new_best=SaveBest(),
                log_path=str(run / "eval"),
                deterministic=True,
                verbose=0,
            )
        )
    if c.checkpoint_freq > 0:
        callbacks.append(
            AtomicCheckpoint(
                save_freq=max(c.checkpoint_freq // c.n_envs, 1), save_path=str(run / "checkpoints"), name_prefix="model", verbose=0
            )
        )
    return callbacks


def _planned_steps(model: Any, timesteps: int) -> int:
    """Steps SB3 will really take: on-policy algorithms finish their last rollout (n_steps x n_envs)."""
    rollout = getattr(model, "n_steps", None)
    if isinstance(rollout, int) and rollout > 0:
        chunk = rollout * model.n_envs
        return -(-timesteps // chunk) * chunk
    return timesteps


def _final_best(model: Any, run: Path, eval_env: Any, setup: Any, callbacks: list[Any]) -> float | None:
    """Evaluate the final model on the held-out files; keep it as best_model.zip when it is better."""
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    if eval_env is None:
        return None
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=len(setup.held_out_files), deterministic=True)
    best = -float("inf")
    for cb in callbacks:
        if isinstance(cb, EvalCallback) and cb.n_calls > 0:
            best = cb.best_mean_reward
    if mean > best or not (run / BEST_MODEL).is_file():
        save_model(model, run / BEST_MODEL)
    return float(mean)


def train(
    *,
    config_path: Path,
    workspace: Path,
    timesteps: int | None = None,
    seed: int | None = None,
    show_progress: bool = True,
    evaluate: bool = True,
    command: str | None = None,
) -> Path:
    """Train an agent as ``config_path`` says; return its run directory.

    Parameters
    ----------
    config_path : Path
        Training config (YAML, see ``configs/fm.yaml``).
    workspace : Path
        Workspace root (lookup tables, corpora, and where the run directory goes).
    timesteps : int, optional
        Override the config's ``timesteps``.
    seed : int, optional
        Override the config's ``seed``.
    show_progress : bool
        Draw a rich progress bar on stderr.
    evaluate : bool
        Run ``rlimpro evaluate`` on the held-out files at the end (writes evaluation.json).
    command : str, optional
        Command line recorded in command.txt (default: this process's argv).

    Returns
    -------
    Path
        ``synths/<synth>/models/<YYYYmmdd-HHMMSS>-<ALGO>/``.

    Raises
    ------
    ConfigError, NotFoundError, MismatchError
        Before anything is created or trained.
    TrainingInterrupted
        Ctrl-C; the model was saved first.
    """
    from rlimpro.env.factory import prepare
    from rlimpro.train_config import check_algorithm_kwargs, load_config

    if timesteps is not None and timesteps < 1:
        raise ParameterError(f"--timesteps {timesteps}: must be >= 1")
    from rlimpro.crossadaptive.config import config_task

    if config_task(Path(config_path)) == "cross-adaptive":  # effects on a source follow a target (rlimpro.crossadaptive)
        from rlimpro.crossadaptive.train import train_cross_adaptive

        return train_cross_adaptive(config_path=Path(config_path), workspace=Path(workspace), timesteps=timesteps, seed=seed,
                                    show_progress=show_progress, evaluate=evaluate, command=command)
    source = str(config_path)
    config = load_config(Path(config_path), overrides={"timesteps": timesteps, "seed": seed})
    if config.task == "imitate":
        setup = prepare(config, workspace=Path(workspace), source=source)
    else:
        from rlimpro.tasks.setup import prepare_task

        setup = prepare_task(config, workspace=Path(workspace), source=source)
    check_algorithm_kwargs(config, source=source)

    if config.task == "imitate":
        info = {
            "rlimpro_version": __version__,
            "task": config.task,
            "synth": config.synth,
            "corpus": config.corpus,
            "algorithm": config.algorithm,
            "action_type": config.action_type,
            "n_params": setup.grid.n_params,
            "lookup": str(setup.lookup_path),
            "lookup_subdiv": setup.grid.subdiv,
            "lookup_duration": setup.lookup_meta.get("duration"),
            # the lookup table's engine ("native:fm" -> "native"; pd, faust, csound, supercollider, midi as is)
            "engine": "native" if str(setup.lookup_meta.get("engine", "native")).startswith("native")
            else setup.lookup_meta.get("engine"),
            "analysis": setup.lookup_meta.get("analysis"),
            "param_names": setup.lookup_meta.get("param_names"),
            "default_params": [float(v) for v in setup.default_params],
            "train_files": setup.train_files,
            "held_out_files": setup.held_out_files,
        }
    else:
        info = task_run_info(config, setup)

    def evaluate_held_out(run: Path) -> None:
        from rlimpro.evaluate import evaluate_run

        evaluate_run(run, workspace=Path(workspace), show_progress=show_progress)

    return run_training(
        setup,
        new_run=lambda: new_run_dir(
            synth=config.synth, algorithm=config.algorithm, workspace=Path(workspace)
        ),
        config_data=config_dump(config),
        run_info=info,
        label=f"train {config.synth} {config.algorithm}",
        command=command,
        show_progress=show_progress,
        synth_model=setup.grid if config.task == "imitate" else None,
        evaluate=evaluate_held_out if evaluate else None,
    )


def run_training(
    setup: Any,
    *,
    new_run: Callable[[], Path],
    config_data: dict[str, Any],
    run_info: dict[str, Any],
    label: str,
    command: str | None = None,
    show_progress: bool = True,
    synth_model: Any = None,
    evaluate: Callable[[Path], Any] | None = None,
) -> Path:
    """Learn ``setup.config`` in a new run folder: the part of training that every task shares.

    Builds the environments and the SB3 model (SB3 refusing the ``algorithm_kwargs`` values fails here,
    before the run folder exists), creates the run folder with ``checkpoints/``, ``tb/``, config.yaml,
    command.txt, the feature space, the synth model (when given) and run.json, learns with ``n_envs``
    environments (evaluating on the held-out files every ``eval_freq`` steps and keeping the best model,
    checkpointing every ``checkpoint_freq`` steps), saves the final model, evaluates it on the held-out
    files (kept as best model when better), completes run.json and, when files are held out, calls
    ``evaluate(run)``.

    Parameters
    ----------
    setup : Any
        A prepared task: ``config``, ``source``, ``feature_space``, ``held_out_files`` and
        ``make_env(split=...)`` (:func:`rlimpro.env.factory.prepare` and its task and cross-adaptive kin).
    new_run : callable
        Creates the run folder and returns it (called once the model is built).
    config_data : dict
        The resolved config, written to config.yaml.
    run_info : dict
        The task's part of run.json; ``timesteps``, ``seed``, ``started`` and ``status`` follow it.
    label : str
        Title of the progress bar.
    command : str, optional
        Command line recorded in command.txt (default: this process's argv).
    show_progress : bool
        Draw a rich progress bar on stderr.
    synth_model : LookupGrid, optional
        Saved in the run folder as its synth model (the imitation task).
    evaluate : callable, optional
        Called with the run folder after training when the setup holds files out.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    ConfigError
        SB3 refuses the ``algorithm_kwargs`` values (nothing is created).
    ParameterError
        The run folder cannot be written.
    TrainingInterrupted
        Ctrl-C; the model was saved first.
    """
    import torch

    config = setup.config
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    venv = _vec_env(setup, n_envs=config.n_envs, split="train", seed=config.seed)
    model = build_model(setup, venv, seed=config.seed)
    eval_env = _vec_env(setup, n_envs=1, split="eval", seed=config.seed) if setup.held_out_files else None

    run = new_run()
    try:
        (run / "checkpoints").mkdir()
        (run / "tb").mkdir()
        write_text_atomic(run / CONFIG, yaml.safe_dump(config_data, sort_keys=False))
        write_text_atomic(run / "command.txt", (command or shlex.join(sys.argv)) + "\n")
        save_feature_space(run, setup.feature_space)
        if synth_model is not None:
            save_synth_model(run, synth_model)
        info: dict[str, Any] = {
            **run_info,
            "timesteps": config.timesteps,
            "seed": config.seed,
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
            "status": "training",
        }
        info.update(pid=os.getpid(), host=socket.gethostname())
        write_run_json(run, info)
    except BaseException as exc:  # nothing trained yet: leave no half-made run folder behind
        import shutil

        shutil.rmtree(run, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ParameterError(f"cannot write the run folder {run}: {exc.strerror or exc}") from exc
        if isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt("train interrupted before training started; nothing was saved") from None
        raise

    model.tensorboard_log = str(run / "tb")
    t0 = time.perf_counter()
    saved = False
    try:
        total = _planned_steps(model, config.timesteps)
        with progress_bar(label, total=total, enabled=show_progress) as advance:
            callbacks = _callbacks(
                setup,
                run,
                eval_env=eval_env,
                timesteps=config.timesteps,
                show_progress=show_progress,
                advance=advance,
            )
            model.learn(
                total_timesteps=config.timesteps, callback=callbacks, tb_log_name="run", progress_bar=False
            )
        seconds = time.perf_counter() - t0
        save_model(model, run / FINAL_MODEL)
        saved = True
        if config.checkpoint_freq > 0:
            save_model(model, run / "checkpoints" / f"model_{model.num_timesteps}_steps.zip")
        final_reward = _final_best(model, run, eval_env, setup, callbacks)
        info.pop("pid", None)
        info.pop("host", None)
        info.update(
            status="trained",
            steps=int(model.num_timesteps),
            seconds=round(seconds, 2),
            steps_per_second=round(model.num_timesteps / seconds, 1) if seconds > 0 else None,
            final_eval_reward=final_reward,
        )
        write_run_json(run, info)
        if evaluate is not None and setup.held_out_files:
            evaluate(run)
    except KeyboardInterrupt:
        # save first (a second Ctrl-C while saving still leaves no half-written file: saves are atomic)
        if not saved:
            info.pop("pid", None)
            info.pop("host", None)
            try:
                save_model(model, run / FINAL_MODEL)
            except StorageError as exc:  # the disk is full: say so, keep what was saved before
                info.update(status="failed", error=str(exc), steps=int(model.num_timesteps))
                record_status(run, info)
                raise
            info.update(
                status="interrupted",
                steps=int(model.num_timesteps),
                seconds=round(time.perf_counter() - t0, 2),
            )
            write_run_json(run, info)
        raise TrainingInterrupted(run, int(model.num_timesteps)) from None
    except (StorageError, OSError) as exc:
        # a full disk or a read-only folder: every model file is whole (atomic writes), run.json says why
        error = exc if isinstance(exc, StorageError) else storage_error(exc, exc.filename or run)
        info.pop("pid", None)
        info.pop("host", None)
        info.update(status="failed", error=str(error), steps=int(model.num_timesteps),
                    seconds=round(time.perf_counter() - t0, 2))
        noted = record_status(run, info)
        kept = [p.name for p in (run / BEST_MODEL, run / FINAL_MODEL) if p.is_file()]
        checkpoints = sorted((run / "checkpoints").glob("*.zip"), key=lambda p: p.stat().st_mtime)
        if checkpoints:
            kept.append(f"checkpoints/{checkpoints[-1].name}")
        what = f"kept: {', '.join(kept)}" if kept else "no model was saved"
        status = "run.json says status: failed" if noted else "run.json could not be updated"
        raise StorageError(f"{error}; training stopped ({what}; {status})") from exc
    finally:
        venv.close()
        if eval_env is not None:
            eval_env.close()
    return run


def task_run_info(config: Any, setup: Any) -> dict[str, Any]:
    """run.json of a match / sequence run (no lookup table: the task describes itself), before the
    ``timesteps``, ``seed``, ``started`` and ``status`` that :func:`run_training` adds."""
    return {
        "rlimpro_version": __version__,
        "synth": config.synth,
        "algorithm": config.algorithm,
        **setup.run_info(),
    }


def config_dump(config: Any) -> dict[str, Any]:
    """The resolved config as saved in config.yaml (a sound task's leaves out the keys only imitate reads)."""
    data = config.model_dump(mode="json")
    if config.task != "imitate":
        from rlimpro.tasks.settings import IMITATE_ONLY

        skip = {*IMITATE_ONLY, "match", "sequence"} - {config.task}
        data = {k: v for k, v in data.items() if k not in skip}
    return data


def run_summary(run: Path) -> dict[str, Any]:
    """``run.json`` of a finished run (for the CLI's closing lines)."""
    return read_run_json(run)
