"""Run directories: where a training run keeps its models, logs and the settings to reuse them.

``synths/<synth>/models/<YYYYmmdd-HHMMSS>-<ALGO>/`` holds

================== ==============================================================================
final_model.zip    the policy at the end of training (or at Ctrl-C)
best_model.zip     the policy with the best mean reward on the held-out files during training
checkpoints/       periodic checkpoints (``model_<steps>_steps.zip``)
tb/                TensorBoard logs (``tensorboard --logdir <run>/tb``)
config.yaml        the resolved training config (every key, defaults filled in)
command.txt        the command line that started the run
run.json           synth, corpus, algorithm, files used for training and held out, status, timing
feature_space.json the observation/reward features and their z-scoring statistics
synth_model.npz    the lookup grid the agent was trained on (raw descriptors, subdiv, n_params)
evaluation.json    ``rlimpro evaluate`` results; evaluation.png, trajectories/<file>.csv
================== ==============================================================================

``feature_space.json`` and ``synth_model.npz`` make a run self-contained: ``live`` and ``evaluate``
build observations exactly as in training even if the lookup table is recomputed later.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.tables import atomic_write, write_json_atomic
from rlimpro.workspace import did_you_mean, inside_workspace, synth_dir

FINAL_MODEL = "final_model.zip"
BEST_MODEL = "best_model.zip"
RUN_JSON = "run.json"
FEATURE_SPACE = "feature_space.json"
SYNTH_MODEL = "synth_model.npz"
CONFIG = "config.yaml"
EVALUATION = "evaluation.json"


def models_dir(synth: str, *, workspace: Path) -> Path:
    """``<workspace>/synths/<synth>/models``."""
    return synth_dir(synth, workspace=workspace) / "models"


def new_run_dir(*, synth: str, algorithm: str, workspace: Path, now: _dt.datetime | None = None) -> Path:
    """Create and return a fresh run folder of ``synth``: see :func:`create_run_dir`."""
    return create_run_dir(models_dir(synth, workspace=workspace), algorithm=algorithm, now=now)


def create_run_dir(base: Path, *, algorithm: str, now: _dt.datetime | None = None) -> Path:
    """Create and return a fresh run folder ``base/<YYYYmmdd-HHMMSS>-<ALGO>`` (``-2``, ``-3`` … if taken).

    Raises
    ------
    ParameterError
        The folder cannot be created.
    """
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{algorithm.upper()}"
    for i in range(1, 1000):
        path = base / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise ParameterError(f"cannot create run folder {path}: {exc.strerror or exc}") from exc
    raise ParameterError(f"too many runs named {name} in {base}")


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run folder with a usable model."""
    return (path / RUN_JSON).is_file() and ((path / FINAL_MODEL).is_file() or (path / BEST_MODEL).is_file())


def list_runs(*, synth: str, workspace: Path) -> list[Path]:
    """Run folders of ``synth`` with a model, oldest first (names sort by time)."""
    base = models_dir(synth, workspace=workspace)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and is_run(p)), key=lambda p: p.name)


def run_folder_named(model: str, *, workspace: Path) -> Path | None:
    """The run folder ``model`` names as a path (relative to ``workspace``; a model .zip names its
    folder), or None when ``model`` is not a folder holding a run.json (an id or ``latest``)."""
    as_path = Path(model).expanduser()
    if not as_path.is_absolute():
        as_path = Path(workspace) / as_path
    if as_path.suffix == ".zip" and as_path.is_file():
        as_path = as_path.parent
    if not (as_path.is_dir() and (as_path / RUN_JSON).is_file()):
        return None
    return inside_workspace(as_path, workspace=Path(workspace), option="run", name=model)


def resolve_run(model: str, *, synth: str | None, workspace: Path) -> Path:
    """The run folder named by ``model``.

    Parameters
    ----------
    model : str
        ``latest`` (the newest run of ``synth`` that has a model), a run id
        (``20250101-120000-PPO``, a folder name under ``synths/<synth>/models/``), or a path to a run
        folder or to a model ``.zip`` inside one.
    synth : str or None
        Synth whose runs ``latest`` and run ids refer to (not needed for paths).
    workspace : Path
        Workspace root.

    Returns
    -------
    Path
        The run folder (absolute).

    Raises
    ------
    NotFoundError
        No such run; the message lists the available runs of ``synth`` (or says how to make one).
    """
    workspace = Path(workspace)
    as_path = run_folder_named(model, workspace=workspace)
    if as_path is not None:
        if not is_run(as_path):
            raise NotFoundError(f"run {as_path} has no model yet ({FINAL_MODEL} / {BEST_MODEL}); train it to the end")
        return as_path.resolve()
    if synth is None:
        raise NotFoundError(
            f"model '{model}' is not a run folder; give --synth to pick a run by id or 'latest', or a path to a run"
        )
    runs = list_runs(synth=synth, workspace=workspace)
    names = [p.name for p in runs]
    if model == "latest":
        if not runs:
            raise NotFoundError(
                f"synth '{synth}' has no trained runs in {models_dir(synth, workspace=workspace)}; "
                f"train one with `rlimpro train configs/{synth}.yaml`"
            )
        return runs[-1].resolve()
    if model in names:
        return runs[names.index(model)].resolve()
    listing = ", ".join(names[-10:]) if names else "none"
    raise NotFoundError(
        f"no run '{model}' of synth '{synth}'{did_you_mean(model, names)} "
        f"(runs: {listing}; or 'latest', or a path to a run folder)"
    )


