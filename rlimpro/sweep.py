"""The ``sweep`` stage: many trainings over a search space of training-config fields, run with Ray Tune.

A sweep file (YAML, schema :class:`SweepSpec`) names a base training config and, per config field,
the values to try::

    base: fm.yaml                 # a training config, relative to this file (or an inline mapping)
    metric: ratios.agent_over_floor
    timesteps: 20000
    search:
      algorithm: {grid: [PPO, A2C]}
      reward_type: {choice: [linear, cubic]}
      step_size: {uniform: [0.02, 0.2]}
      algorithm_kwargs.learning_rate: {loguniform: [1.0e-4, 1.0e-3]}

A key is a training-config field, or ``FIELD.NAME`` inside a mapping field (``algorithm_kwargs``,
``reward_weights``, ``lookup``); the values are ``grid`` (every one), ``choice`` (one drawn),
``uniform`` / ``loguniform`` / ``randint`` ranges. The key ``variant`` takes mappings of several keys
that change together (``{algorithm: A2C, algorithm_kwargs: {n_steps: 16}}``), for settings that only
make sense as a set.

The search space is expanded up front into a numbered list of trials: every combination of the
``grid`` fields, ``num_samples`` times, with the other fields drawn from a generator seeded by
``seed`` (so a sweep is reproducible and its trials are known before any runs). Every candidate value
is validated against the training-config schema first; nothing is created when one is wrong.

Ray Tune runs the trials (concurrency, CPUs per trial, retries of crashed trials, placement on a
cluster). Each trial is a normal training run (:func:`rlimpro.train.train`): a run directory under
``synths/<synth>/models/`` with its held-out ``evaluation.json``. Trials are ranked by the sweep's
metric from that file (lower is better).

Everything lives under ``<workspace>/sweeps/<name>/``: ``plan.json`` (the spec and the trial list),
``trials/<id>.yaml`` (each trial's training config), ``trials/<id>.json`` (the ledger entry written
atomically when the trial finishes), ``tune/`` (Ray Tune's logs) and ``summary.csv`` (+ ``.json``).
Running the same sweep again resumes: trials with a ledger entry are not run again. A trial that was
running when the sweep was stopped starts over; the run folder of that unfinished attempt is moved to
``sweeps/<name>/abandoned/``, so ``synths/<synth>/models/`` holds one run per trial. One command runs
a sweep at a time (a lock on its ledger, :mod:`rlimpro.locks`): a second one is refused, naming the first.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic
import yaml

from rlimpro.config import StrictModel, load_model, load_yaml, validate
from rlimpro.errors import ConfigError, MismatchError, RlimproError, storage_error
from rlimpro.locks import output_lock
from rlimpro.progress import progress_bar
from rlimpro.tables import write_json_atomic, write_table, write_text_atomic
from rlimpro.workspace import did_you_mean

METRICS = ("ratios.agent_over_floor", "rmse.agent", "ratios.agent_over_random")
MAX_TRIALS = 1000
#: training-config fields that hold mappings, so a search key may name an entry inside: ``lookup.subdiv``
DICT_FIELDS = ("algorithm_kwargs", "reward_weights", "lookup")
#: the search key whose values are mappings of several config keys changed together
VARIANT = "variant"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Dimension(StrictModel):
    """How one training-config field varies: exactly one of the keys below."""

    grid: list[Any] | None = pydantic.Field(None, min_length=1, description="every value, one trial each")
    choice: list[Any] | None = pydantic.Field(None, min_length=1, description="one value drawn per trial")
    uniform: tuple[float, float] | None = pydantic.Field(None, description="[low, high], drawn uniformly")
    loguniform: tuple[float, float] | None = pydantic.Field(None, description="[low, high] > 0, uniform in log")
    randint: tuple[int, int] | None = pydantic.Field(None, description="[low, high] integers, both included")

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> Dimension:
        given = [k for k in ("grid", "choice", "uniform", "loguniform", "randint") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of grid, choice, uniform, loguniform, randint (got {', '.join(given) or 'none'})"
            )
        for kind in ("uniform", "loguniform", "randint"):
            bounds = getattr(self, kind)
            if bounds is not None and not bounds[0] < bounds[1]:
                raise ValueError(f"{kind}: low {bounds[0]} must be below high {bounds[1]}")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError(f"loguniform: low {self.loguniform[0]} must be > 0")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("grid", "choice", "uniform", "loguniform", "randint") if getattr(self, k) is not None)

    def candidates(self) -> list[Any]:
        """Values to validate up front: every listed value, or both ends of a range."""
        value = getattr(self, self.kind)
        return list(value)

    def sample(self, rng: np.random.Generator) -> Any:
        """One draw (not for ``grid``)."""
        if self.choice is not None:
            return self.choice[int(rng.integers(len(self.choice)))]
        if self.uniform is not None:
            return float(rng.uniform(*self.uniform))
        if self.loguniform is not None:
            lo, hi = np.log(self.loguniform)
            return float(np.exp(rng.uniform(lo, hi)))
        if self.randint is not None:
            return int(rng.integers(self.randint[0], self.randint[1] + 1))
        raise ValueError("grid dimensions are not sampled")


class SweepSpec(StrictModel):
    """Schema of ``rlimpro sweep SWEEP.yaml``."""

    name: str | None = pydantic.Field(None, description="folder under sweeps/ (default: the file's stem)")
    base: str | dict[str, Any] = pydantic.Field(description="training config: a path relative to this file, or inline")
    search: dict[str, Dimension] = pydantic.Field(min_length=1)
    metric: Literal["ratios.agent_over_floor", "rmse.agent", "ratios.agent_over_random"] = "ratios.agent_over_floor"
    num_samples: int = pydantic.Field(1, ge=1, le=MAX_TRIALS, description="draws per grid combination")
    seed: int = 0
    timesteps: int | None = pydantic.Field(None, ge=1, description="every trial's timesteps (overrides base)")
    max_concurrent: int | None = pydantic.Field(None, ge=1, description="trials at once (default: as CPUs allow)")
    cpus_per_trial: float = pydantic.Field(1.0, gt=0)
    max_failures: int = pydantic.Field(1, ge=0, description="Tune's retries of a trial whose process crashed")

    @pydantic.field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"'{value}' must be letters, digits, '.', '_' or '-' (it names a folder)")
        return value


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` did; ``rows`` are ranked (best first), as in ``summary.csv``."""

    name: str
    folder: Path
    summary: Path
    metric: str
    rows: list[dict[str, Any]]
    search_keys: list[str]
    total: int
    resumed: int
    ran: int
    interrupted: bool = False

    @property
    def done(self) -> int:
        return sum(r["status"] == "done" for r in self.rows)


