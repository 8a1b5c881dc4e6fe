"""The ``evaluate`` stage: how well a trained agent follows held-out recordings.

Metric (the same as the reward): per frame, the weighted RMSE between the synth's and the target's
descriptors over the run's ``features_reward``, in the z space of the run's lookup statistics
(:meth:`rlimpro.env.features.FeatureSpace.distance`); reported as the mean over frames
("mean per-step tracking RMSE"), per file and over all frames of all files. Four players:

- ``agent``: the trained policy, deterministic, starting each file from the synth's default
  parameters (``best_model.zip``, else ``final_model.zip``);
- ``random``: uniformly random actions in the run's action space (seeded), same start;
- ``fixed``: the single lookup row with the lowest mean RMSE over all evaluated frames (the best
  constant setting, chosen once for all files);
- ``floor``: for each frame the lookup row closest to the target (the best any grid-bound agent
  without lag could do).

``ratios.agent_over_random`` and ``ratios.agent_over_floor`` are the headline figures (lower is better).

Outputs in the run folder: ``evaluation.json``, ``evaluation.png`` (agent vs target descriptors over
time) and ``trajectories/<file>.csv`` in the session-log format that ``rlimpro live`` writes too
(``time``, ``param-i``, ``target:<d>`` and ``agent:<d>`` for every descriptor, raw values) with a
JSON sidecar naming the run. :func:`score_log` scores such a CSV.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlimpro import __version__
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.live.log import check_session_log
from rlimpro.progress import progress_bar
from rlimpro.runs import (
    EVALUATION,
    load_config,
    load_feature_space,
    load_synth_model,
    model_path,
    read_run_json,
)
from rlimpro.tables import atomic_write, check_same_analysis, sidecar_path, write_json_atomic
from rlimpro.workspace import did_you_mean

PLAYERS = ("agent", "random", "fixed", "floor")
#: with ``render=True``: the agent's parameters rendered by the real synth and analyzed
RENDERED = "agent_rendered"
RANDOM_SEED = 0
_CHUNK = 512  # target frames per block in the all-rows distance computations


# ---------------------------------------------------------------- the session-log format
def log_columns(n_params: int) -> list[str]:
    """Columns of a session log / trajectory: ``time``, ``param-i``, ``target:<d>``, ``agent:<d>``."""
    return (
        ["time"]
        + [f"param-{i}" for i in range(n_params)]
        + [f"target:{d}" for d in DESCRIPTORS]
        + [f"agent:{d}" for d in DESCRIPTORS]
    )


def write_trajectory(path: Path, *, times: np.ndarray, params: np.ndarray, target: np.ndarray, agent: np.ndarray, meta: dict[str, Any]) -> None:
    """Write a trajectory in the session-log format (CSV + JSON sidecar), atomically.

    Parameters
    ----------
    times : ndarray, shape (T,)
        Seconds.
    params : ndarray, shape (T, N)
    target, agent : ndarray, shape (T, len(DESCRIPTORS))
        Raw descriptors.
    meta : dict
        Sidecar content (``run`` names the run folder).
    """
    n = params.shape[1]
    data = np.concatenate([times[:, None], params, target, agent], axis=1)
    frame = pd.DataFrame(data, columns=log_columns(n))
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g"))
    write_json_atomic(sidecar_path(path), {"rlimpro_version": __version__, **meta, "rows": int(len(frame))})


# ---------------------------------------------------------------- distances to every lookup row
def all_rows_distances(grid_features: np.ndarray, target_features: np.ndarray) -> np.ndarray:
    """Distances between every lookup row and every target frame.

    Parameters
    ----------
    grid_features : ndarray, shape (rows, R)
        :meth:`FeatureSpace.reward_features` of the lookup rows.
    target_features : ndarray, shape (T, R)

    Returns
    -------
    ndarray, shape (T, rows)
    """
    g2 = np.einsum("ij,ij->i", grid_features, grid_features)
    out = np.empty((target_features.shape[0], grid_features.shape[0]))
    for s in range(0, target_features.shape[0], _CHUNK):
        t = target_features[s : s + _CHUNK]
        d2 = g2[None, :] + np.einsum("ij,ij->i", t, t)[:, None] - 2.0 * t @ grid_features.T
        out[s : s + _CHUNK] = np.sqrt(np.maximum(d2, 0.0))
    return out


def baselines(feature_space: Any, grid: Any, targets: dict[str, np.ndarray]) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """Per-frame ``fixed`` and ``floor`` distances for each file, and the fixed row.

    Parameters
    ----------
    feature_space : FeatureSpace
    grid : LookupGrid
        Raw descriptors of the lookup rows.
    targets : dict of str to ndarray (T, len(DESCRIPTORS))
        Raw target frames per file.

    Returns
    -------
    per_file : dict of str to {"fixed": (T,), "floor": (T,)}
    fixed_row : int
        The lookup row of the best constant setting.
    """
    gf = feature_space.reward_features(grid.values)
    sums = np.zeros(gf.shape[0])
    floors: dict[str, np.ndarray] = {}
    dists: dict[str, np.ndarray] = {}
    for stem, frames in targets.items():
        d = all_rows_distances(gf, feature_space.reward_features(frames))
        floors[stem] = d.min(axis=1)
        sums += d.sum(axis=0)
        dists[stem] = d
    fixed_row = int(np.argmin(sums))
    return {s: {"fixed": dists[s][:, fixed_row], "floor": floors[s]} for s in targets}, fixed_row


# ---------------------------------------------------------------- statistics shared by every evaluation
def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` (the agent's error over a baseline's), or None when either is missing or ``b`` is not > 0."""
    if a is None or b is None or not b > 0:
        return None
    return a / b


