"""``rlimpro evaluate RUN``: score a trained agent on held-out corpus files, or score a session log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlimpro.cli.app import app, info, out_console, stage_errors, warn, workspace


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="The run: 'latest', a run id (with --synth), or a path to a run folder.")],
    synth: Annotated[str | None, typer.Option("--synth", "-s", help="Synth whose runs 'latest' and run ids refer to.")] = None,
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="Corpus to play (default: the run's).")] = None,
    files: Annotated[list[str] | None, typer.Option("--files", "-f", help="File stems to play (repeat or comma-separate; default: the held-out files).")] = None,
    log: Annotated[Path | None, typer.Option("--log", help="Score this session log (CSV from rlimpro live) instead.", dir_okay=False)] = None,
    final: Annotated[bool, typer.Option("--final", help="Evaluate final_model.zip instead of best_model.zip.")] = False,
    render: Annotated[bool, typer.Option("--render", help="Also score a Pure Data synth's rendered sound (native synths always are).")] = False,
    task: Annotated[str | None, typer.Option("--task", help="cross-adaptive: RUN is under crossadaptive/models (found by "
                                            "itself when RUN is a path); --files then names pairs.")] = None,
) -> None:
    """Play corpus files through the agent; write evaluation.json, evaluation.png and trajectories/ in the run.

    The agent, the nearest-neighbour follower (and its movement-limited kin), the best fixed setting and a random
    policy, each scored on the lookup model and on its trajectory rendered by the real synth: the reward's distance,
    each reward descriptor's error in semitones / dB, and the movement per hop. With --log, score a session log.
    """
    from rlimpro.runs import resolve_run, unfinished_warning

    root = workspace()
    from rlimpro.cli import crossadaptive as xa

    if task is not None or xa.is_cross_run_arg(run, workspace=root):  # task: cross-adaptive
        with stage_errors("evaluate"):
            xa.check_evaluate_options(task=task, synth=synth, corpus=corpus, log=log, render=render)
            pairs = [s.strip() for f in files or [] for s in f.split(",") if s.strip()] or None
            xa.evaluate(run=run, workspace=root, pairs=pairs, final=final)
        return
    with stage_errors("evaluate"):
        run_dir = resolve_run(run, synth=synth, workspace=root)
        note = unfinished_warning(run_dir)
        if note:
            warn(note)
        if log is not None:
            if corpus or files:
                from rlimpro.errors import ParameterError

                raise ParameterError("--log scores a session log; it does not take --corpus or --files")
            from rlimpro.evaluate import score_log

            result = score_log(run_dir, log)
            r, q = result["rmse"], result["ratios"]
            info(
                f"{log}: {result['frames_scored']} of {result['frames']} frames scored (silent frames left out); "
                f"distance agent {r['agent']:.4f}, fixed {r['fixed']:.4f}, floor {r['floor']:.4f}; "
                f"agent/floor {q['agent_over_floor']:.3f}"
            )
            return
        from rlimpro.evaluate import evaluate_run, files_table, summary_table

        names = [s.strip() for f in files or [] for s in f.split(",") if s.strip()] or None
        result = evaluate_run(run_dir, workspace=root, corpus=corpus, files=names, final=final, render=render or None)
    out_console.print(summary_table(result))
    if result.get("files") and not result.get("task"):
        out_console.print(files_table(result))
    for w in result.get("warnings", []):
        warn(w)
    info(f"wrote {run_dir / 'evaluation.json'}, evaluation.png and trajectories/")