# ---------------------------------------------------------------- planning
def _set_key(config: dict[str, Any], key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if rest:
        config[head] = {**(config.get(head) or {}), rest: value}
    else:
        config[head] = value


def _check_key(key: str, *, where: str, source: str) -> None:
    from rlimpro.train_config import TrainConfig

    fields = list(TrainConfig.model_fields)
    head, dot, rest = key.partition(".")
    if head not in fields:
        raise ConfigError(f"{source}: [{where}] '{head}' is not a training-config field{did_you_mean(head, fields + [VARIANT])}")
    if dot and (head not in DICT_FIELDS or not rest or "." in rest):
        raise ConfigError(
            f"{source}: [{where}] only mapping fields take a sub-key ({', '.join(f + '.NAME' for f in DICT_FIELDS)})"
        )
    if head in ("synth", "corpus"):
        raise ConfigError(f"{source}: [{where}] a sweep trains one synth on one corpus; set it in base")


def _check_search_keys(spec: SweepSpec, *, source: str) -> None:
    keys = set(spec.search)
    for key, dim in spec.search.items():
        if key != VARIANT:
            _check_key(key, where=f"search.{key}", source=source)
            continue
        if dim.kind not in ("grid", "choice"):
            raise ConfigError(f"{source}: [search.{VARIANT}] takes grid or choice: a list of mappings of config keys")
        for i, value in enumerate(dim.candidates()):
            where = f"search.{VARIANT}.{dim.kind}.{i}"
            if not isinstance(value, dict) or not value:
                raise ConfigError(f"{source}: [{where}] a variant is a mapping of training-config keys, got {value!r}")
            for sub in value:
                _check_key(sub, where=f"{where}.{sub}", source=source)
                if sub in keys or sub.split(".")[0] in keys:
                    raise ConfigError(f"{source}: [{where}.{sub}] is also searched on its own; keep one")
    for key in keys:
        if "." in key and key.split(".")[0] in keys:
            raise ConfigError(f"{source}: [search.{key}] '{key.split('.')[0]}' is searched as a whole too; keep one")


def _trial_config(base: dict[str, Any], params: dict[str, Any], spec: SweepSpec) -> dict[str, Any]:
    config = json.loads(json.dumps(base))  # a deep copy of plain YAML data
    if spec.timesteps is not None:
        config["timesteps"] = spec.timesteps
    for key, value in (params.get(VARIANT) or {}).items():  # first: a variant may replace a whole mapping
        _set_key(config, key, value)
    for key, value in params.items():
        if key != VARIANT:
            _set_key(config, key, value)
    return config


def _validate_trial(config: dict[str, Any], *, source: str, kwargs: bool = False) -> Any:
    """The TrainConfig of ``config``; with ``kwargs``, also check algorithm_kwargs against SB3 (slower)."""
    from rlimpro.train_config import TrainConfig, check_algorithm_kwargs

    checked = validate(TrainConfig, config, source=source)
    if kwargs:
        check_algorithm_kwargs(checked, source=source)
    return checked


def plan_trials(spec: SweepSpec, *, source: str = "sweep") -> list[dict[str, Any]]:
    """The trials of ``spec`` in order: grid combinations x ``num_samples``, sampled fields drawn from ``seed``.

    Returns
    -------
    list of dict
        ``{"id": "t000", "params": {search key: value}}`` per trial.

    Raises
    ------
    ConfigError
        More than :data:`MAX_TRIALS` trials.
    """
    grid_keys = [k for k, d in spec.search.items() if d.kind == "grid"]
    n_grid = math.prod(len(spec.search[k].grid or []) for k in grid_keys)
    total = n_grid * spec.num_samples
    if total > MAX_TRIALS:
        raise ConfigError(
            f"{source}: [num_samples] the sweep has {total} trials, more than {MAX_TRIALS}; shrink the grids or num_samples"
        )
    rng = np.random.default_rng(spec.seed)
    trials = []
    for combo in itertools.product(*(spec.search[k].grid or [] for k in grid_keys)):
        for _ in range(spec.num_samples):
            fixed = dict(zip(grid_keys, combo, strict=True))
            params = {k: fixed[k] if k in fixed else d.sample(rng) for k, d in spec.search.items()}
            trials.append({"id": f"t{len(trials):03d}", "params": params})
    return trials


def load_sweep(path: Path) -> tuple[SweepSpec, dict[str, Any], list[dict[str, Any]]]:
    """Load and validate a sweep file: the spec, the base training config (a mapping) and the trial list.

    Every search key must be a training-config field, and every candidate value (every grid and choice
    value, both ends of every range, every grid combination) must make a valid training config.

    Raises
    ------
    NotFoundError
        The sweep file or its base config does not exist.
    ConfigError
        The file does not match the schema, or a value makes an invalid training config; the message
        names the file and the key (``sweep.yaml: [search.algorithm.grid.1] ...``).
    """
    path = Path(path)
    source = str(path)
    spec = load_model(SweepSpec, path)
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base).resolve()
        if not base_path.is_file():
            raise ConfigError(f"{source}: [base] training config {base_path} does not exist (paths are relative to {path.parent})")
        base = load_yaml(base_path)
        base_source = str(base_path)
    else:
        base = dict(spec.base)
        base_source = f"{source} [base]"
    _check_search_keys(spec, source=source)
    _validate_trial(_trial_config(base, {}, spec), source=base_source, kwargs=True)
    for key, dim in spec.search.items():
        for i, value in enumerate(dim.candidates()):
            try:
                _validate_trial(_trial_config(base, {key: value}, spec), source=source, kwargs=True)
            except ConfigError as exc:
                reason = str(exc).split(": ", 1)[-1]
                raise ConfigError(f"{source}: [search.{key}.{dim.kind}.{i}] {value!r} gives an invalid training config: {reason}") from None
    trials = plan_trials(spec, source=source)
    for trial in trials:
        if all(spec.search[k].kind == "grid" for k in trial["params"]):
            try:
                _validate_trial(_trial_config(base, trial["params"], spec), source=source, kwargs=True)
            except ConfigError as exc:
                reason = str(exc).split(": ", 1)[-1]
                combo = ", ".join(f"{k}={v!r}" for k, v in trial["params"].items())
                raise ConfigError(f"{source}: [search] the combination {combo} is not a valid training config: {reason}") from None
    return spec, base, trials