def rmse_summary(
    per_player: dict[str, np.ndarray], *, players: tuple[str, ...], over: tuple[str, ...]
) -> dict[str, Any]:
    """Mean distance per player and the agent's ratios to the baselines.

    Parameters
    ----------
    per_player : dict of str to ndarray, shape (T,)
        Per-frame distances of each player that played.
    players : tuple of str
        The players in the order of ``rmse`` (those absent from ``per_player`` are left out).
    over : tuple of str
        Baselines in the order of ``ratios``: ``agent_over_<b>`` for each one present beside ``agent``.

    Returns
    -------
    dict
        ``{"rmse": {player: mean}, "ratios": {"agent_over_<b>": float or None}}`` (see :func:`ratio`).
    """
    rmse = {p: float(np.mean(per_player[p])) for p in players if p in per_player}
    ratios = {f"agent_over_{b}": ratio(rmse["agent"], rmse[b]) for b in over if "agent" in rmse and b in rmse}
    return {"rmse": rmse, "ratios": ratios}


def deterministic_policy(model: Any) -> Callable[[np.ndarray], Any]:
    """``policy(obs) -> action`` of an SB3 model acting deterministically: the ``agent`` player."""

    def policy(obs: np.ndarray) -> Any:
        action, _ = model.predict(obs, deterministic=True)
        return action

    return policy


def _summary(per_player: dict[str, np.ndarray]) -> dict[str, Any]:
    summary = rmse_summary(per_player, players=(*PLAYERS, RENDERED), over=("random", "floor", "fixed"))
    rmse, ratios = summary["rmse"], summary["ratios"]
    if RENDERED in rmse and rmse.get("floor"):
        ratios["agent_rendered_over_floor"] = rmse[RENDERED] / rmse["floor"]
    if RENDERED in rmse and rmse.get("random"):
        ratios["agent_rendered_over_random"] = rmse[RENDERED] / rmse["random"]
    return summary


