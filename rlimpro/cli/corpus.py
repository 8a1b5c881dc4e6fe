"""``rlimpro analyze-corpus`` and ``rlimpro make-demo-corpus``: the musician's side of the pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from rlimpro.cli.app import app, info, stage_errors, warn, workspace


@app.command("analyze-corpus")
def analyze_corpus_cmd(
    corpus: Annotated[str, typer.Option("--corpus", "-c", help="Corpus name: the folder corpora/NAME/ with audio/ inside.")],
    smooth: Annotated[int, typer.Option("--smooth", help="Rolling mean over this many frames (1 = none).")] = 1,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Processes (default: all cores).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-analyze every file, even unchanged ones.")] = False,
) -> None:
    """Describe every file of corpora/NAME/audio/ frame by frame; write corpora/NAME/features/*.csv + analysis.json.

    Reads wav, flac, ogg and aiff (mono mixdown, resampled to the analysis rate); unchanged files are skipped on a re-run. The corpus 'demo' is synthesized first when its audio folder is missing.
    """
    from rlimpro.corpus import analyze_corpus, audio_dir, check_arguments

    root = workspace()
    with stage_errors("analyze-corpus"):
        check_arguments(smooth=smooth, workers=workers)
        if corpus == "demo" and not audio_dir(corpus, workspace=root).is_dir():
            from rlimpro.demo_corpus import DEMO_FILES, make_demo_corpus

            folder = make_demo_corpus(workspace=root)
            seconds = sum(f.seconds for f in DEMO_FILES)
            info(f"created the demo corpus in {folder} ({len(DEMO_FILES)} files, {seconds:.0f} s, synthesized)")
        try:
            result = analyze_corpus(corpus=corpus, workspace=root, smooth=smooth, workers=workers, force=force)
        except Exception as exc:
            for w in getattr(getattr(exc, "result", None), "warnings", []):
                warn(w)
            raise
    for w in result.warnings:
        warn(w)
    for stem in result.removed:
        info(f"removed the table of {stem} (its audio file is gone)")
    n_files = len(result.files)
    if not result.analyzed:
        info(f"{result.features_dir} is up to date ({n_files} tables); use --force to re-analyze")
        return
    unchanged = f"; {len(result.skipped)} unchanged" if result.skipped else ""
    n = len(result.analyzed)
    info(
        f"analyzed {n} file{'s' if n != 1 else ''} ({result.audio_seconds:.1f} s of audio, {result.frames} frames) "
        f"in {result.seconds:.2f} s ({result.speed:.0f}x real time){unchanged} -> {result.features_dir}"
    )


@app.command("make-demo-corpus")
def make_demo_corpus_cmd(
    force: Annotated[bool, typer.Option("--force", help="Rewrite the files even if they exist.")] = False,
) -> None:
    """Synthesize the demo corpus (plucked-string and wind phrases, about a minute) into corpora/demo/audio/."""
    from rlimpro.demo_corpus import DEMO_FILES, demo_audio_dir, make_demo_corpus

    root = workspace()
    folder = demo_audio_dir(workspace=root)
    todo = len(DEMO_FILES) if force else sum(not (folder / f"{f.name}.wav").is_file() for f in DEMO_FILES)
    with stage_errors("make-demo-corpus"):
        make_demo_corpus(workspace=root, force=force)
    seconds = sum(f.seconds for f in DEMO_FILES)
    if todo:
        info(f"wrote {todo} of the {len(DEMO_FILES)} demo files ({seconds:.0f} s in all) to {folder}")
    else:
        info(f"the demo corpus is already in {folder} ({len(DEMO_FILES)} files); use --force to rewrite it")
    info("next: rlimpro analyze-corpus --corpus demo")
