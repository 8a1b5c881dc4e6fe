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

#: every player of an imitation evaluation, in report order (floor is a bound, not a player)
PLAYERS = ("agent", "random", "fixed", "floor", "follower", "follower_smooth")
#: baselines of ``ratios.agent_over_<b>``
RATIO_BASELINES = ("follower", "follower_smooth", "fixed", "floor", "random")
RANDOM_SEED = 0


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


def _corpus_files(
    *, corpus: str, workspace: Path, files: list[str] | None, default_files: list[str], active_only: bool, analysis: dict[str, Any] | None, run: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Every frame of the files to evaluate: ``{stem: {"frames": (T, D), "times": (T,), "active": (T,) bool}}``."""
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
    out = {}
    for stem in chosen:
        table = tables[stem]
        active = table["active"].to_numpy() > 0 if active_only else np.ones(len(table), dtype=bool)
        if active.any():
            out[stem] = {
                "frames": table[list(DESCRIPTORS)].to_numpy(np.float64),
                "times": table["time"].to_numpy(np.float64),
                "active": active,
            }
    if not out:
        raise ParameterError(f"none of the files {', '.join(chosen)} of corpus '{corpus}' has active frames to evaluate on")
    return out


def player_figures(
    feature_space: Any, *, played: np.ndarray, target: np.ndarray, distances: np.ndarray | None = None
) -> dict[str, Any]:
    """One player's figures on the scored frames.

    Parameters
    ----------
    feature_space : FeatureSpace
    played, target : ndarray, shape (T, len(DESCRIPTORS))
        Raw descriptors of the player's sound and of the musician, frame by frame.
    distances : ndarray, shape (T,), optional
        Precomputed :meth:`FeatureSpace.distance` of the two.

    Returns
    -------
    dict
        ``distance`` (ndarray (T,)), ``units`` and ``correlation`` (per reward descriptor, in musical
        units; see :mod:`rlimpro.descriptors.units`), and ``voicing`` where pitch is a reward feature.
    """
    from rlimpro.descriptors import units as mu

    d = feature_space.distance(played, target) if distances is None else distances
    names = feature_space.features_reward
    out = {
        "distance": d,
        "units": {n: mu.median_error(n, played, target) for n in names},
        "correlation": {n: mu.correlation(n, played, target) for n in names},
    }
    if any(n in mu.PITCH for n in names):
        out["voicing"] = mu.voicing(played, target)
    return out


def _pooled(feature_space: Any, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], movements: list[tuple[float, int]]) -> dict[str, Any]:
    """Figures over all files: ``parts`` holds (played, target, distances) per file."""
    played = np.concatenate([p for p, _, _ in parts])
    target = np.concatenate([t for _, t, _ in parts])
    fig = player_figures(feature_space, played=played, target=target, distances=np.concatenate([d for _, _, d in parts]))
    total = sum(n for _, n in movements)
    fig["movement"] = float(sum(m * n for m, n in movements) / total) if total else 0.0
    return fig


def _block(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``rmse``, ``units``, ``correlation``, ``movement`` and ``ratios`` of a set of players' figures."""
    summary = rmse_summary({p: f["distance"] for p, f in figures.items()}, players=PLAYERS, over=RATIO_BASELINES)
    return {
        "rmse": summary["rmse"],
        "units": {p: f["units"] for p, f in figures.items() if "units" in f},
        "correlation": {p: f["correlation"] for p, f in figures.items() if "correlation" in f},
        "movement": {p: f["movement"] for p, f in figures.items() if "movement" in f},
        **({"voicing": {p: f["voicing"] for p, f in figures.items() if "voicing" in f}}
           if any("voicing" in f for f in figures.values()) else {}),
        "ratios": summary["ratios"],
    }


def _renderer(run_info: dict[str, Any], config: Any, *, workspace: Path, render: bool | None) -> tuple[Any, str | None]:
    """The synth spec to render trajectories with (``"continuous"``), or (None, None)."""
    from rlimpro.synths import engine_class, load_spec

    engine = run_info.get("engine")  # the lookup table's: "native:fm", "pd", "faust", ...
    kind = "native" if str(engine).startswith("native") else engine
    spec = load_spec(run_info["synth"], workspace=workspace, n_params=run_info["n_params"], engine=kind or None)
    if engine_class(spec.engine).has_voice:  # native, Faust, Csound: the live voice, fast
        return spec, "continuous" if render is not False else None
    if render and spec.engine == "midi":
        raise ParameterError(
            f"--render: synth '{spec.name}' is a MIDI synth, played and recorded in real time; evaluate scores it on its "
            "lookup table only (rehearse it with rlimpro live to hear it)"
        )
    return (spec, "continuous") if render else (None, None)  # Pd, SuperCollider: one batch process per trajectory


def evaluate_run(
    run: Path,
    *,
    workspace: Path,
    corpus: str | None = None,
    files: list[str] | None = None,
    show_progress: bool = True,
    plot: bool = True,
    final: bool = False,
    render: bool | None = None,
) -> dict[str, Any]:
    """Evaluate a run on corpus files; write evaluation.json, evaluation.png and trajectories.

    Every player (agent, random, fixed, follower, follower_smooth; floor is the bound) plays each file
    from the synth's defaults, deciding on the musician's active frames and holding on the others
    (:mod:`rlimpro.env.players`). Each is scored on the active frames, twice: on the lookup model the
    agent was trained with, and on the audio of its trajectory rendered by the real synth continuously,
    as ``rlimpro live`` plays it (:mod:`rlimpro.synths.trajectory`, with the run's silence behaviour),
    then analyzed (``rendered``).

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
    render : bool, optional
        Score rendered audio: None (default) for synths with an in-process voice (native, Faust,
        Csound), whose rendering is fast; True also renders Pure Data and SuperCollider synths (one
        batch process per trajectory); False never.

    Returns
    -------
    dict
        The content of evaluation.json (see DESIGN.md "Evaluation"): ``rmse``, ``units``,
        ``correlation``, ``movement``, ``ratios``, the same under ``rendered``, ``headline``, and
        per file under ``files.<stem>``.

    Raises
    ------
    NotFoundError, MismatchError, ParameterError
    """
    from rlimpro.descriptors import AnalysisSettings, Analyzer
    from rlimpro.env import players as pl
    from rlimpro.env.improvisation import ImprovisationEnv
    from rlimpro.env.rewards import Reward
    from rlimpro.synths.trajectory import render_trajectory

    run = Path(run)
    workspace = Path(workspace)
    info = read_run_json(run)
    config = load_config(run)
    if config.task != "imitate":  # match / sequence: held-out targets instead of corpus files
        if corpus or files or render:
            raise ParameterError(
                f"--corpus / --files / --render are for task imitate; run {run.name} is a {config.task} run, "
                "evaluated on the held-out targets of its config (eval_targets)"
            )
        from rlimpro.tasks.evaluation import evaluate_task_run

        return evaluate_task_run(run, workspace=workspace, show_progress=show_progress, plot=plot, final=final)
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
    data = _corpus_files(
        corpus=corpus, workspace=workspace, files=files, default_files=default_files,
        active_only=config.active_only, analysis=info.get("analysis"), run=run,
    )
    model, used_model = load_policy(run, algorithm=config.algorithm, final=final)
    defaults = np.asarray(info.get("default_params") or [0.5] * grid.n_params, dtype=np.float64)
    reward = Reward(config.reward_type, scale=config.reward_scale, prize_threshold=config.prize_threshold, prize=config.prize)
    targets = {stem: d["frames"][d["active"]] for stem, d in data.items()}

    def make_env() -> ImprovisationEnv:
        return ImprovisationEnv(
            grid=grid, feature_space=feature_space, corpus=targets, training_mode="corpus",
            action_type=config.action_type, step_size=config.step_size, reward=reward,
            max_episode_steps=None, corpus_order="cycle", start="default", default_params=defaults,
        )

    env, rand_env = make_env(), make_env()
    rand_env.action_space.seed(RANDOM_SEED)
    agent_policy = deterministic_policy(model)
    grid_params = grid.grid_params()
    fixed_row = pl.best_fixed_row(feature_space, grid.values, list(targets.values()))
    follower = pl.Follower(feature_space, grid.values, grid_params)
    spec, method = _renderer(info, config, workspace=workspace, render=render)
    settings = AnalysisSettings.from_dict(info["analysis"]) if info.get("analysis") else AnalysisSettings()
    analyzer = Analyzer(settings) if method else None
    silence = getattr(config, "silence", "hold")

    per_file: dict[str, Any] = {}
    model_parts: dict[str, list] = {p: [] for p in PLAYERS}
    render_parts: dict[str, list] = {p: [] for p in PLAYERS}
    moves: dict[str, list] = {p: [] for p in PLAYERS}
    traj_dir = run / "trajectories"
    curves = {}
    with progress_bar(f"evaluate {run.name}", total=sum(len(v) for v in targets.values()), enabled=show_progress) as advance:
        for stem, d in data.items():
            target, active = targets[stem], d["active"]
            _, agent_p = rollout(env, file=stem, policy=agent_policy)
            _, random_p = rollout(rand_env, file=stem, policy=lambda obs: rand_env.action_space.sample())
            _, floor_d = pl.nearest_rows(feature_space, grid.values, target)
            rows = follower.rows(target)
            follow_p = grid_params[rows]
            decisions = {
                "agent": agent_p,
                "random": random_p,
                "fixed": np.broadcast_to(grid_params[fixed_row], agent_p.shape),
                "follower": follow_p,
                "follower_smooth": pl.limited(follow_p, start=defaults, step=config.step_size),
            }
            lookup_desc = {p: grid.batch(v) for p, v in decisions.items()}
            lookup_desc["follower"] = grid.values[rows]
            starts = {p: grid_params[fixed_row] if p == "fixed" else defaults for p in decisions}  # a constant is always there
            timelines = {p: pl.timeline(v, active=active, start=starts[p]) for p, v in decisions.items()}
            file_model: dict[str, dict[str, Any]] = {}
            file_render: dict[str, dict[str, Any]] = {}
            for p in decisions:
                moves[p].append((pl.movement(timelines[p], active=active, start=starts[p]), int(active.sum())))
                dist = feature_space.distance(lookup_desc[p], target)
                model_parts[p].append((lookup_desc[p], target, dist))
                file_model[p] = {"distance": dist}
                if not method:
                    continue
                audio = render_trajectory(spec, timelines[p], hop=settings.hop, sample_rate=settings.sample_rate,
                                          active=active, silence=silence)
                heard = analyzer.analyze(audio)[: len(active)][active]
                rd = feature_space.distance(heard, target)
                render_parts[p].append((heard, target, rd))
                file_render[p] = {"distance": rd}
            floor_part = (lookup_desc["follower"], target, floor_d)  # units, correlation: the follower's
            model_parts["floor"].append(floor_part)
            file_model["floor"] = {"distance": floor_d}
            if method:
                render_parts["floor"].append(floor_part)  # a bound of the lookup model, not a player
                file_render["floor"] = {"distance": floor_d}
            per_file[stem] = {"frames": int(len(target)), **_short(_block(file_model))}
            if method:
                per_file[stem]["rendered"] = _short(_block(file_render))
            write_trajectory(
                traj_dir / f"{stem}.csv",
                times=d["times"][active], params=agent_p, target=target, agent=lookup_desc["agent"],
                meta={
                    "run": str(run), "run_id": run.name, "synth": config.synth, "corpus": corpus, "file": stem,
                    "source": "rlimpro evaluate", "model": used_model.name, "analysis": info.get("analysis"),
                    "rmse_agent": per_file[stem]["rmse"]["agent"],
                },
            )
            shown = render_parts if method else model_parts
            curves[stem] = {
                "time": d["times"][active],
                "musician": target,
                "agent": shown["agent"][-1][0],
                "follower": shown["follower"][-1][0],
                "params": agent_p,
            }
            advance(len(target))
    moves["floor"] = moves["follower"]
    overall = _block({p: _pooled(feature_space, model_parts[p], moves[p]) for p in PLAYERS})
    result: dict[str, Any] = {
        "rlimpro_version": __version__,
        "run": str(run),
        "run_id": run.name,
        "model": used_model.name,
        "synth": config.synth,
        "corpus": corpus,
        "files_evaluated": list(data),
        "warnings": warnings,
        "frames": int(sum(len(v) for v in targets.values())),
        "metric": "mean over the musician's active frames of the reward's distance (weighted RMSE over features_reward in "
                  f"{feature_space.units} distance units)",
        "features_reward": feature_space.features_reward,
        "units_of": {n: _unit_name(n) for n in feature_space.features_reward},
        "active_only": config.active_only,
        "silence": silence,
        "fixed_params": [float(v) for v in grid_params[fixed_row]],
        **overall,
    }
    if method:
        result["rendered"] = {"method": method, **_block({p: _pooled(feature_space, render_parts[p], moves[p]) for p in PLAYERS})}
    result["headline"] = headline(result)
    result["files"] = per_file
    result["evaluated"] = _dt.datetime.now().isoformat(timespec="seconds")
    write_json_atomic(run / EVALUATION, result)
    if plot:
        plot_curves(run / "evaluation.png", curves, names=feature_space.features_reward,
                    title=f"{run.name}: musician, agent and follower" + (" (rendered by the synth)" if method else " (lookup model)"))
    return result


def _unit_name(name: str) -> str:
    from rlimpro.descriptors.units import musical_unit

    return musical_unit(name) or "raw"


def _short(block: dict[str, Any]) -> dict[str, Any]:
    """Per-file figures: distances and ratios only."""
    return {"rmse": block["rmse"], "ratios": block["ratios"]}


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The figure a musician reads first: the agent's error over the follower's (rendered when the run
    was rendered), and the agent's pitch error in semitones where pitch is scored."""
    block = result.get("rendered") or result
    pitch = next((n for n in ("pitch-midi", "pitch-hz") if n in result.get("features_reward", [])), None)
    return {
        "measured_on": "rendered" if "rendered" in result else "lookup model",
        "agent_over_follower": block["ratios"].get("agent_over_follower"),
        "pitch_error_semitones": block["units"].get("agent", {}).get(pitch) if pitch else None,
    }


def _break_gaps(t: np.ndarray, *series: np.ndarray) -> tuple[np.ndarray, ...]:
    """Insert NaN rows where frames were skipped (silence), so lines are not drawn across rests."""
    if len(t) < 3:
        return (t, *series)
    step = np.median(np.diff(t))
    cut = np.flatnonzero(np.diff(t) > 1.5 * step) + 1
    t = np.insert(t, cut, np.nan)
    return (t, *(np.insert(s.astype(float), cut, np.nan, axis=0) for s in series))


def plot_curves(path: Path, curves: dict[str, dict[str, np.ndarray]], *, names: list[str], title: str) -> None:
    """The musician, the agent and the follower over time, each reward descriptor in its musical unit
    (semitones, dB or raw), and the agent's parameters; up to 3 files × 4 descriptors.

    ``curves`` maps a file stem to ``time`` (T,), raw frames ``musician``, ``agent``, ``follower``
    (T, len(DESCRIPTORS)) and the agent's ``params`` (T, N), on the musician's active frames; rests are
    drawn as gaps.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlimpro.descriptors.units import musical_unit, musical_values, scored_frames

    stems = list(curves)[:3]
    feats = names[:4]
    rows = len(feats) + 1
    fig, axes = plt.subplots(rows, len(stems), figsize=(5 * len(stems), 2.0 * rows), squeeze=False, sharex="col")
    for j, stem in enumerate(stems):
        c = curves[stem]
        for i, name in enumerate(feats):
            ax = axes[i][j]
            keep = scored_frames(name, c["musician"])  # pitch: only where the musician is pitched
            values = [np.where(keep, musical_values(name, c[k]), np.nan) for k in ("musician", "agent", "follower")]
            t, mus, agent, follower = _break_gaps(c["time"], *values)
            ax.plot(t, mus, color="0.2", lw=1.2, label="musician")
            ax.plot(t, follower, color="C1", lw=0.7, alpha=0.7, label="follower")
            ax.plot(t, agent, color="C0", lw=1, label="agent")
            if j == 0:
                unit = musical_unit(name)
                ax.set_ylabel(f"{name}\n({unit})" if unit else name, fontsize=8)
            if i == 0:
                ax.set_title(stem, fontsize=9)
        ax = axes[-1][j]
        t, params = _break_gaps(c["time"], c["params"])
        for k in range(params.shape[1]):
            ax.plot(t, params[:, k], lw=1, label=f"param-{k}")
        ax.set_ylim(-0.02, 1.02)
        if j == 0:
            ax.set_ylabel("agent's\nparameters", fontsize=8)
            ax.legend(loc="upper right", fontsize=6, ncol=params.shape[1])
        ax.set_xlabel("time (s)")
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
    from rlimpro.env import players as pl

    rows, floor_d = pl.nearest_rows(feature_space, grid.values, target)
    fixed_row = pl.best_fixed_row(feature_space, grid.values, [target])
    figures = {
        "agent": player_figures(feature_space, played=agent, target=target),
        "fixed": player_figures(feature_space, played=np.broadcast_to(grid.values[fixed_row], target.shape), target=target),
        "floor": {"distance": floor_d},
    }
    block = _block(figures)
    return {"log": str(log), "run": str(run), "frames": int(len(frame)), "frames_scored": int(keep.sum()),
            "rmse": block["rmse"], "units": block["units"], "ratios": block["ratios"]}


# ---------------------------------------------------------------- presentation
def summary_table(result: dict[str, Any]):
    """A rich Table of an imitation evaluation: per player, the distance on the lookup model and on the
    rendered audio, each reward descriptor's median error in its musical unit, and the movement per hop
    (fits 100 columns for up to 4 reward descriptors)."""
    if result.get("task") in ("match", "sequence"):
        from rlimpro.tasks.evaluation import task_summary_table

        return task_summary_table(result)
    from rich import box
    from rich.table import Table

    def fmt(v: Any, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    rendered = result.get("rendered")
    detail = rendered or result
    names = list(result.get("features_reward", []))[:4]
    units = result.get("units_of", {})
    h = result.get("headline", {})
    caption = (
        f"agent ÷ follower = {fmt(h.get('agent_over_follower'), 2)} ({h.get('measured_on', '')}; lower is better)"
        + (f", agent's pitch error {fmt(h.get('pitch_error_semitones'), 2)} semitones" if h.get("pitch_error_semitones") is not None else "")
        + ". distance: weighted RMSE of the reward; errors: median |player - musician| on "
        + ("the rendered audio" if rendered else "the lookup model")
    )
    table = Table(
        title=f"{result.get('run_id', '')} on '{result.get('corpus', '')}' ({result.get('frames', 0)} frames of "
              f"{len(result.get('files_evaluated', []))} files)",
        caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0),
    )
    table.add_column("player")
    table.add_column("model", justify="right")
    if rendered:
        table.add_column("rendered", justify="right")
    for n in names:
        unit = {"semitones": "st", "dB": "dB", "raw": ""}.get(units.get(n, ""), "")
        table.add_column(f"{n}{' ' + unit if unit else ''}", justify="right", max_width=16)
    table.add_column("move/hop", justify="right")
    for p in PLAYERS:
        if p not in result["rmse"]:
            continue
        cells = [p + (" (bound)" if p == "floor" else ""), fmt(result["rmse"].get(p))]
        if rendered:
            cells.append("-" if p == "floor" else fmt(rendered["rmse"].get(p)))
        cells += [fmt(detail.get("units", {}).get(p, {}).get(n), 2) for n in names]
        cells.append(fmt(detail.get("movement", {}).get(p)))
        table.add_row(*cells, style="bold" if p == "agent" else None)
    return table


def files_table(result: dict[str, Any]):
    """A rich Table of the per-file distances of the agent and the follower and their ratio."""
    from rich import box
    from rich.table import Table

    rendered = "rendered" in result
    table = Table(title="per file" + (" (rendered)" if rendered else ""), box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    for col in ("file", "frames", "agent", "follower", "fixed", "÷follower", "÷fixed"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for stem, r in result.get("files", {}).items():
        block = r.get("rendered", r)
        cells = [block["rmse"].get(k) for k in ("agent", "follower", "fixed")] + [
            block["ratios"].get("agent_over_follower"), block["ratios"].get("agent_over_fixed")]
        table.add_row(stem, str(r.get("frames", "")), *("-" if v is None else f"{v:.3f}" for v in cells))
    return table