def model_path(run: Path) -> Path:
    """The model ``live`` and ``evaluate`` use: ``best_model.zip`` when present, else ``final_model.zip``."""
    best = Path(run) / BEST_MODEL
    if best.is_file():
        return best
    final = Path(run) / FINAL_MODEL
    if final.is_file():
        return final
    raise NotFoundError(f"run {run} has no {BEST_MODEL} or {FINAL_MODEL}; train it to the end")


def model_zip(model: str, *, run_dir: Path, workspace: Path) -> Path:
    """The model file a ``--model`` value names: the ``.zip`` it is (relative to ``workspace``), else the
    model of ``run_dir`` that live and evaluation use (:func:`model_path`: best first).

    Raises
    ------
    NotFoundError
        The run has no model.
    """
    given = Path(model).expanduser()
    if given.suffix == ".zip":  # a specific model file of the run
        path = given if given.is_absolute() else Path(workspace) / given
        return inside_workspace(path, workspace=Path(workspace), option="run", name=model).resolve()
    return model_path(run_dir)


def read_run_json(run: Path) -> dict[str, Any]:
    """The run's ``run.json``.

    Raises
    ------
    NotFoundError
    """
    path = Path(run) / RUN_JSON
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NotFoundError(f"{run} is not a run folder ({RUN_JSON} is missing)") from exc
    except json.JSONDecodeError as exc:
        raise NotFoundError(f"{path} is not valid JSON ({exc})") from exc


def write_run_json(run: Path, data: dict[str, Any]) -> None:
    """Write (replace) the run's ``run.json`` atomically."""
    write_json_atomic(Path(run) / RUN_JSON, data)


def record_status(run: Path, data: dict[str, Any]) -> bool:
    """Write run.json after a failure, when the disk may be full: atomically if possible, else in place.

    run.json is about a kilobyte: rewriting it in its own file needs no new space on the disk.
    Returns False when it could not be written at all.
    """
    from rlimpro.errors import StorageError

    path = Path(run) / RUN_JSON
    try:
        write_run_json(run, data)
        return True
    except (StorageError, OSError):
        pass
    try:
        text = (json.dumps(data, indent=2) + "\n").encode()
        with open(path, "r+b") as fh:
            fh.write(text)
            fh.truncate()
        return True
    except OSError:
        return False


def _process_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unfinished_warning(run: Path) -> str | None:
    """A warning when the run never finished training, else None.

    ``status: training`` with the training process gone (it was killed), ``interrupted`` (Ctrl-C)
    and ``failed`` (an error, e.g. a full disk) each get a line naming the run and which model is used.
    """
    import socket

    try:
        info = read_run_json(run)
    except NotFoundError:
        return None
    status = info.get("status")
    name = Path(run).name
    steps = f"{info.get('steps')} of {info.get('timesteps')} steps" if info.get("steps") is not None else "unknown steps"
    if status == "training":
        pid, host = info.get("pid"), info.get("host")
        if isinstance(pid, int) and host == socket.gethostname() and _process_alive(pid):
            return f"run {name} is still training (process {pid}); its model is the best or last one saved so far"
        return (f"run {name} never finished: its training stopped without a word (killed?); its model is the "
                "last one it saved (best or checkpoint), not a finished run")
    if status == "interrupted":
        return f"run {name} was interrupted after {steps}; its model is the one saved then"
    if status == "failed":
        return f"run {name} failed ({info.get('error', 'unknown error')}) after {steps}; its model is the last good one saved"
    return None


def load_config(run: Path):
    """The run's resolved :class:`~rlimpro.train_config.TrainConfig` (``config.yaml``)."""
    from rlimpro.train_config import load_config as _load

    return _load(Path(run) / CONFIG)


def save_feature_space(run: Path, feature_space) -> None:
    """Write ``feature_space.json``."""
    write_json_atomic(Path(run) / FEATURE_SPACE, feature_space.to_dict())


def load_feature_space(run: Path):
    """The run's :class:`~rlimpro.env.features.FeatureSpace`.

    Raises
    ------
    NotFoundError, MismatchError
    """
    from rlimpro.env.features import FeatureSpace

    path = Path(run) / FEATURE_SPACE
    try:
        return FeatureSpace.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path} is missing; the run is incomplete, train again") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MismatchError(f"{path} is not a valid feature space ({exc}); train again") from exc


def save_synth_model(run: Path, grid) -> None:
    """Write ``synth_model.npz`` (raw descriptors of every grid point, n_params, subdiv, interpolation)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                values=grid.values.astype(np.float64),
                n_params=grid.n_params,
                subdiv=grid.subdiv,
                interpolation=grid.interpolation,
            )

    atomic_write(Path(run) / SYNTH_MODEL, write)


def load_synth_model(run: Path):
    """The run's lookup grid (:class:`~rlimpro.env.synth_model.LookupGrid` of raw descriptors).

    Raises
    ------
    NotFoundError
    """
    from rlimpro.env.synth_model import LookupGrid

    path = Path(run) / SYNTH_MODEL
    try:
        with np.load(path) as data:
            return LookupGrid.of_descriptors(
                data["values"],
                n_params=int(data["n_params"]),
                subdiv=int(data["subdiv"]),
                interpolation=str(data["interpolation"]),  # type: ignore[arg-type]
            )
    except FileNotFoundError as exc:
        task = read_run_json(run).get("task", "imitate") if (Path(run) / RUN_JSON).is_file() else "imitate"
        if task in ("match", "sequence"):
            raise NotFoundError(
                f"run {Path(run).name} is a {task} run (audio rendered in the loop, no lookup table); "
                "live and evaluate --log take imitate runs (task: imitate) only"
            ) from exc
        raise NotFoundError(f"{path} is missing; the run is incomplete, train again") from exc
    except (OSError, KeyError, ValueError) as exc:
        raise NotFoundError(f"{path} is not readable ({exc}); train again") from exc
