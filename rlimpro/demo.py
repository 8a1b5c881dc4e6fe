"""``python -m rlimpro.demo`` (``make demo``): the whole pipeline on the demo corpus, in a few minutes.

1. the demo corpus (synthesized in code) when ``corpora/demo/audio`` is missing;
2. the lookup table of the synth named in ``configs/demo.yaml`` (skipped when up to date);
3. ``analyze-corpus --corpus demo`` (unchanged files are skipped);
4. ``train configs/demo.yaml``;
5. ``evaluate`` on the held-out files (the agent, the nearest-neighbour follower, the best fixed setting
   and a random policy, each rendered by the real synth), the summary table and the headline: the
   agent's error over the follower's, and its pitch error in semitones.

The workspace is the current directory (or ``$RLIMPRO_ROOT``). ``configs/demo.yaml`` is read from
the workspace when it has one, else from the rlimpro source tree.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console

#: acceptance figures on the demo corpus's held-out files, on audio rendered by the real synth: the agent
#: must beat the nearest-neighbour follower and the best fixed setting
MAX_AGENT_OVER_FOLLOWER = 0.85
MAX_AGENT_OVER_FIXED = 0.7


def demo_config(workspace: Path) -> Path:
    """``<workspace>/configs/demo.yaml``, else the one shipped in the source tree."""
    from rlimpro.errors import NotFoundError

    for path in (workspace / "configs" / "demo.yaml", Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"):
        if path.is_file():
            return path
    raise NotFoundError(f"configs/demo.yaml not found in {workspace} or the rlimpro source tree")


def run_demo(*, workspace: Path, console: Console | None = None, show_progress: bool = True) -> dict:
    """Run the five steps; return the evaluation (evaluation.json's content) with ``timings`` (s) added.

    Raises
    ------
    RlimproError
        Any stage's error.
    """
    from rlimpro.corpus import analyze_corpus
    from rlimpro.demo_corpus import DEMO_CORPUS, demo_audio_dir, make_demo_corpus
    from rlimpro.evaluate import evaluate_run, summary_table
    from rlimpro.lookup import compute_lookup
    from rlimpro.train import train
    from rlimpro.train_config import load_config

    console = console or Console(stderr=True, highlight=False)
    config_path = demo_config(workspace)
    config = load_config(config_path)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    def step(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 2)
        console.print(f"[green]✓[/] {name} ({timings[name]:.1f} s)")

    t0 = time.perf_counter()
    if not demo_audio_dir(workspace=workspace).is_dir():
        make_demo_corpus(workspace=workspace)
    step("demo corpus", t0)

    t0 = time.perf_counter()
    result = compute_lookup(
        synth=config.synth,
        workspace=workspace,
        subdiv=config.lookup.subdiv or 20,
        n_params=config.lookup.params,
        show_progress=show_progress,
    )
    step(f"lookup {config.synth} ({result.rows} points{', up to date' if result.skipped else ''})", t0)

    t0 = time.perf_counter()
    analyze_corpus(corpus=DEMO_CORPUS, workspace=workspace, show_progress=show_progress)
    step("analyze-corpus demo", t0)

    t0 = time.perf_counter()
    run = train(config_path=config_path, workspace=workspace, show_progress=show_progress, evaluate=False,
                command=f"python -m rlimpro.demo  # rlimpro train {config_path}")
    step(f"train {config_path.name} -> {run}", t0)

    t0 = time.perf_counter()
    evaluation = evaluate_run(run, workspace=workspace, show_progress=show_progress)
    step("evaluate on the held-out files (every player rendered by the real synth)", t0)
    timings["total"] = round(time.perf_counter() - t_all, 2)

    Console(highlight=False).print(summary_table(evaluation))
    return {**evaluation, "timings": timings}


def main() -> int:
    """Entry point; returns the exit code."""
    from rlimpro.errors import RlimproError
    from rlimpro.workspace import root

    console = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    try:
        result = run_demo(workspace=root(), console=console)
    except RlimproError as exc:
        from rich.markup import escape

        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]demo interrupted[/]")
        return 130
    block = result.get("rendered") or result
    q = block["ratios"]
    h = result["headline"]
    ok_follower = q["agent_over_follower"] <= MAX_AGENT_OVER_FOLLOWER
    ok_fixed = q["agent_over_fixed"] <= MAX_AGENT_OVER_FIXED
    pitch = h.get("pitch_error_semitones")
    out.print(
        f"headline ({h['measured_on']}, held-out files): agent error = {q['agent_over_follower']:.2f} x the "
        f"nearest-neighbour follower's ({'≤' if ok_follower else '>'} {MAX_AGENT_OVER_FOLLOWER})"
        + (f", pitch {pitch:.2f} semitones off (median)" if pitch is not None else "")
        + f"; {q['agent_over_fixed']:.2f} x the best fixed setting ({'≤' if ok_fixed else '>'} {MAX_AGENT_OVER_FIXED})"
    )
    m = block["movement"]
    if m.get("follower"):
        out.print(f"the agent moves its parameters {m['agent'] / m['follower']:.2f} x as much as the follower per hop")
    stem = result["files_evaluated"][0]
    out.print(f"demo finished in {result['timings']['total']:.0f} s; listen (the musician on the right channel):\n"
              f"  .venv/bin/rlimpro live --synth {result['synth']} --model latest --input corpora/demo/audio/{stem}.wav "
              f"--output agent.wav --fast --mix")
    return 0 if ok_follower and ok_fixed else 1


if __name__ == "__main__":
    sys.exit(main())