def sweep_name(spec: SweepSpec, path: Path) -> str:
    """The sweep's folder name: ``name`` or the file's stem."""
    name = spec.name or Path(path).stem
    if not _NAME.match(name):
        raise ConfigError(f"{path}: [name] the file name '{Path(path).stem}' cannot name a folder; set name:")
    return name


# ---------------------------------------------------------------- one trial (runs in a Ray Tune worker)
def _value(result: dict[str, Any], dotted: str) -> float | None:
    head, _, key = dotted.partition(".")
    value = (result.get(head) or {}).get(key)
    return None if value is None else float(value)


def run_trial(*, trial: dict[str, Any], folder: Path, workspace: Path, metric: str, command: str) -> dict[str, Any]:
    """Train and evaluate one trial; write its ledger entry ``trials/<id>.json``; return the entry.

    An rlimpro error (a config the schema accepted but training refused, a missing held-out set) is a
    result of the trial: it is recorded as ``failed`` and not retried. Anything else propagates, so Tune
    retries the trial and the ledger stays without an entry.

    The run's command.txt ends with ``# sweep <folder> trial <id>``. A run folder left by an earlier,
    unfinished attempt at the same trial (the sweep was stopped while it trained or evaluated) is moved
    to ``<folder>/abandoned/`` first, so the models folder holds one run per trial.
    """
    from rlimpro.runs import EVALUATION
    from rlimpro.train import train

    folder = Path(folder)
    trials = folder / "trials"
    config_path = trials / f"{trial['id']}.yaml"
    marker = f"# sweep {folder} trial {trial['id']}"
    _set_aside_unfinished(yaml.safe_load(config_path.read_text())["synth"], marker=marker, folder=folder, workspace=Path(workspace))
    entry: dict[str, Any] = {"id": trial["id"], "params": trial["params"]}
    t0 = time.perf_counter()
    try:
        run = train(
            config_path=config_path,
            workspace=Path(workspace),
            show_progress=False,
            evaluate=True,
            command=f"{command}  {marker}",
        )
        evaluation = run / EVALUATION
        if not evaluation.is_file():
            raise ConfigError(f"trial {trial['id']}: the run has no held-out files, so no evaluation.json to rank it by")
        result = json.loads(evaluation.read_text())
        entry.update(status="done", run=str(run), score=_value(result, metric), rmse=result["rmse"], ratios=result["ratios"])
    except RlimproError as exc:
        entry.update(status="failed", error=str(exc))
    entry.update(seconds=round(time.perf_counter() - t0, 2), finished=_dt.datetime.now().isoformat(timespec="seconds"))
    write_json_atomic(trials / f"{trial['id']}.json", entry)
    return entry


