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
        typer.Option("--input", "-i", help="Audio FILE (rehearsal), osc[:PORT] (descriptor frames on 127.0.0.1; "
                     "osc:HOST:PORT or --listen HOST to open it to the network), "
                     "or device[:NAME] (default: the audio input device)."),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option("--listen", metavar="HOST", help="With --input osc: the interface to listen on, e.g. 0.0.0.0 "
                     "(all: anyone on the network can send frames; a warning is printed). Default 127.0.0.1."),
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
    from rlimpro.interrupts import deferred, stop_signals
    from rlimpro.live.session import run_live

    reports = BackgroundLines()

    def ready(state: dict) -> None:
        if state.get("osc_port") is not None:
            host = state.get("osc_host") or "127.0.0.1"
            info(f"listening for /rlimpro/target on {host}, udp port {state['osc_port']}")
            _warn_if_open(host, state["osc_port"])
        if state.get("device_rate"):
            info(f"audio device running at {state['device_rate']} Hz")
        if not fast:
            err_console.print("[dim]live; press Ctrl-C to stop[/]")

    def ignored(counts: dict) -> None:  # at most once a second, printed by a thread: never blocks the loop
        reports.offer(f"osc: {counts['new']} invalid messages ignored in the last second "
                      f"({counts['ignored']} in all; see the summary at the end)")

    # Ctrl-C / SIGTERM: the first stops the session between two hops (set-up is interrupted at once),
    # a second within 2 s quits at once leaving only complete files (rlimpro.interrupts).
    with stop_signals() as signals, stage_errors("live"):
        if listen is not None:
            input = _listen_input(input, listen)
        from rlimpro.cli import crossadaptive as xa

        if task is not None or target is not None or channels is not None:  # task: cross-adaptive
            xa.check_live_options(task=task, synth=synth)
            xa.live(model=model, workspace=workspace(), input=input, target=target, outputs=output or [],
                    channels=channels, fast=fast, mix=mix, log=log, duration=duration, features=features,
                    realtime=realtime, ready=ready, stop=signals.stop)
            return
        if synth is None:
            from rlimpro.errors import ParameterError

            raise ParameterError("--synth is required: the synth the agent plays, e.g. --synth fm "
                                 "(or --task cross-adaptive to process one musician by another)")
        warn_untrusted_run(synth=synth, model=model)
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
            stop=signals.stop,
            on_ready=ready,
            on_ignored=ignored,
        )
        reports.close()
        with deferred():  # the session is saved: a Ctrl-C now only cuts the summary short
            _report(result)


class BackgroundLines:
    """Warnings printed by a daemon thread: :meth:`offer` never blocks, even when stderr is a full pipe.

    Only the newest line offered since the last print is kept.
    """

    def __init__(self) -> None:
        import threading

        self._line: str | None = None
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def offer(self, line: str) -> None:
        import threading

        with self._ready:
            self._line = line
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rlimpro-warnings", daemon=True)
                self._thread.start()
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._line is None and not self._closed:
                    self._ready.wait()
                if self._line is None:
                    return
                line, self._line = self._line, None
            warn(line)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()


def _listen_input(input: str | None, listen: str) -> str:
    """``--input osc[:PORT]`` with ``--listen HOST`` -> ``osc:HOST:PORT``."""
    from rlimpro.errors import ParameterError
    from rlimpro.live.osc import DEFAULT_PORT

    if input is None or not (input == "osc" or input.startswith("osc:")):
        raise ParameterError("--listen HOST applies to --input osc[:PORT] (descriptor frames over the network)")
    rest = input[4:]
    if ":" in rest:
        raise ParameterError(f"--input {input} already names the host; give either osc:HOST:PORT or --listen HOST")
    return f"osc:{listen}:{rest or DEFAULT_PORT}"


def _warn_if_open(host: str, port: int) -> None:
    """Warn when OSC input listens beyond this machine (DESIGN.md: loopback unless asked, then a warning)."""
    from rlimpro.live.osc import ipaddress_is_loopback

    if not ipaddress_is_loopback(host):
        warn(f"listening on udp {host}:{port}: anyone who can reach this machine can send descriptor "
             "frames to the agent; use a firewall, or leave out the host to listen on 127.0.0.1 only")


def warn_untrusted_run(*, synth: str, model: str) -> None:
    """Warn when the run never finished training (killed, failed or interrupted)."""
    from rlimpro.errors import RlimproError
    from rlimpro.runs import resolve_run, unfinished_warning

    try:
        run = resolve_run(model, synth=synth, workspace=workspace())
    except RlimproError:
        return  # the session itself reports it
    note = unfinished_warning(run)
    if note:
        warn(note)


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
        if out.get("kind") == "file" and not out.get("error"):
            info(f"wrote {out['path']} ({out['frames'] / out['sample_rate']:.2f} s, {out['channels']} channel(s))")
    info(
        f"session log {result.log} ({result.rows} frames: {meta.get('decisions', 0)} decisions, "
        f"{meta.get('held_silent', 0)} silent frames held)"
    )
    info(format_summary(result.latency))
    if result.stopped_by == "interrupted":
        info("stopped (Ctrl-C); everything is saved")
