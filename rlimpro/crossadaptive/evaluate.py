"""Evaluating a cross-adaptive agent on held-out source/target pairs.

Metric (the reward's distance): per frame ``i``, the weighted RMSE in the run's z space over its
``features_reward`` between a signal's frame ``i`` and the target's frame ``i``; reported as the mean
over frames, per pair and over all frames of all pairs. Three players on every pair, each from frame
0 with a fresh effect chain:

- ``agent``: the trained policy (deterministic; ``best_model.zip``, else ``final_model.zip``),
  starting from the chain's default parameters;
- ``random``: uniformly random actions in the run's action space (seeded), same start;
- ``dry``: the unprocessed source.

``ratios.agent_over_dry`` (the acceptance figure: at most 0.7) and ``ratios.agent_over_random`` are
the headline figures; lower is better. Outputs in the run folder: ``evaluation.json``,
``evaluation.png`` (loudness and centroid of target, dry and processed over time) and, per pair,
``evaluation/<pair>/`` holding ``source.wav``, ``target.wav``, ``processed.wav`` (the agent's
output) and ``trajectory.csv`` (the log format of :mod:`rlimpro.crossadaptive.log`).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import __version__
from rlimpro.errors import ParameterError
from rlimpro.progress import progress_bar
from rlimpro.runs import EVALUATION
from rlimpro.tables import atomic_write, write_json_atomic

PLAYERS = ("agent", "random", "dry")
RANDOM_SEED = 0


def rollout(env: Any, *, pair: str, policy: Any) -> dict[str, np.ndarray]:
    """Play one pair whole from frame 0 with ``policy(obs) -> action``.

    Returns
    -------
    dict
        ``distance`` (T,), ``dry_distance`` (T,), ``params`` (T, N), ``processed`` (T, D) raw frames,
        ``audio`` (T * hop,) the processed signal.
    """
    obs, _ = env.reset(options={"pair": pair})
    p = env.pairs[pair]
    n = p.n_frames
    out = {"distance": np.empty(n), "dry_distance": np.empty(n), "params": np.empty((n, env.n_params)),
           "processed": np.empty_like(p.dry), "audio": np.empty(p.hops.size)}
    hop = p.hops.shape[1]
    for t in range(n):
        obs, _, _, _, info = env.step(policy(obs))
        out["distance"][t] = info["distance"]
        out["dry_distance"][t] = info["dry_distance"]
        out["params"][t] = env.params
        out["processed"][t] = env.processed_frame()
        out["audio"][t * hop : (t + 1) * hop] = env.last_output
    out["audio"] = out["audio"][: p.pair.source.size]
    return out


def _summary(d: dict[str, np.ndarray]) -> dict[str, Any]:
    """RMSE of every player and the ratios agent/dry, agent/random (as :mod:`rlimpro.evaluate` computes them)."""
    from rlimpro.evaluate import rmse_summary

    return rmse_summary(d, players=PLAYERS, over=("dry", "random"))


def _write_wav(path: Path, x: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    atomic_write(path, lambda tmp: sf.write(str(tmp), np.clip(x, -1.0, 1.0).astype(np.float32), sample_rate,
                                            format="WAV", subtype="FLOAT"))


def evaluate_cross_run(
    run: Path,
    *,
    workspace: Path,
    pairs: list[str] | None = None,
    show_progress: bool = True,
    write_audio: bool = True,
    plot: bool = True,
    final: bool = False,
    setup: Any = None,
) -> dict[str, Any]:
    """Evaluate a cross-adaptive run; write evaluation.json, evaluation.png and evaluation/<pair>/.

    Parameters
    ----------
    run : Path
        Run folder (see :func:`rlimpro.crossadaptive.runs.resolve_run`).
    workspace : Path
        Workspace root (corpus material is read from it).
    pairs : list of str, optional
        Pair names of the run's material (default: its held-out pairs).
    show_progress, write_audio, plot : bool
    final : bool
        Evaluate ``final_model.zip`` instead of ``best_model.zip``.
    setup : CrossSetup, optional
        The training setup, when called right after training (reuses its analyzed material).

    Returns
    -------
    dict
        The content of evaluation.json.

    Raises
    ------
    NotFoundError, MismatchError, ParameterError
        Missing or inconsistent run, unknown pair names (with the close match), a model whose
        action size is not the effect chain's parameter count.
    """
    from rlimpro.crossadaptive.env import AnalyzedPair, CrossAdaptiveEnv
    from rlimpro.crossadaptive.paired import shared_analyzer
    from rlimpro.crossadaptive.runs import check_model_fits, load_run_config, load_run_features, run_info
    from rlimpro.crossadaptive.setup import load_material
    from rlimpro.effects.chain import EffectChain
    from rlimpro.env.rewards import Reward
    from rlimpro.evaluate import deterministic_policy, load_policy
    from rlimpro.workspace import did_you_mean

    run = Path(run)
    info = run_info(run)
    config = load_run_config(run)
    settings = config.analysis_settings()
    chain = EffectChain.from_spec(config.effects, sample_rate=settings.sample_rate, ramp=config.ramp)
    features = load_run_features(run, n_params=chain.n_params)
    model, used_model = load_policy(run, algorithm=config.algorithm, final=final)
    check_model_fits(model, observation_size=features.observation_size, chain=chain, where=str(used_model))

    if setup is not None:
        analyzed_all = setup.pairs
        names = list(analyzed_all)
        held = list(setup.held_out_pairs)
    else:
        material, held, _ = load_material(config, workspace=Path(workspace), source=str(run / "config.yaml"))
        by_name = {p.name: p for p in material}
        names = list(by_name)
        analyzed_all = None
    chosen = list(pairs) if pairs else list(info.get("held_out_pairs") or held)
    if not chosen:
        raise ParameterError(f"run {run.name} holds out no pairs; name pairs to evaluate on (pairs: {', '.join(names)})")
    for name in chosen:
        if name not in names:
            raise ParameterError(f"pair '{name}' is not in the run's material{did_you_mean(name, names)} "
                                 f"(pairs: {', '.join(names)})")
    if analyzed_all is None:
        analyzer = shared_analyzer(settings)
        analyzed = {n: AnalyzedPair(by_name[n], analyzer) for n in chosen}
    else:
        analyzed = {n: analyzed_all[n] for n in chosen}

    reward = Reward(config.reward_type, scale=config.reward_scale, prize_threshold=config.prize_threshold, prize=config.prize)

    def make_env() -> CrossAdaptiveEnv:
        return CrossAdaptiveEnv(pairs=analyzed, chain_spec=config.effects, features=features, settings=settings,
                                ramp=config.ramp, action_type=config.action_type, step_size=config.step_size,
                                reward=reward, max_episode_steps=None, order="cycle", start="default")

    env, rand_env = make_env(), make_env()
    rand_env.action_space.seed(RANDOM_SEED)
    agent_policy = deterministic_policy(model)

    per_pair: dict[str, Any] = {}
    all_d: dict[str, list[np.ndarray]] = {p: [] for p in PLAYERS}
    curves = {}
    out_dir = run / "evaluation"
    sr, hop = settings.sample_rate, settings.hop
    with progress_bar(f"evaluate {run.name}", total=2 * sum(a.n_frames for a in analyzed.values()), enabled=show_progress) as advance:
        for name, ap in analyzed.items():
            agent = rollout(env, pair=name, policy=agent_policy)
            advance(ap.n_frames)
            rand = rollout(rand_env, pair=name, policy=lambda obs: rand_env.action_space.sample())
            advance(ap.n_frames)
            d = {"agent": agent["distance"], "random": rand["distance"], "dry": agent["dry_distance"]}
            for p in PLAYERS:
                all_d[p].append(d[p])
            per_pair[name] = {"frames": int(ap.n_frames), "origin": ap.pair.origin, **_summary(d)}
            if write_audio:
                folder = out_dir / name
                _write_wav(folder / "source.wav", ap.pair.source, sr)
                _write_wav(folder / "target.wav", ap.pair.target, sr)
                _write_wav(folder / "processed.wav", agent["audio"], sr)
                _write_trajectory(folder / "trajectory.csv", ap=ap, result=agent, hop=hop, sr=sr,
                                  meta={"run": str(run), "run_id": run.name, "pair": name, "model": used_model.name,
                                        "param_names": list(chain.param_names), "analysis": settings.to_dict(),
                                        "source": "rlimpro evaluate"})
            curves[name] = (np.arange(ap.n_frames) * hop / sr, ap.target, ap.dry, agent["processed"])
    overall = _summary({p: np.concatenate(v) for p, v in all_d.items()})
    result = {
        "rlimpro_version": __version__,
        "task": "cross-adaptive",
        "run": str(run),
        "run_id": run.name,
        "model": used_model.name,
        "pairs_evaluated": chosen,
        "frames": int(sum(a.n_frames for a in analyzed.values())),
        "metric": "mean over frames of the weighted RMSE in z space over features_reward between a signal's "
                  "frame i and the target's frame i (the reward's distance)",
        "features_reward": features.feature_space.features_reward,
        "effects": chain.spec(),
        "param_names": list(chain.param_names),
        **overall,
        "pairs": per_pair,
        "evaluated": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    write_json_atomic(run / EVALUATION, result)
    if plot:
        plot_curves(run / "evaluation.png", curves, title=f"{run.name}: processed vs target")
    return result


def _write_trajectory(path: Path, *, ap: Any, result: dict[str, np.ndarray], hop: int, sr: int, meta: dict[str, Any]) -> None:
    from rlimpro.crossadaptive.log import CrossLog

    log = CrossLog(path, n_params=result["params"].shape[1])
    try:
        for i in range(ap.n_frames):
            log.add(frame=i, time=i * hop / sr, params=result["params"][i], source=ap.dry[i],
                    processed=result["processed"][i], target=ap.target[i])
    except BaseException:
        log.discard()
        raise
    log.close(meta)


def plot_curves(path: Path, curves: dict[str, tuple], *, title: str) -> None:
    """Loudness (dBFS) and centroid (Hz) of target (dashed), dry (grey) and processed (blue); up to 3 pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlimpro.descriptors.registry import descriptor_index

    names = list(curves)[:3]
    rows = (("loudness-dBFS", "loudness (dBFS)"), ("centroid", "centroid (Hz)"))
    fig, axes = plt.subplots(len(rows), len(names), figsize=(5 * len(names), 4.6), squeeze=False, sharex="col")
    for j, name in enumerate(names):
        t, target, dry, processed = curves[name]
        for i, (desc, label) in enumerate(rows):
            k = descriptor_index(desc)
            ax = axes[i][j]
            ax.plot(t, dry[:, k], color="0.7", lw=0.8, label="dry source")
            ax.plot(t, target[:, k], "--", color="0.2", lw=0.9, label="target")
            ax.plot(t, processed[:, k], color="C0", lw=0.9, label="processed")
            if j == 0:
                ax.set_ylabel(label)
            if i == 0:
                ax.set_title(name, fontsize=9)
        axes[-1][j].set_xlabel("time (s)")
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Printable lines: per pair and overall RMSE of agent, random and dry, and the ratios."""
    lines = [f"{'pair':<28} {'frames':>6} {'agent':>8} {'random':>8} {'dry':>8} {'agent/dry':>10} {'agent/random':>13}"]
    for name, r in list(result["pairs"].items()) + [("all", {"frames": result["frames"], **result})]:
        m, q = r["rmse"], r["ratios"]
        lines.append(f"{name:<28} {r['frames']:>6} {m['agent']:>8.4f} {m['random']:>8.4f} {m['dry']:>8.4f} "
                     f"{q['agent_over_dry']:>10.3f} {q['agent_over_random']:>13.3f}")
    return lines
