"""The cross-adaptive task inside ``rlimpro train``, ``rlimpro evaluate`` and ``rlimpro live``.

The stage commands stay the ones a user knows; with ``task: cross-adaptive`` in the config
(``train``), a cross-adaptive run (``evaluate``) or ``--task cross-adaptive`` (``live``) they call
these functions, which call the plain functions of :mod:`rlimpro.crossadaptive` and print the results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from rlimpro.cli.app import EXIT_INTERRUPTED, err_console, info, warn

TASK = "cross-adaptive"


def is_cross_config(path: Path) -> bool:
    """Whether the YAML at ``path`` says ``task: cross-adaptive`` (False when it cannot be read: the
    normal loader then reports why)."""
    from rlimpro.crossadaptive.config import config_task
    from rlimpro.errors import RlimproError

    try:
        return config_task(Path(path)) == TASK
    except RlimproError:
        return False


def is_cross_run_arg(run: str, *, workspace: Path) -> bool:
    """Whether ``run`` (as given to ``evaluate``) is a path to a cross-adaptive run folder or model zip."""
    from rlimpro.crossadaptive.runs import is_cross_run

    path = Path(run).expanduser()
    path = path if path.is_absolute() else workspace / path
    if path.suffix == ".zip":
        path = path.parent
    return path.is_dir() and is_cross_run(path)


def train(*, config: Path, workspace: Path, timesteps: int | None, seed: int | None, evaluate: bool, command: str) -> None:
    """``rlimpro train CONFIG`` for a cross-adaptive config: train, print the evaluation, say what next."""
    from rlimpro.crossadaptive.evaluate import summary_lines
    from rlimpro.crossadaptive.train import train_cross_adaptive
    from rlimpro.runs import EVALUATION, read_run_json
    from rlimpro.train import TrainingInterrupted

    try:
        run = train_cross_adaptive(config_path=config, workspace=workspace, timesteps=timesteps, seed=seed,
                                   evaluate=evaluate, command=command)
    except TrainingInterrupted as exc:
        err_console.print(f"[yellow]training interrupted[/] after {exc.timesteps} steps; model saved to {exc.run / 'final_model.zip'}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    meta = read_run_json(run)
    info(f"trained {meta['steps']} steps in {meta['seconds']:.1f} s ({meta['steps_per_second']:.0f} steps/s) -> {run}")
    if (run / EVALUATION).is_file():
        for line in summary_lines(json.loads((run / EVALUATION).read_text())):
            info(line)
        info(f"listen: {run / 'evaluation'}/<pair>/processed.wav beside source.wav and target.wav")
    info(f"next: rlimpro live --task cross-adaptive --model {run.name} --input SRC.wav --target TGT.wav --output out.wav")


def evaluate(*, run: str, workspace: Path, pairs: list[str] | None, final: bool = False) -> None:
    """``rlimpro evaluate RUN`` for a cross-adaptive run."""
    from rlimpro.crossadaptive.evaluate import evaluate_cross_run, summary_lines
    from rlimpro.crossadaptive.runs import resolve_run

    run_dir = resolve_run(run, workspace=workspace)
    result = evaluate_cross_run(run_dir, workspace=workspace, pairs=pairs, final=final)
    for line in summary_lines(result):
        info(line)
    info(f"wrote {run_dir / 'evaluation.json'}, evaluation.png and evaluation/<pair>/ (audio, trajectory)")


def live(*, model: str, workspace: Path, input: str | None, target: str | None, outputs: list[str], channels: str | None,
         fast: bool, mix: bool, log: Path | None, duration: float | None, features: bool, realtime: bool, ready: Any,
         stop: Any = None) -> None:
    """``rlimpro live --task cross-adaptive``: run the session and print its closing lines."""
    from rlimpro.crossadaptive.live import run_cross_live
    from rlimpro.live.latency import format_summary

    result = run_cross_live(model=model, workspace=workspace, input=input, target=target, outputs=outputs,
                            channels=channels, fast=fast, mix=mix, log=log, duration=duration, send_features=features,
                            realtime=realtime, on_ready=ready, stop=stop)
    meta = result.meta
    inp = meta.get("input", {})
    if str(meta.get("scheduling", "")).startswith("not permitted"):
        warn(f"real-time priority {meta['scheduling']}; decisions may wait for the CPU on a busy machine")
    if inp.get("late_hops"):
        warn(f"{inp['late_hops']} hops were processed more than a hop late (machine busy)")
    if inp.get("overflows"):
        warn(f"{inp['overflows']} input blocks were dropped (the agent fell behind the audio device)")
    for out in meta.get("outputs", []):
        if out.get("kind") == "file" and not out.get("error"):
            info(f"wrote {out['path']} ({out['frames'] / out['sample_rate']:.2f} s, {out['channels']} channel(s))")
        elif out.get("kind") == "device" and out.get("underruns"):
            warn(f"{out['underruns']} output blocks played silence (the processed audio came late)")
    info(f"session log {result.log} ({result.rows} frames of source, target and processed audio, paired by time)")
    info(format_summary(result.latency))
    if result.stopped_by == "interrupted":
        info("stopped (Ctrl-C); everything is saved")


def check_evaluate_options(*, task: str | None, synth: str | None, corpus: str | None, log: Path | None,
                           render: bool = False) -> None:
    """Refuse ``evaluate`` options that do not apply to a cross-adaptive run.

    Raises
    ------
    ParameterError
    """
    from rlimpro.errors import ParameterError

    if task is not None and task != TASK:
        raise ParameterError(f"--task {task}: evaluate takes --task {TASK} (other runs are found by RUN and --synth)")
    for name, value in (("--synth", synth), ("--corpus", corpus), ("--log", log), ("--render", render or None)):
        if value is not None:
            raise ParameterError(f"{name} does not apply to a cross-adaptive run; its material is in its config "
                                 "(--files names pairs to evaluate on)")


def check_live_options(*, task: str | None, synth: str | None) -> None:
    """Refuse ``live`` options that do not fit ``--task cross-adaptive``.

    Raises
    ------
    ParameterError
    """
    from rlimpro.errors import ParameterError

    if task != TASK:
        raise ParameterError(f"--task {task}: live takes --task {TASK} (effects on --input follow --target); "
                             "--target and --channels belong to it" if task is not None else
                             f"--target and --channels belong to --task {TASK}")
    if synth is not None:
        raise ParameterError(f"--synth does not apply to --task {TASK}: the agent controls the effect chain its run "
                             "was trained with")