def _set_aside_unfinished(synth: str, *, marker: str, folder: Path, workspace: Path) -> None:
    from rlimpro.runs import models_dir

    base = models_dir(synth, workspace=workspace)
    if not base.is_dir():
        return
    for run in base.iterdir():
        try:
            ours = (run / "command.txt").read_text().rstrip("\n").endswith(marker)
        except OSError:
            continue
        if ours:
            (folder / "abandoned").mkdir(exist_ok=True)
            run.rename(folder / "abandoned" / run.name)


def _tune_trial(tune_config: dict[str, Any], *, folder: str, workspace: str, metric: str, command: str) -> None:
    from ray import tune

    entry = run_trial(trial=tune_config["trial"], folder=Path(folder), workspace=Path(workspace), metric=metric, command=command)
    score = entry.get("score")
    tune.report({"score": float("nan") if score is None else score, "failed": entry["status"] != "done"})


# ---------------------------------------------------------------- the ledger and the summary
def _ledger(folder: Path, trials: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Finished trials: ledger entries whose run (if done) still has its evaluation."""
    out = {}
    for trial in trials:
        path = folder / "trials" / f"{trial['id']}.json"
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if entry.get("status") == "done" and not (Path(entry.get("run", "")) / "evaluation.json").is_file():
            continue  # its run folder was deleted: run the trial again
        out[trial["id"]] = entry
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def ranked_rows(trials: list[dict[str, Any]], ledger: dict[str, dict[str, Any]], *, workspace: Path,
                errors: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per trial, best score first; failed, crashed and pending trials after the ranked ones."""
    errors = errors or {}
    rows = []
    for trial in trials:
        entry = ledger.get(trial["id"])
        row: dict[str, Any] = {"rank": None, "trial": trial["id"], "params": trial["params"]}
        row.update({k: _cell(v) for k, v in trial["params"].items()})
        if entry is None:
            row["status"] = "crashed" if trial["id"] in errors else "pending"
            row["error"] = errors.get(trial["id"], "")
        else:
            row["status"] = entry["status"]
            row["score"] = entry.get("score")
            for group in ("rmse", "ratios"):
                for k, v in (entry.get(group) or {}).items():
                    row[f"{group}.{k}"] = v
            run = Path(entry["run"]) if entry.get("run") else None
            row["run"] = str(run.relative_to(workspace)) if run and run.is_relative_to(workspace) else str(run or "")
            row["seconds"] = entry.get("seconds")
            row["error"] = entry.get("error", "")
        rows.append(row)
    done = sorted((r for r in rows if r["status"] == "done" and r.get("score") is not None),
                  key=lambda r: (r["score"], r["trial"]))
    for i, r in enumerate(done, 1):
        r["rank"] = i
    rest = [r for r in rows if r["rank"] is None]
    return done + rest


def summary_table(result: SweepResult):
    """A rich Table of a sweep: rank, trial, the searched values, the metric and the RMSEs."""
    from rich import box
    from rich.table import Table

    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "+".join(fmt(x) for x in v)
        if isinstance(v, dict):  # a variant: top-level values bare, nested mappings as name=value
            return " ".join(
                " ".join(f"{k}={fmt(x)}" for k, x in val.items()) if isinstance(val, dict) else fmt(val)
                for val in v.values()
            )
        return str(v)

    table = Table(
        title=f"sweep '{result.name}': {result.done}/{result.total} trials done, ranked by {result.metric} (lower is better)",
        box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0),
    )
    table.add_column("rank", justify="right")
    table.add_column("trial")
    for key in result.search_keys:
        table.add_column(key, overflow="fold")
    table.add_column(result.metric, justify="right", style="bold", min_width=len(result.metric))
    extra = [c for c in ("rmse.agent",) if c != result.metric]
    for col in extra:
        table.add_column(col, justify="right")
    table.add_column("run / status", no_wrap=True, overflow="ellipsis", max_width=40)
    for r in result.rows:
        cells = [fmt(r["rank"]), r["trial"], *(fmt(r["params"].get(k)) for k in result.search_keys), fmt(r.get("score"))]
        cells += [fmt(r.get(col)) for col in extra]
        status = Path(r["run"]).name if r["status"] == "done" else f"{r['status']} {r.get('error', '')}".strip()
        table.add_row(*cells, status, style="green" if r["rank"] == 1 else None)
    return table


