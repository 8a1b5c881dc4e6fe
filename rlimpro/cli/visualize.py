"""``rlimpro visualize``: the timbre map of a synth's lookup table (map.png + map.html, coverage)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rlimpro.cli.app import app, info, stage_errors, warn, workspace


class Method(str, Enum):
    pca = "pca"
    tsne = "tsne"
    umap = "umap"


class AudioMode(str, Enum):
    auto = "auto"
    browser = "browser"
    embed = "embed"
    files = "files"


@app.command()
def visualize(
    synth: Annotated[str, typer.Option("--synth", "-s", help="Synth whose lookup table to map (synths/SYNTH/lookup.csv).")],
    features: Annotated[
        str | None,
        typer.Option("--features", "-f", help="Descriptor groups/names, comma-separated (default: all groups: loudness,mfcc,chroma,specshape,pitch)."),
    ] = None,
    method: Annotated[Method, typer.Option("--method", "-m", help="Projection: pca, tsne, or umap (needs umap-learn).")] = Method.pca,
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="Place this corpus's active frames on the map and report coverage.")] = None,
    run: Annotated[str | None, typer.Option("--run", "-r", help="Draw the agent trajectories of this run (path, run id or 'latest'); coverage over its reward.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Measure the coverage over this training config's reward.", dir_okay=False)] = None,
    color_by: Annotated[str, typer.Option("--color-by", help="Parameter (name or index) colouring the points.")] = "0",
    audio: Annotated[AudioMode, typer.Option("--audio", help="How the page plays a point: auto, browser (native engines), embed, files.")] = AudioMode.auto,
    audio_duration: Annotated[float, typer.Option("--audio-duration", help="Seconds per clip.")] = 0.5,
    coverage_threshold: Annotated[
        float | None, typer.Option("--coverage-threshold", help="Distance counted as reachable (default: 1 reward unit with --run/--config, else 0.5 RMS z-score).")
    ] = None,
    perplexity: Annotated[float, typer.Option("--perplexity", help="t-SNE perplexity.")] = 30.0,
    seed: Annotated[int, typer.Option("--seed", help="Random state of t-SNE / UMAP.")] = 0,
) -> None:
    """Write synths/SYNTH/map.png and map.html: the lookup table's timbre map, to look at and listen to."""
    from rlimpro.visualize import visualize as run_visualize

    with stage_errors("visualize"):
        names = [f.strip() for f in features.replace(" ", ",").split(",") if f.strip()] if features is not None else None
        result = run_visualize(
            synth=synth,
            workspace=workspace(),
            features=names,
            method=method.value,
            corpus=corpus,
            run=run,
            config=config,
            color_by=color_by,
            audio=audio.value,
            audio_duration=audio_duration,
            coverage_threshold=coverage_threshold,
            perplexity=perplexity,
            seed=seed,
        )
    for w in result.warnings:
        warn(w)
    info(f"wrote {result.png} and {result.html} ({result.rows:,} grid points, {result.method}, {result.seconds:.1f} s)")
    if result.audio_dir is not None:
        info(f"clips for the page in {result.audio_dir}/ (keep the folder beside map.html)")
    if result.coverage is not None:
        c = result.coverage
        from rlimpro.visualize import describe_features

        info(
            f"coverage of corpus '{corpus}': {100 * c['coverage']:.1f} % of {c['frames']:,} active frames lie within "
            f"{c['threshold']:g} ({c['distance_unit']}) of a grid point, over {describe_features(c['features'])}; "
            f"mean nearest distance {c['distance']['mean']:.3f} -> {result.coverage_path}"
        )
        if c["cannot_vary"]:
            info(f"the synth cannot vary {describe_features(c['cannot_vary'])}: left out, not counted as misses")
        for g, v in c.get("per_group", {}).items():
            info(f"  {g}: {100 * v['coverage']:.1f} % ({', '.join(v['descriptors'])})")
    if result.trajectories:
        n = result.trajectories
        info(f"drew {n} agent trajector{'y' if n == 1 else 'ies'}")
