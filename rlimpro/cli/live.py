"""``rlimpro live``: the trained agent listening and playing in real time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlimpro.cli.app import app, err_console, info, stage_errors, warn, workspace


@app.command()
def live(
    synth: Annotated[str | None, typer.Option("--synth", "-s", help="Synth name (the run must be of this synth); "
                                              "not with --task cross-adaptive.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="latest, a run id, a run folder or a model zip.")] = "latest",
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", help="Audio FILE (rehearsal), osc[:PORT] (descriptor frames), "
                     "or device[:NAME] (default: the audio input device)."),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option("--output", "-o", help="FILE.wav, device[:NAME], osc://HOST:PORT, pd, supercollider or "
                     "midi[:PORT]; repeat for several "
                     "(default: the audio device; with OSC input, replies to the sender)."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Play --input FILE as fast as possible (offline rehearsal).")] = False,
    mix: Annotated[bool, typer.Option("--mix", help="Add the musician as a second channel of the output file.")] = False,
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Session log CSV (default: <run>/sessions/<time>.csv); score it with "
                     "rlimpro evaluate RUN --log FILE."),
    ] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after SEC seconds.", min=0.0)] = None,
    features: Annotated[
        bool, typer.Option("--features", help="Also send /rlimpro/features with /rlimpro/params to OSC outputs.")
    ] = False,
    realtime: Annotated[
        bool, typer.Option("--rt/--no-rt", help="Real-time (SCHED_FIFO) priority for the decision loop when permitted.")
    ] = True,
    task: Annotated[str | None, typer.Option("--task", help="cross-adaptive: effects on --input follow --target "
                                            "(a run under crossadaptive/models); default: the synth follows the musician.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="--task cross-adaptive: the musician to follow, an "
                                               "audio FILE beside --input FILE (rehearsal).")] = None,
    midi_cc: Annotated[str | None, typer.Option("--midi-cc", help="--output midi: the CC number of each parameter, "
                                                "e.g. 74,71,1 (default: synth.yaml's midi.ccs).")] = None,
    midi_channel: Annotated[int | None, typer.Option("--midi-channel", help="--output midi: MIDI channel 1..16 "
                                                     "(default: synth.yaml's midi.channel, else 1).")] = None,
    channels: Annotated[str | None, typer.Option("--channels", help="--task cross-adaptive with --input device: the "
                                                 "input channels of source and target, e.g. 1,2 (default).")] = None,
) -> None:
    """Run the trained agent live: listen, decide once per hop, play. Ctrl-C stops cleanly (exit 0).

    Examples: rehearse on a file as fast as possible, keeping the audio and the log:
    rlimpro live --synth fm --model latest --input corpora/demo/audio/07-pluck-minor.wav --output out.wav --fast;
    listen to the audio input and play the synth on the output device: rlimpro live --synth fm;
    answer descriptor frames from another program: rlimpro live --synth fm --input osc:9000;
    cross-adaptive rehearsal: rlimpro live --task cross-adaptive --input SRC.wav --target TGT.wav --output out.wav --fast.
    """
    import signal
    import threading

    from rlimpro.live.session import run_live

    def ready(state: dict) -> None:
        if state.get("osc_port") is not None:
            info(f"listening for /rlimpro/target on udp port {state['osc_port']}")
        if state.get("device_rate"):
            info(f"audio device running at {state['device_rate']} Hz")
        if not fast:
            err_console.print("[dim]live; press Ctrl-C to stop[/]")

    def terminate(signum: int, frame: object) -> None:  # SIGTERM stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminate) if main_thread else None
    try:
        with stage_errors("live"):
            from rlimpro.cli import crossadaptive as xa

            if task is not None or target is not None or channels is not None:  # task: cross-adaptive
                xa.check_live_options(task=task, synth=synth)
                xa.live(model=model, workspace=workspace(), input=input, target=target, outputs=output or [],
                        channels=channels, fast=fast, mix=mix, log=log, duration=duration, features=features,
                        realtime=realtime, ready=ready)
                return
            if synth is None:
                from rlimpro.errors import ParameterError

                raise ParameterError("--synth is required: the synth the agent plays, e.g. --synth fm "
                                     "(or --task cross-adaptive to process one musician by another)")
            ccs = None
            if midi_cc is not None:
                from rlimpro.midi.cc import parse_ccs

                ccs = parse_ccs(midi_cc)  # their count is checked against the synth's when the session starts
            result = run_live(
                midi_ccs=ccs,
                midi_channel=midi_channel,
                synth=synth,
                model=model,
                workspace=workspace(),
                input=input,
                outputs=output or [],
                fast=fast,
                mix=mix,
                log=log,
                duration=duration,
                send_features=features,
                realtime=realtime,
                on_ready=ready,
            )
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    _report(result)


def _report(result) -> None:  # noqa: ANN001 - a LiveResult
    """The closing lines: warnings, OSC counters, files written, latency."""
    from rlimpro.live.latency import format_summary

    meta = result.meta
    inp = meta.get("input", {})
    scheduling = str(meta.get("scheduling", ""))
    if scheduling.startswith("not permitted"):
        warn(f"real-time priority {scheduling}; decisions may wait for the CPU on a busy machine")
    if inp.get("late_hops"):
        warn(f"{inp['late_hops']} hops were processed more than a hop late (machine busy)")
    if inp.get("overflows"):
        warn(f"{inp['overflows']} input blocks were dropped (the agent fell behind the audio device)")
    osc = inp.get("osc")
    if osc:
        info(
            f"osc: {osc['valid']} valid frames, {osc['used']} answered, {osc['superseded']} superseded by newer ones, "
            f"{osc['ignored']} ignored (malformed {osc['malformed']}, unknown address {osc['unknown_address']}, "
            f"wrong length {osc['wrong_length']}, wrong type {osc['wrong_type']}, NaN/inf {osc['not_finite']})"
        )
    for out in meta.get("outputs", []):
        if out.get("kind") == "file":
            info(f"wrote {out['path']} ({out['frames'] / out['sample_rate']:.2f} s, {out['channels']} channel(s))")
    info(
        f"session log {result.log} ({result.rows} frames: {meta.get('decisions', 0)} decisions, "
        f"{meta.get('held_silent', 0)} silent frames held)"
    )
    info(format_summary(result.latency))
    if result.stopped_by == "interrupted":
        info("stopped (Ctrl-C); everything is saved")
