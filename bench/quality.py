"""The quality benchmark: does the agent follow a musician it never heard, better than what a user
would use instead?

    python -m bench.quality                  # sine, fm and granular (about 15 minutes on 2 cores)
    python -m bench.quality fm               # one synth
    python -m bench.quality --no-prototype   # skip the prototype's recipe (DQN, discrete actions)

In a fresh workspace ``bench/out/quality`` (emptied first):

1. the real-instrument recordings of :mod:`bench.instruments` (fluidsynth + FluidR3 GM: melodies
   written in code, played by sampled instruments), analyzed with ``rlimpro analyze-corpus``;
2. for each synth, its lookup table and the *shipped* config (``configs/<synth>.yaml``) pointed at those
   recordings, holding out whole instruments (flute, violin, clarinet, guitar: never trained on), then
   ``rlimpro train`` and ``rlimpro evaluate`` (the final model: no model is picked on the held-out
   files);
3. the prototype's recipe beside it: the same config with DQN, discrete actions of ``step_size`` 0.05,
   distances in table standard deviations and no error or goal observation (rlimpro 0.1, as in the paper),
   trained for at most :data:`PROTOTYPE_STEPS` steps;
4. a rehearsal (``rlimpro live --input <held-out file> --output take.wav --fast``) of each agent with the
   default silence behaviour, and the take's level from 150 ms after the musician goes silent until
   they play again.

Printed: per synth and player, on audio rendered by the real synth, the distance over the follower's
and over the best fixed setting's (each run's own metric, so the ratios compare across runs), the
pitch error in semitones and the pitch and loudness correlations (``rlimpro.descriptors.units``), the
movement per hop; then each acceptance line of the follow-the-musician issue with PASS or FAIL.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out" / "quality"
SYNTHS = ("sine", "fm", "granular")
SILENCE_AFTER_S = 0.150
SILENCE_LEVEL_DB = -60.0
#: acceptance: (pitch error ceiling in semitones, pitch correlation floor, loudness correlation floor)
PITCH_TARGETS = {"sine": (0.3, 0.95, 0.8), "fm": (0.5, 0.9, None), "granular": (None, 0.8, None)}
RATIO_FOLLOWER, RATIO_FIXED, RATIO_MOVEMENT = 0.85, 0.7, 0.3
PROTOTYPE_STEPS = 300_000  #: the prototype's training length (at most), so the benchmark stays under 30 minutes


def prepare_workspace(ws: Path) -> None:
    """The instrument recordings and their analysis."""
    from bench.instruments import make_corpus
    from rlimpro.corpus import analyze_corpus

    make_corpus(ws)
    analyze_corpus(corpus="instruments", workspace=ws, show_progress=False)


def bench_config(synth: str, ws: Path, *, prototype: bool = False) -> Path:
    """The shipped config of ``synth`` pointed at the instrument corpus (whole instruments held out),
    written to ``ws/configs``; the prototype's recipe with ``prototype``."""
    from bench.instruments import CORPUS, held_out_files

    data = yaml.safe_load((ROOT / "configs" / f"{synth}.yaml").read_text())
    data.update(corpus=CORPUS, held_out_files=held_out_files(), eval_freq=0, checkpoint_freq=0)
    data.pop("held_out_fraction", None)
    name = synth
    if prototype:
        data.update(algorithm="DQN", action_type="discrete", step_size=0.05, distance_units="table",
                    observe_error=False, observe_goal=False, movement_penalty=0.0, algorithm_kwargs={})
        data["algorithm_kwargs"] = {"learning_starts": 1000, "exploration_fraction": 0.3}
        data["timesteps"] = min(int(data.get("timesteps", 100_000)), PROTOTYPE_STEPS)
        name = f"{synth}-prototype"
    path = ws / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_lookup(synth: str, config: Path, ws: Path) -> None:
    from rlimpro.lookup import compute_lookup
    from rlimpro.train_config import load_config

    c = load_config(config)
    compute_lookup(synth=synth, workspace=ws, subdiv=c.lookup.subdiv or 10, n_params=c.lookup.params, show_progress=False)