# ---------------------------------------------------------------- playing the files
def rollout(env: Any, *, file: str, policy: Any) -> tuple[np.ndarray, np.ndarray]:
    """Play one corpus file whole with ``policy(obs) -> action``.

    Returns
    -------
    distances : ndarray, shape (T,)
        Per-step RMSE.
    params : ndarray, shape (T, N)
        Parameters after each step's action.
    """
    obs, _ = env.reset(options={"file": file})
    n = env.episode.targets.shape[0]
    dist = np.empty(n)
    params = np.empty((n, env.n_params))
    for t in range(n):
        obs, _, _, truncated, info = env.step(policy(obs))
        dist[t] = info["distance"]
        params[t] = env.params
    return dist, params


def render_params(params: np.ndarray, *, run_info: dict[str, Any], workspace: Path) -> np.ndarray:
    """Descriptors of the real synth at each parameter vector, computed as lookup rows are.

    Parameters
    ----------
    params : ndarray, shape (T, N)
    run_info : dict
        The run's run.json (synth, n_params, analysis, lookup_duration).

    Returns
    -------
    ndarray, shape (T, len(DESCRIPTORS))
    """
    from rlimpro.descriptors import AnalysisSettings
    from rlimpro.lookup import CHUNK_ROWS, render_and_describe
    from rlimpro.synths import load_spec

    spec = load_spec(run_info["synth"], workspace=workspace, n_params=run_info["n_params"])
    settings = AnalysisSettings.from_dict(run_info["analysis"])
    duration = float(run_info.get("lookup_duration") or 1.0)
    return np.concatenate(
        [render_and_describe(spec, params[i : i + CHUNK_ROWS], duration=duration, settings=settings)
         for i in range(0, len(params), CHUNK_ROWS)]
    )


def load_policy(run: Path, *, algorithm: str, final: bool = False):
    """The run's SB3 model on the CPU: best, else final (or final when ``final``)."""
    from rlimpro.runs import FINAL_MODEL
    from rlimpro.train_config import algorithm_class

    path = run / FINAL_MODEL if final else model_path(run)
    if not path.is_file():
        raise NotFoundError(f"run {run} has no {path.name}")
    from rlimpro.modelzip import load_model

    try:
        return load_model(path, algorithm_class(algorithm)), path  # refuses zips rlimpro did not write
    except (ValueError, KeyError, RuntimeError, OSError) as exc:  # zipfile errors, torch errors
        raise NotFoundError(f"cannot load {path} ({exc}); the file is damaged, train again") from exc


