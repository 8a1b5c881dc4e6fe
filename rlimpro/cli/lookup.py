"""``rlimpro lookup``: render a synth over a parameter grid and write its descriptor table."""

from __future__ import annotations

from typing import Annotated

import typer

from rlimpro.cli.app import RAY_SOCKETS_WARNING, app, info, stage_errors, warn, workspace


@app.command()
def lookup(
    synth: Annotated[str, typer.Option("--synth", "-s", help="Synth name: built-in (sine, fm, granular) or synths/<name>/.")],
    subdiv: Annotated[int, typer.Option("--subdiv", help="Grid points per parameter (>= 2, both ends of [0, 1]).")] = 10,
    params: Annotated[int | None, typer.Option("--params", "-n", help="Number of synth parameters (must match the synth).")] = None,
    duration: Annotated[float, typer.Option("--duration", help="Seconds rendered per grid point.")] = 1.0,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Processes (default: all cores).")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="Override the synth's engine: native, pd, faust, csound, supercollider or midi.")] = None,
    input: Annotated[str | None, typer.Option("--input", "-i", help="--engine midi: the audio input the synth "
                                              "is recorded from, device[:NAME] (default: the default input).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even if an up-to-date table exists (an interrupted "
                                        "run's saved chunks are still reused).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Start a lookup estimated at more than an hour or 8 GB "
                                      "of memory per worker without asking.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run the grid as Ray tasks: 'local' (a Ray instance on this machine) or HOST:PORT of a "
            "Ray cluster's head. Needs pip install 'rlimpro\\[ray]'.",
        ),
    ] = None,
) -> None:
    """Render SYNTH over linspace(0, 1, SUBDIV) per parameter; write synths/SYNTH/lookup.csv + lookup.json.

    A big lookup prints its points, estimated time and memory per worker first, and needs --yes above
    an hour or 8 GB per worker. Ctrl-C keeps the finished chunks: run the same command to resume.
    """
    from rlimpro.lookup import compute_lookup

    def estimated(est) -> None:  # noqa: ANN001 - a LookupEstimate
        info(f"lookup {synth}: {est.describe()}")
        if est.needs_confirmation and not yes:
            from rlimpro.errors import ParameterError

            raise ParameterError(
                f"lookup {synth} would take {est.describe().split(': ', 1)[1]}; add --yes to start it, "
                "or lower --subdiv, --params or --duration"
            )

    if ray is not None:
        warn(RAY_SOCKETS_WARNING)
    with stage_errors("lookup"):
        result = compute_lookup(
            synth=synth,
            workspace=workspace(),
            subdiv=subdiv,
            n_params=params,
            duration=duration,
            workers=workers,
            force=force,
            engine=engine,
            ray_address=ray,
            midi_input=input if input is not None or engine != "midi" else "device",
            on_plan=_announce,
            on_estimate=estimated,
        )
    for w in result.warnings:
        warn(w)
    if result.skipped:
        info(f"{result.path} is up to date ({result.rows} rows); use --force to recompute")
    else:
        rate = result.rows / result.seconds if result.seconds else float("inf")
        resumed = f", resumed {result.resumed_chunks} saved chunks" if result.resumed_chunks else ""
        info(f"wrote {result.path} ({result.rows} rows, {result.seconds:.1f} s, {rate:.0f} points/s{resumed})")


def _announce(rows: int, seconds: float | None) -> None:
    """Say up front how long a real-time recording will take."""
    if seconds is not None and rows:
        info(f"recording {rows} points in real time: about {seconds / 60:.1f} min "
             f"({seconds / rows:.2f} s per point); Ctrl-C stops, and the next run resumes")
