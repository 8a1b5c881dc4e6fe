"""``rlimpro train CONFIG.yaml``: train an agent; the run directory goes under synths/<synth>/models/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlimpro.cli.app import (
    EXIT_INTERRUPTED,
    app,
    err_console,
    info,
    out_console,
    stage_errors,
    warn,
    workspace,
)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML), e.g. configs/fm.yaml.", dir_okay=False)],
    timesteps: Annotated[int | None, typer.Option("--timesteps", "-t", help="Override the config's timesteps.", min=1)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the config's seed.")] = None,
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the evaluation on held-out files at the end.")] = False,
) -> None:
    """Train an agent on the lookup table and corpus named in CONFIG; Ctrl-C saves the model and stops.

    Writes synths/SYNTH/models/YYYYmmdd-HHMMSS-ALGO/ (final and best model, checkpoints, TensorBoard logs,
    resolved config, command line) and, unless --no-eval, evaluation.json on the held-out files.
    """
    import shlex

    from rlimpro.train import TrainingInterrupted
    from rlimpro.train import train as train_fn

    root = workspace()
    command = ["rlimpro", "--root", str(root), "train", str(config)]
    command += ["--timesteps", str(timesteps)] if timesteps is not None else []
    command += ["--seed", str(seed)] if seed is not None else []
    command += ["--no-eval"] if no_eval else []
    from rlimpro.cli import crossadaptive as xa

    if xa.is_cross_config(config):  # task: cross-adaptive
        with stage_errors("train"):
            xa.train(config=config, workspace=root, timesteps=timesteps, seed=seed, evaluate=not no_eval,
                     command=shlex.join(command))
        return
    with stage_errors("train"):
        try:
            run = train_fn(
                config_path=config,
                workspace=root,
                timesteps=timesteps,
                seed=seed,
                evaluate=not no_eval,
                command=shlex.join(command),
            )
        except TrainingInterrupted as exc:
            err_console.print(
                f"[yellow]training interrupted[/] after {exc.timesteps} steps; model saved to {exc.run / 'final_model.zip'}"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    from rlimpro.runs import EVALUATION, read_run_json

    meta = read_run_json(run)
    rate = meta.get("steps_per_second")
    info(f"trained {meta['steps']} steps in {meta['seconds']:.1f} s ({rate:.0f} steps/s) -> {run}")
    evaluation = run / EVALUATION
    if evaluation.is_file():
        import json

        from rlimpro.evaluate import summary_table

        out_console.print(summary_table(json.loads(evaluation.read_text())))
        if meta.get("held_out_files"):
            info(f"evaluated on the held-out files {', '.join(meta['held_out_files'])} (never trained on)")
    elif not meta.get("held_out_files"):
        warn("no held-out files (held_out_fraction 0): evaluate with `rlimpro evaluate RUN --files ...`")
    if meta.get("task", "imitate") in ("match", "sequence"):
        info(f"listen: {run / 'audio'} (the agent's sounds beside their targets)")
    else:
        info(f"next: rlimpro live --synth {meta['synth']} --model {run.name}")