def _write_summary(result: SweepResult, spec: SweepSpec) -> None:
    import pandas as pd

    scores = ["rmse.agent", "rmse.random", "rmse.fixed", "rmse.floor",
              "ratios.agent_over_floor", "ratios.agent_over_random", "ratios.agent_over_fixed"]
    columns = ["rank", "trial", "status", *result.search_keys, result.metric,
               *(c for c in scores if c != result.metric), "run", "seconds", "error"]
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in result.rows], columns=columns)
    write_table(result.summary, frame, {
        "sweep": result.name, "metric": result.metric, "lower_is_better": True,
        "trials": result.total, "done": result.done, "spec": spec.model_dump(mode="json"),
    })


# ---------------------------------------------------------------- the sweep
def _prepare_folder(folder: Path, plan: dict[str, Any], *, source: str) -> None:
    plan_file = folder / "plan.json"
    if plan_file.is_file():
        try:
            old = json.loads(plan_file.read_text())
        except json.JSONDecodeError:
            old = None
        if old is not None and json.dumps(old, sort_keys=True) != json.dumps(plan, sort_keys=True):
            raise MismatchError(
                f"{folder} holds a sweep planned from a different spec or base config than {source}; "
                "set another name: in the sweep file, or delete that folder to start over"
            )
    (folder / "trials").mkdir(parents=True, exist_ok=True)
    write_json_atomic(plan_file, plan)