def rehearsal_silence(run: Path, synth: str, ws: Path, *, file: str) -> dict[str, Any]:
    """Rehearse ``file`` with the run (default silence behaviour) and measure the take during rests.

    Returns the loudest output frame (dBFS) from :data:`SILENCE_AFTER_S` after each of the musician's
    rests begins until they play again, and the number of rests measured.
    """
    import numpy as np
    import soundfile as sf

    from rlimpro.corpus import SILENCE_THRESHOLD_DB
    from rlimpro.descriptors import AnalysisSettings
    from rlimpro.live.session import run_live

    audio_in = ws / "corpora" / "instruments" / "audio" / f"{file}.wav"
    take = ws / f"take-{synth}-{file}.wav"
    run_live(synth=synth, model=str(run), workspace=ws, input=str(audio_in), outputs=[str(take)], fast=True,
             realtime=False, log=ws / f"take-{synth}-{file}.csv")
    settings = AnalysisSettings()
    musician, _ = sf.read(str(audio_in), dtype="float64")
    output, _ = sf.read(str(take), dtype="float64")
    hop, win = settings.hop, settings.window
    n = min(len(musician), len(output)) // hop
    # the live rule: unsmoothed RMS over the analysis window ending at each hop
    def level(x: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.zeros(win - hop), x[: n * hop]])
        frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]
        return 20 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-6))

    active = level(musician) > SILENCE_THRESHOLD_DB
    out_db = level(output)
    after = int(np.ceil(SILENCE_AFTER_S * settings.sample_rate / hop))
    worst, rests, t = -120.0, 0, 1
    while t < n:
        if active[t - 1] and not active[t]:
            end = t
            while end < n and not active[end]:
                end += 1
            if end - t > after:
                rests += 1
                worst = max(worst, float(out_db[t + after : end].max()))
            t = end
        t += 1
    return {"loudest_db": worst, "rests": rests, "take": str(take)}


