"""Evaluation of a match / sequence run on its held-out targets.

For every held-out target (synth-made ones from the config's ``eval_targets.seed``, and files):

- ``agent``: the trained policy, deterministic, from the synth's default controls;
- ``random``: uniformly random actions in the same action space from the same start (seeded);
- ``optimizer``: the black-box optimiser of the config (CMA-ES or random search) over the controls,
  from the same start, with the same number of renders as the agent (``renders_per_target``: the
  starting sound plus ``max_steps`` for match, one per segment for sequence, where the budget is spent
  segment by segment), and with each multiple in ``optimizer_budgets`` beyond 1 (``optimizer_x10``...).

Final distance (the reward's metric, ``descriptors`` or ``spectral``): match — the distance of the last
sound the player made (the optimisers report the best sound they found); sequence — the mean over the
phrase's segments. For synth-made targets the parameter error is the mean absolute difference between
the player's engine parameters (in [0, 1]) and the hidden ones (per segment for sequence).

Outputs in the run folder: ``evaluation.json`` (``final_distance.<player>``, ``param_error.<player>``,
``ratios.agent_over_random``, ``ratios.agent_over_optimizer``, and the same per target under
``targets.<name>``), ``evaluation.png`` (the final distances as bars), ``trajectories/<target>.csv``
(the agent's distance and parameters after every step, beside the hidden parameters of synth-made
targets) and ``audio/<target>.wav`` (the agent's last sound, or its whole phrase) with
``audio/<target>-target.wav`` beside it.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import __version__
from rlimpro.progress import progress_bar
from rlimpro.runs import EVALUATION, load_config, load_feature_space, read_run_json
from rlimpro.tables import atomic_write, write_json_atomic
from rlimpro.tasks.optimizers import optimize

RANDOM_SEED = 0
OPTIMIZER_SEED = 1


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    atomic_write(path, lambda tmp: sf.write(tmp, data, sample_rate, subtype="PCM_16", format="WAV"))


def play_match(env, *, target: int, policy) -> dict[str, Any]:
    """One match episode on held-out target ``target`` with ``policy(obs) -> action``."""
    obs, info = env.reset(options={"target": target})
    trace = [(env.distance, *env.params)]
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        trace.append((env.distance, *env.params))
        done = terminated or truncated
    return {"distance": env.distance, "best_distance": env.best_distance, "renders": env.renders, "params": env.params,
            "steps": env._t, "audio": env.audio, "trace": np.asarray(trace)}


def play_sequence(env, *, target: int, policy) -> dict[str, Any]:
    """One sequence episode on held-out target ``target``."""
    obs, _ = env.reset(options={"target": target})
    params = []
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        params.append(info["params"])
        done = terminated or truncated
    trace = np.column_stack([env.distances, np.stack(params)])
    return {"distance": float(np.mean(env.distances)), "renders": env.renders, "params": np.stack(params),
            "steps": len(params), "audio": env.episode_audio(), "trace": trace}


def optimise_match(env, *, target: int, name: str, budget: int, rng: np.random.Generator) -> dict[str, Any]:
    """The optimiser on one match target, ``budget`` renders from the default start."""
    env.reset(options={"target": target})
    before = env.renders
    x0 = env.controls.copy()
    u, d = optimize(name, env.distance_at, dim=env.n_controls, budget=budget, rng=rng, x0=x0)
    return {"distance": float(d), "renders": env.renders, "params": env.layout.to_engine(env.layout.quantize(u)),
            "renders_used": env.renders - before}


def optimise_sequence(env, *, target: int, name: str, budget: int, rng: np.random.Generator) -> dict[str, Any]:
    """The optimiser on one phrase: ``budget`` renders spread evenly over the segments (at least one each)."""
    env.reset(options={"target": target})
    x0 = env.controls.copy()
    per = np.full(env.total_steps, budget // env.total_steps)
    per[: budget % env.total_steps] += 1
    per = np.maximum(per, 1)
    dists, params = [], []
    for t in range(env.total_steps):
        u, d = optimize(name, lambda x, t=t: env.distance_of_segment(t, x), dim=env.n_controls, budget=int(per[t]), rng=rng, x0=x0)
        dists.append(d)
        params.append(env.layout.to_engine(env.layout.quantize(u)))
    return {"distance": float(np.mean(dists)), "renders": env.renders, "params": np.stack(params)}


def write_trace(path: Path, trace: np.ndarray, *, param_names: list[str], target: Any, task: str) -> None:
    """The agent's episode as CSV: ``step`` (match: 0 = the start; sequence: the segment), ``distance``,
    the engine parameters in [0, 1] (``param-i``), and the hidden ones when the target is synth-made."""
    import pandas as pd

    n = len(param_names)
    frame = pd.DataFrame(trace, columns=["distance", *[f"param-{i}" for i in range(n)]])
    frame.insert(0, "step", np.arange(len(frame)))
    if target.params is not None:
        hidden = np.broadcast_to(target.params, (len(frame), n)) if task == "match" else target.params
        for i in range(n):
            frame[f"hidden-{i}"] = hidden[:, i]
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))


def plot_distances(path: Path, result: dict[str, Any]) -> None:
    """Final distance per held-out target and player (bars), overall means in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["targets"])
    players = list(result["final_distance"])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) * len(players) / 2), 3.2))
    width = 0.8 / len(players)
    x = np.arange(len(names))
    for k, p in enumerate(players):
        ax.bar(x + k * width, [result["targets"][n]["final_distance"][p] for n in names], width, label=p)
    ax.set_xticks(x + 0.4 - width / 2, names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(f"final {result['distance']} distance")
    means = ", ".join(f"{p} {v:.3f}" for p, v in result["final_distance"].items())
    ax.set_title(f"{result['run_id']} ({result['task']}): {means}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=90)

    atomic_write(path, write)
    plt.close(fig)


def evaluate_task_run(run: Path, *, workspace: Path, show_progress: bool = True, plot: bool = True, final: bool = False) -> dict[str, Any]:
    """Evaluate a match / sequence run on its held-out targets; write evaluation.json, audio/, trajectories/.

    Parameters
    ----------
    run : Path
        The run folder.
    workspace : Path
        Workspace root (target files, the demo corpus).
    show_progress : bool
    plot : bool
        Write evaluation.png (final distance per target and player).
    final : bool
        Evaluate ``final_model.zip`` instead of ``best_model.zip``.

    Returns
    -------
    dict
        The content of evaluation.json.

    Raises
    ------
    NotFoundError, MismatchError, ConfigError
    """
    from rlimpro.evaluate import deterministic_policy, load_policy, ratio
    from rlimpro.tasks.setup import prepare_task

    run = Path(run)
    info = read_run_json(run)
    config = load_config(run)
    setup = prepare_task(config, workspace=Path(workspace), source=str(run / "config.yaml"))
    setup.feature_space = load_feature_space(run)  # exactly the training z-scoring
    s = setup.settings
    model, used_model = load_policy(run, algorithm=config.algorithm, final=final)
    task = setup.task
    play = play_match if task == "match" else play_sequence
    optimise = optimise_match if task == "match" else optimise_sequence
    agent_env, rand_env, opt_env = (setup.make_env(split="eval") for _ in range(3))
    rand_env.action_space.seed(RANDOM_SEED)
    opt_rng = np.random.default_rng(OPTIMIZER_SEED)
    budgets = {("optimizer" if m == 1 else f"optimizer_x{m}"): m * setup.renders_per_episode for m in s.optimizer_budgets}
    players = ["agent", "random", *budgets]
    agent_policy = deterministic_policy(model)

    per_target: dict[str, Any] = {}
    audio_dir = run / "audio"
    with progress_bar(f"evaluate {run.name}", total=len(setup.eval_targets), enabled=show_progress) as advance:
        for i, target in enumerate(setup.eval_targets):
            results = {"agent": play(agent_env, target=i, policy=agent_policy),
                       "random": play(rand_env, target=i, policy=lambda obs: rand_env.action_space.sample())}
            for key, budget in budgets.items():
                results[key] = optimise(opt_env, target=i, name=s.optimizer, budget=budget, rng=opt_rng)
            row: dict[str, Any] = {
                "source": target.source,
                "final_distance": {p: float(results[p]["distance"]) for p in players},
                "renders": {p: int(results[p].get("renders_used", results[p]["renders"])) for p in players},
            }
            if task == "match":
                row["agent_steps"] = int(results["agent"]["steps"])
                row["agent_best_distance"] = float(results["agent"]["best_distance"])
            if target.params is not None:
                row["param_error"] = {p: float(np.mean(np.abs(np.asarray(results[p]["params"]) - target.params))) for p in players}
            row["ratios"] = {
                "agent_over_random": ratio(row["final_distance"]["agent"], row["final_distance"]["random"]),
                "agent_over_optimizer": ratio(row["final_distance"]["agent"], row["final_distance"].get("optimizer")),
            }
            per_target[target.name] = row
            write_trace(run / "trajectories" / f"{target.name.replace('/', '_')}.csv", results["agent"]["trace"],
                        param_names=[p.name for p in setup.spec.params], target=target, task=task)
            if task == "match" or s.save_audio:
                stem = target.name.replace("/", "_")
                _write_wav(audio_dir / f"{stem}.wav", results["agent"]["audio"], s.sample_rate)
                _write_wav(audio_dir / f"{stem}-target.wav", target.audio, s.sample_rate)
            advance(1)

    def mean_of(key: str, p: str) -> float | None:
        vals = [r[key][p] for r in per_target.values() if key in r]
        return float(np.mean(vals)) if vals else None

    final = {p: mean_of("final_distance", p) for p in players}
    synth_names = [n for n, r in per_target.items() if "param_error" in r]
    result = {
        "rlimpro_version": __version__,
        "task": task,
        "run": str(run),
        "run_id": run.name,
        "model": used_model.name,
        "synth": config.synth,
        "metric": (f"final distance ({s.distance}): match — the last sound's distance to the target (optimisers: the best "
                   "sound found); sequence — the mean over the phrase's segments"),
        "distance": s.distance,
        "targets_evaluated": list(per_target),
        "renders_per_target": setup.renders_per_episode,
        "optimizer": {"name": s.optimizer, "budgets": budgets},
        "final_distance": final,
        "param_error": {p: mean_of("param_error", p) for p in players} if synth_names else {},
        "param_error_targets": synth_names,
        "ratios": {
            "agent_over_random": ratio(final["agent"], final["random"]),
            "agent_over_optimizer": ratio(final["agent"], final.get("optimizer")),
        },
        "targets": per_target,
        "evaluated": _dt.datetime.now().isoformat(timespec="seconds"),
        "trained_steps": info.get("steps"),
    }
    write_json_atomic(run / EVALUATION, result)
    if plot:
        plot_distances(run / "evaluation.png", result)
    return result


def task_summary_table(result: dict[str, Any]):
    """A rich Table of a task evaluation: final distance per player and target, the ratios, the agent's
    parameter error (synth-made targets); ``opt`` is the optimiser with the agent's renders, ``opt xK`` with K times."""
    from rich import box
    from rich.table import Table

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    players = list(result["final_distance"])
    heads = {"agent": "agent", "random": "random", "optimizer": "opt"}
    table = Table(
        title=f"{result.get('run_id', '')} ({result['task']}): final {result['distance']} distance on held-out targets",
        box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0),
    )
    table.add_column("target", overflow="fold")
    for p in players:
        table.add_column(heads.get(p, p.replace("optimizer_x", "opt x")), justify="right")
    table.add_column("agent/random", justify="right")
    table.add_column("agent/opt", justify="right")
    table.add_column("param err", justify="right")
    rows = list(result["targets"].items())
    rows.append(("overall", {"final_distance": result["final_distance"], "ratios": result["ratios"], "param_error": result.get("param_error")}))
    for i, (name, r) in enumerate(rows):
        table.add_row(
            name, *(fmt(r["final_distance"].get(p)) for p in players),
            fmt(r["ratios"].get("agent_over_random")), fmt(r["ratios"].get("agent_over_optimizer")),
            fmt((r.get("param_error") or {}).get("agent")),
            style="bold" if i == len(rows) - 1 else None,
        )
    return table