def _progress_callback(advance: Any) -> Any:
    from ray import tune

    class Progress(tune.Callback):
        """Advances the sweep's progress bar per finished trial (Tune pickles it: the bar is not kept)."""

        def __getstate__(self) -> dict[str, Any]:
            return {}

        def on_trial_complete(self, iteration, trials, trial, **info):  # noqa: ANN001, ANN003
            getattr(self, "advance", lambda n: None)(1)

        def on_trial_error(self, iteration, trials, trial, **info):  # noqa: ANN001, ANN003
            getattr(self, "advance", lambda n: None)(1)

    callback = Progress()
    callback.advance = advance  # an attribute, not a closure: cloudpickle pickles this class by value
    return callback


def run_sweep(
    *,
    sweep_path: Path,
    workspace: Path,
    ray_address: str = "local",
    show_progress: bool = True,
    command: str | None = None,
) -> SweepResult:
    """Run (or resume) the sweep in ``sweep_path`` with Ray Tune; rank its trials; write ``summary.csv``.

    Parameters
    ----------
    sweep_path : Path
        Sweep file (YAML, schema :class:`SweepSpec`).
    workspace : Path
        Workspace root: lookup tables and corpora are read there, runs and ``sweeps/<name>/`` go there.
        On a cluster it must be at the same path on every node (a shared file system).
    ray_address : str
        ``local`` (a Ray instance on this machine) or ``HOST:PORT`` of a cluster's head
        (see :mod:`rlimpro.distributed`).
    show_progress : bool
        A rich progress bar of finished trials on stderr.
    command : str, optional
        The command line, recorded in every run's command.txt.

    Returns
    -------
    SweepResult
        Ranked rows (best first). ``interrupted`` is set when Ctrl-C stopped the sweep; the finished
        trials are kept and running the same sweep again resumes.

    Raises
    ------
    NotFoundError, ConfigError, MismatchError
        Before anything is created or started (a bad sweep file, base config, lookup table or corpus).
    ParameterError
        Ray is missing or the cluster cannot be reached.
    """
    from rlimpro.distributed import check_address, import_ray, ray_session
    from rlimpro.env.factory import prepare

    sweep_path = Path(sweep_path)
    workspace = Path(workspace).resolve()
    spec, base, trials = load_sweep(sweep_path)
    name = sweep_name(spec, sweep_path)
    import_ray(tune=True, purpose="rlimpro sweep")
    check_address(ray_address)
    base_config = _validate_trial(_trial_config(base, {}, spec), source=str(sweep_path))
    setup = prepare(base_config, workspace=workspace, source=f"{sweep_path} [base]")
    if not setup.held_out_files:
        raise ConfigError(
            f"{sweep_path}: [base] trials are ranked on held-out files, but the base config holds none out; "
            "set held_out_files or held_out_fraction > 0"
        )

    folder = workspace / "sweeps" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    # One command per sweep: a second one is refused at once, naming the first (trials are never run twice).
    with output_lock(folder / "plan.json", what=f"sweep {name} ({folder})", wait=False):
        plan = {"spec": spec.model_dump(mode="json"), "base": base, "trials": trials}
        _prepare_folder(folder, plan, source=str(sweep_path))
        for trial in trials:
            config = _trial_config(base, trial["params"], spec)
            write_text_atomic(folder / "trials" / f"{trial['id']}.yaml", yaml.safe_dump(config, sort_keys=False))

        finished = _ledger(folder, trials)
        todo = [t for t in trials if t["id"] not in finished]
        errors: dict[str, str] = {}
        interrupted = False
        if todo:
            command = command or f"rlimpro sweep {sweep_path}"
            with ray_session(ray_address) as ray:
                from ray import tune

                del ray
                trainable = tune.with_resources(
                    tune.with_parameters(
                        _tune_trial, folder=str(folder), workspace=str(workspace), metric=spec.metric, command=command
                    ),
                    {"cpu": spec.cpus_per_trial},
                )
                with progress_bar(f"sweep {name}", total=len(trials), enabled=show_progress) as advance:
                    advance(len(finished))
                    tuner = tune.Tuner(
                        trainable,
                        param_space={"trial": tune.grid_search(todo)},
                        tune_config=tune.TuneConfig(
                            max_concurrent_trials=spec.max_concurrent,
                            trial_name_creator=lambda t: t.config["trial"]["id"],
                            trial_dirname_creator=lambda t: t.config["trial"]["id"],
                        ),
                        run_config=tune.RunConfig(
                            name=_dt.datetime.now().strftime("run-%Y%m%d-%H%M%S"),
                            storage_path=str(folder / "tune"),
                            verbose=0,
                            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                            callbacks=[_progress_callback(advance)],
                        ),
                    )
                    quiet = os.environ.get("RAY_AIR_NEW_OUTPUT")
                    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # Tune's classic reporter, silent at verbose=0
                    try:
                        grid = tuner.fit()
                    except KeyboardInterrupt:
                        interrupted, grid = True, None
                    finally:
                        if quiet is None:
                            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
                        else:
                            os.environ["RAY_AIR_NEW_OUTPUT"] = quiet
                if grid is not None:
                    for res in grid:
                        if res.error is not None:
                            errors[res.config["trial"]["id"]] = f"{type(res.error).__name__}: {res.error}".splitlines()[0]
        ledger = _ledger(folder, trials)
        result = SweepResult(
            name=name,
            folder=folder,
            summary=folder / "summary.csv",
            metric=spec.metric,
            rows=ranked_rows(trials, ledger, workspace=workspace, errors=errors),
            search_keys=list(spec.search),
            total=len(trials),
            resumed=len(finished),
            ran=len(ledger) - len(finished),
        )
        result.interrupted = interrupted or any(r["status"] == "pending" for r in result.rows)
        _write_summary(result, spec)
        return result
