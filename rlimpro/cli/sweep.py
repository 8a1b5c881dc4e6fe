"""``rlimpro sweep SWEEP.yaml``: many trainings over a search space, run with Ray Tune, ranked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlimpro.cli.app import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    RAY_SOCKETS_WARNING,
    app,
    err_console,
    info,
    out_console,
    stage_errors,
    warn,
    workspace,
)


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep file (YAML), e.g. configs/sweep-example.yaml.", dir_okay=False)],
    ray: Annotated[
        str,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="'local' (a Ray instance on this machine) or HOST:PORT of a Ray cluster's head "
            "(the workspace must be on a file system every node shares).",
        ),
    ] = "local",
) -> None:
    r"""Train one run per trial of SWEEP_FILE's search space with Ray Tune; rank them by held-out evaluation.

    Writes sweeps/NAME/ (plan, trial configs, ledger, summary.csv) and one run directory per trial under
    synths/SYNTH/models/. Running the same sweep again resumes: finished trials are not run again.
    Needs pip install 'rlimpro\[ray]'.
    """
    import shlex

    from rlimpro.sweep import run_sweep, summary_table

    root = workspace()
    command = shlex.join(["rlimpro", "--root", str(root), "sweep", str(sweep_file), "--ray", ray])
    warn(RAY_SOCKETS_WARNING)
    with stage_errors("sweep"):
        result = run_sweep(sweep_path=sweep_file, workspace=root, ray_address=ray, command=command)
    out_console.print(summary_table(result))
    resumed = f"; {result.resumed} finished before and not run again" if result.resumed else ""
    info(f"{result.done} of {result.total} trials done{resumed}; summary: {result.summary}")
    crashed = [r["trial"] for r in result.rows if r["status"] == "crashed"]
    if crashed:
        err_console.print(f"[red]error:[/] trials {', '.join(crashed)} crashed; run the same command to retry them")
        raise typer.Exit(EXIT_ERROR)
    if result.interrupted:
        err_console.print("[yellow]sweep interrupted[/]; finished trials are kept, run the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED)