def _corpus_targets(
    *, corpus: str, workspace: Path, files: list[str] | None, default_files: list[str], active_only: bool, analysis: dict[str, Any] | None, run: Path
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from rlimpro.corpus import features_dir, read_corpus

    tables, meta = read_corpus(corpus=corpus, workspace=workspace)
    if analysis is not None:
        check_same_analysis(
            {"analysis": analysis}, meta, a_name=f"run {run.name}", b_name=str(features_dir(corpus, workspace=workspace) / "analysis.json")
        )
    chosen = files if files else [f for f in default_files if f in tables] or sorted(tables)
    for stem in chosen:
        if stem not in tables:
            raise NotFoundError(
                f"--files: '{stem}' is not a file of corpus '{corpus}'{did_you_mean(stem, sorted(tables))} "
                f"(files: {', '.join(sorted(tables))})"
            )
    targets, times = {}, {}
    for stem in chosen:
        table = tables[stem]
        keep = table["active"].to_numpy() > 0 if active_only else np.ones(len(table), dtype=bool)
        if keep.any():
            targets[stem] = table[list(DESCRIPTORS)].to_numpy(np.float64)[keep]
            times[stem] = table["time"].to_numpy(np.float64)[keep]
    if not targets:
        raise ParameterError(f"none of the files {', '.join(chosen)} of corpus '{corpus}' has active frames to evaluate on")
    return targets, times


def evaluate_run(
    run: Path,
    *,
    workspace: Path,
    corpus: str | None = None,
    files: list[str] | None = None,
    show_progress: bool = True,
    plot: bool = True,
    final: bool = False,
    render: bool = False,
) -> dict[str, Any]:
    """Evaluate a run on corpus files; write evaluation.json, evaluation.png and trajectories.

    Parameters
    ----------
    run : Path
        Run folder (see :func:`rlimpro.runs.resolve_run`).
    workspace : Path
        Workspace root.
    corpus : str, optional
        Corpus to play (default: the run's training corpus).
    files : list of str, optional
        File stems (default: the run's held-out files for its own corpus, else every file).
    show_progress : bool
    plot : bool
        Write evaluation.png.
    final : bool
        Evaluate ``final_model.zip`` instead of the model ``live`` uses (``best_model.zip`` when present).
    render : bool
        Also render the agent's parameters of every frame with the real synth (as steady sounds of the
        lookup's duration, analyzed and aggregated like lookup rows) and score those descriptors:
        ``rmse.agent_rendered``. It shows whether the agent exploits the lookup model between grid
        points (multilinear interpolation) rather than the synth.

    Returns
    -------
    dict
        The content of evaluation.json: ``rmse``, ``ratios`` overall and under ``files.<stem>``.

    Raises
    ------
    NotFoundError, MismatchError, ParameterError
    """
    from rlimpro.env.improvisation import ImprovisationEnv
    from rlimpro.env.rewards import Reward

    run = Path(run)
    info = read_run_json(run)
    config = load_config(run)
    if config.task != "imitate":  # match / sequence: held-out targets instead of corpus files
        if corpus or files or render:
            raise ParameterError(
                f"--corpus / --files / --render are for task imitate; run {run.name} is a {config.task} run, "
                "evaluated on the held-out targets of its config (eval_targets)"
            )
        from rlimpro.tasks.evaluation import evaluate_task_run

        return evaluate_task_run(run, workspace=Path(workspace), show_progress=show_progress, plot=plot, final=final)
    feature_space = load_feature_space(run)
    grid = load_synth_model(run)
    corpus = corpus or config.corpus
    default_files = info.get("held_out_files", []) if corpus == config.corpus else []
    warnings = []
    if corpus == config.corpus and not files and not default_files:
        warnings.append(f"run {run.name} held out no files: evaluated on every file of '{corpus}', training files included")
    elif corpus == config.corpus and files:
        seen = sorted(set(files) & set(info.get("train_files", [])))
        if seen:
            warnings.append(f"{', '.join(seen)} {'was' if len(seen) == 1 else 'were'} used in training")
    targets, times = _corpus_targets(
        corpus=corpus,
        workspace=Path(workspace),
        files=files,
        default_files=default_files,
        active_only=config.active_only,
        analysis=info.get("analysis"),
        run=run,
    )
    model, used_model = load_policy(run, algorithm=config.algorithm, final=final)
    defaults = np.asarray(info.get("default_params") or [0.5] * grid.n_params)
    reward = Reward(config.reward_type, scale=config.reward_scale, prize_threshold=config.prize_threshold, prize=config.prize)

    def make_env() -> ImprovisationEnv:
        return ImprovisationEnv(
            grid=grid, feature_space=feature_space, corpus=targets, training_mode="corpus",
            action_type=config.action_type, step_size=config.step_size, reward=reward,
            max_episode_steps=None, corpus_order="cycle", start="default", default_params=defaults,
        )

    env, rand_env = make_env(), make_env()
    rand_env.action_space.seed(RANDOM_SEED)
    base, fixed_row = baselines(feature_space, grid, targets)
    agent_policy = deterministic_policy(model)

    per_file: dict[str, Any] = {}
    all_d: dict[str, list[np.ndarray]] = {p: [] for p in (*PLAYERS, RENDERED) if render or p != RENDERED}
    traj_dir = run / "trajectories"
    curves = {}
    with progress_bar(f"evaluate {run.name}", total=sum(len(v) for v in targets.values()), enabled=show_progress) as advance:
        for stem in targets:
            d_agent, params = rollout(env, file=stem, policy=agent_policy)
            d_rand, _ = rollout(rand_env, file=stem, policy=lambda obs: rand_env.action_space.sample())
            d = {"agent": d_agent, "random": d_rand, **base[stem]}
            if render:
                d[RENDERED] = feature_space.distance(render_params(params, run_info=info, workspace=Path(workspace)), targets[stem])
            for p in all_d:
                all_d[p].append(d[p])
            per_file[stem] = {"frames": int(len(d_agent)), **_summary(d)}
            agent_raw = grid.batch(params)
            write_trajectory(
                traj_dir / f"{stem}.csv",
                times=times[stem], params=params, target=targets[stem], agent=agent_raw,
                meta={
                    "run": str(run), "run_id": run.name, "synth": config.synth, "corpus": corpus, "file": stem,
                    "source": "rlimpro evaluate", "model": used_model.name, "analysis": info.get("analysis"),
                    "rmse_agent": per_file[stem]["rmse"]["agent"],
                },
            )
            idx = feature_space.reward_index
            curves[stem] = (times[stem], feature_space.zscore(targets[stem])[:, idx], feature_space.zscore(agent_raw)[:, idx])
            advance(len(d_agent))
    overall = _summary({p: np.concatenate(v) for p, v in all_d.items()})
    result = {
        "rlimpro_version": __version__,
        "run": str(run),
        "run_id": run.name,
        "model": used_model.name,
        "synth": config.synth,
        "corpus": corpus,
        "files_evaluated": list(targets),
        "warnings": warnings,
        "frames": int(sum(len(v) for v in targets.values())),
        "metric": "mean over frames of the weighted RMSE in z space over features_reward (the reward's distance)",
        "features_reward": feature_space.features_reward,
        "active_only": config.active_only,
        "fixed_params": [float(v) for v in grid.grid_params()[fixed_row]],
        **overall,
        "files": per_file,
        "evaluated": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    write_json_atomic(run / EVALUATION, result)
    if plot:
        plot_curves(run / "evaluation.png", curves, names=feature_space.features_reward, title=f"{run.name}: agent vs target")
    return result


def _break_gaps(t: np.ndarray, *series: np.ndarray) -> tuple[np.ndarray, ...]:
    """Insert NaN rows where frames were skipped (silence), so lines are not drawn across rests."""
    if len(t) < 3:
        return (t, *series)
    step = np.median(np.diff(t))
    cut = np.flatnonzero(np.diff(t) > 1.5 * step) + 1
    t = np.insert(t, cut, np.nan)
    return (t, *(np.insert(s.astype(float), cut, np.nan, axis=0) for s in series))


def plot_curves(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *, names: list[str], title: str) -> None:
    """Agent (solid) vs target (dashed) z-scored reward descriptors over time; up to 3 files × 4 features.

    ``curves`` maps a file stem to ``(time (T,), target z (T, F), agent z (T, F))``; silent stretches
    (skipped frames) are drawn as gaps.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stems = list(curves)[:3]
    feats = list(range(min(4, len(names))))
    fig, axes = plt.subplots(len(feats), len(stems), figsize=(5 * len(stems), 2.2 * len(feats)), squeeze=False, sharex="col")
    for j, stem in enumerate(stems):
        t, target, agent = _break_gaps(*curves[stem])
        for i, k in enumerate(feats):
            ax = axes[i][j]
            ax.plot(t, target[:, k], "--", color="0.4", lw=1, label="target")
            ax.plot(t, agent[:, k], color="C0", lw=1, label="agent")
            if j == 0:
                ax.set_ylabel(f"{names[k]} (z)")
            if i == 0:
                ax.set_title(stem, fontsize=9)
        axes[-1][j].set_xlabel("time (s)")
    axes[0][0].legend(loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=90)

    atomic_write(path, write)
    plt.close(fig)


# ---------------------------------------------------------------- scoring a session log
def read_log(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a session log / trajectory CSV and check its columns.

    Returns
    -------
    frame : DataFrame
    n_params : int

    Raises
    ------
    NotFoundError
        Missing or unreadable file.
    MismatchError
        Not the session-log format (names the first missing column).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"--log {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MismatchError(f"--log {path} is not a readable CSV ({exc})") from exc
    n = sum(1 for c in frame.columns if c.startswith("param-"))
    expected = log_columns(n)
    missing = [c for c in expected if c not in frame.columns]
    if missing or n == 0:
        first = missing[0] if missing else "param-0"
        raise MismatchError(
            f"--log {path} is not a session log (column '{first}' is missing; expected time, param-i, "
            "target:<descriptor>, agent:<descriptor>)"
        )
    if len(frame) == 0:
        raise MismatchError(f"--log {path} has no rows")
    check_session_log(path, frame)
    values = frame[expected].to_numpy(np.float64)
    if not np.isfinite(values).all():
        raise MismatchError(f"--log {path} holds non-finite values")
    return frame, n


def score_log(run: Path, log: Path) -> dict[str, Any]:
    """Score a session log with the run's feature space: the same metric as :func:`evaluate_run`.

    Frames where the musician is silent are left out as in evaluation: the log's ``active`` column
    when it has one, else target ``loudness-dBFS`` above the corpus stage's silence threshold.

    Returns
    -------
    dict
        ``rmse.{agent,fixed,floor}``, ``ratios.agent_over_floor``, ``frames``, ``frames_scored``.

    Raises
    ------
    NotFoundError, MismatchError
    """
    from rlimpro.corpus import SILENCE_THRESHOLD_DB

    run = Path(run)
    feature_space = load_feature_space(run)
    grid = load_synth_model(run)
    frame, n = read_log(log)
    if n != grid.n_params:
        raise MismatchError(f"--log {log} has {n} parameters but run {run.name} controls {grid.n_params}")
    target = frame[[f"target:{d}" for d in DESCRIPTORS]].to_numpy(np.float64)
    agent = frame[[f"agent:{d}" for d in DESCRIPTORS]].to_numpy(np.float64)
    if "active" in frame.columns:
        keep = frame["active"].to_numpy() > 0
    else:
        keep = target[:, DESCRIPTORS.index("loudness-dBFS")] > SILENCE_THRESHOLD_DB
    if not keep.any():
        raise MismatchError(f"--log {log}: every frame is silent (target loudness <= {SILENCE_THRESHOLD_DB} dBFS); nothing to score")
    target, agent = target[keep], agent[keep]
    d_agent = feature_space.distance(agent, target)
    base, fixed_row = baselines(feature_space, grid, {"log": target})
    summary = _summary({"agent": d_agent, **base["log"]})
    return {"log": str(log), "run": str(run), "frames": int(len(frame)), "frames_scored": int(keep.sum()), **summary}


# ---------------------------------------------------------------- presentation
def summary_table(result: dict[str, Any]):
    """A rich Table of an evaluation: RMSE per player and the ratios, per file and overall."""
    if result.get("task") in ("match", "sequence"):
        from rlimpro.tasks.evaluation import task_summary_table

        return task_summary_table(result)
    from rich.table import Table

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    from rich import box

    table = Table(
        title=f"{result.get('run_id', '')} on corpus '{result.get('corpus', '')}': RMSE per frame (z units)",
        caption="÷random, ÷floor: the agent's RMSE divided by the random policy's, by the floor's",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("file", overflow="fold")
    table.add_column("frames", justify="right")
    players = [*PLAYERS, RENDERED] if RENDERED in result["rmse"] else list(PLAYERS)
    for p in players:
        table.add_column("rendered" if p == RENDERED else p, justify="right")
    table.add_column("÷random", justify="right")
    table.add_column("÷floor", justify="right")
    rows = [(stem, r) for stem, r in result.get("files", {}).items()]
    rows.append(("overall", {"frames": result.get("frames"), "rmse": result["rmse"], "ratios": result["ratios"]}))
    for i, (stem, r) in enumerate(rows):
        table.add_row(
            stem,
            str(r.get("frames", "")),
            *(fmt(r["rmse"].get(p)) for p in players),
            fmt(r["ratios"].get("agent_over_random")),
            fmt(r["ratios"].get("agent_over_floor")),
            style="bold" if i == len(rows) - 1 else None,
        )
    return table