def _fmt(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def run_synth(synth: str, ws: Path, *, prototype: bool) -> dict[str, Any]:
    """Train and evaluate the shipped recipe (and the prototype's) for one synth."""
    from bench.instruments import held_out_files
    from rlimpro.evaluate import evaluate_run
    from rlimpro.train import train

    out: dict[str, Any] = {}
    cfg = bench_config(synth, ws)
    t0 = time.perf_counter()
    make_lookup(synth, cfg, ws)
    out["lookup_s"] = time.perf_counter() - t0
    for kind in ("agent", "prototype") if prototype else ("agent",):
        path = cfg if kind == "agent" else bench_config(synth, ws, prototype=True)
        t0 = time.perf_counter()
        run = train(config_path=path, workspace=ws, show_progress=False, evaluate=False, command=f"bench.quality {synth}")
        out[f"{kind}_train_s"] = time.perf_counter() - t0
        out[kind] = evaluate_run(run, workspace=ws, show_progress=False, final=True)
        out[f"{kind}_run"] = str(run)
        if kind == "agent":
            out["silence"] = rehearsal_silence(run, synth, ws, file=held_out_files()[0])
    return out


def report(synth: str, res: dict[str, Any]) -> tuple[list[str], list[tuple[str, bool]]]:
    """Lines of the table and the acceptance checks of one synth."""
    agent = res["agent"]
    r = agent["rendered"]
    pitch = next((n for n in ("pitch-midi", "pitch-hz") if n in agent["features_reward"]), None)
    loud = "loudness-dBFS" if "loudness-dBFS" in agent["features_reward"] else None
    lines = [f"{synth}: reward {', '.join(agent['features_reward'])}; {agent['frames']} held-out frames "
             f"({', '.join(agent['files_evaluated'][:1])} …); lookup {res['lookup_s']:.0f} s, training {res['agent_train_s']:.0f} s"
             + (f" (prototype {res['prototype_train_s']:.0f} s)" if "prototype" in res else "")]
    head = f"  {'player':24s} {'÷follower':>9s} {'÷fixed':>7s} {'pitch st':>8s} {'pitch r':>7s} {'loud r':>7s} {'move/hop':>8s}"
    lines.append(head)

    def row(label: str, block: dict[str, Any], player: str) -> str:
        ratios = block["ratios"]
        rf = ratios.get("agent_over_follower") if player == "agent" else _ratio(block, player, "follower")
        rx = ratios.get("agent_over_fixed") if player == "agent" else _ratio(block, player, "fixed")
        return (f"  {label:24s} {_fmt(rf, 2):>9s} {_fmt(rx, 2):>7s} "
                f"{_fmt(block['units'].get(player, {}).get(pitch) if pitch else None, 2):>8s} "
                f"{_fmt(block['correlation'].get(player, {}).get(pitch) if pitch else None):>7s} "
                f"{_fmt(block['correlation'].get(player, {}).get(loud) if loud else None):>7s} "
                f"{_fmt(block['movement'].get(player), 4):>8s}")

    lines.append(row("agent (shipped config)", r, "agent"))
    if "prototype" in res:
        lines.append(row("prototype (DQN, discrete)", res["prototype"]["rendered"], "agent"))
    for p in ("follower", "follower_smooth", "fixed"):
        lines.append(row(p, r, p))
    checks: list[tuple[str, bool]] = []
    rf, rx = r["ratios"]["agent_over_follower"], r["ratios"]["agent_over_fixed"]
    mv = r["movement"]["agent"] / r["movement"]["follower"] if r["movement"]["follower"] else None
    checks.append((f"{synth}: rendered agent ÷ follower {_fmt(rf, 2)} <= {RATIO_FOLLOWER}", rf is not None and rf <= RATIO_FOLLOWER))
    checks.append((f"{synth}: rendered agent ÷ fixed {_fmt(rx, 2)} <= {RATIO_FIXED}", rx is not None and rx <= RATIO_FIXED))
    checks.append((f"{synth}: movement agent ÷ follower {_fmt(mv, 2)} <= {RATIO_MOVEMENT}", mv is not None and mv <= RATIO_MOVEMENT))
    err_max, corr_min, loud_min = PITCH_TARGETS[synth]
    if pitch:
        err = r["units"]["agent"].get(pitch)
        corr = r["correlation"]["agent"].get(pitch)
        if err_max is not None:
            checks.append((f"{synth}: pitch error {_fmt(err, 2)} st <= {err_max}", err is not None and err <= err_max))
        checks.append((f"{synth}: pitch correlation {_fmt(corr)} >= {corr_min}", corr is not None and corr >= corr_min))
    if loud_min is not None and loud:
        lc = r["correlation"]["agent"].get(loud)
        checks.append((f"{synth}: loudness correlation {_fmt(lc)} >= {loud_min}", lc is not None and lc >= loud_min))
    s = res["silence"]
    checks.append((f"{synth}: rehearsal output {s['loudest_db']:.1f} dBFS at most, from {SILENCE_AFTER_S * 1000:.0f} ms into "
                   f"each of {s['rests']} rests, < {SILENCE_LEVEL_DB:.0f}", s["rests"] > 0 and s["loudest_db"] < SILENCE_LEVEL_DB))
    return lines, checks


def _ratio(block: dict[str, Any], player: str, base: str) -> float | None:
    a, b = block["rmse"].get(player), block["rmse"].get(base)
    return None if a is None or not b else a / b


def main(argv: list[str]) -> int:
    prototype = "--no-prototype" not in argv
    synths = [a for a in argv if not a.startswith("--")] or list(SYNTHS)
    unknown = [s for s in synths if s not in SYNTHS]
    if unknown:
        print(f"unknown synths {', '.join(unknown)}; choose from {', '.join(SYNTHS)}", file=sys.stderr)
        return 2
    from bench.instruments import check_available

    reason = check_available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    prepare_workspace(OUT)
    results, all_checks = {}, []
    for synth in synths:
        results[synth] = run_synth(synth, OUT, prototype=prototype)
        lines, checks = report(synth, results[synth])
        print("\n".join(lines), flush=True)
        all_checks += checks
    print(f"\nacceptance (held-out instruments, audio rendered by the real synth; {time.perf_counter() - t0:.0f} s in all):")
    for text, ok in all_checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    (OUT / "results.json").write_text(json.dumps({"results": results, "checks": all_checks}, indent=1, default=str))
    return 0 if all(ok for _, ok in all_checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
