"""One live session: an input, the agent deciding once per hop, the outputs, the log.

:func:`run_live` is the plain function behind ``rlimpro live``. Per hop of audio input:

1. the streaming analyzer (the run's analysis settings) turns the hop into the musician's frame;
2. the agent builds the training observation, runs the numpy policy, applies the action as the
   environment does and looks up its own descriptors in the lookup-grid synth model;
3. the outputs get the new parameters (the audio device or file renders the native synth with the
   parameters ramped inside the block; OSC and Pd get ``/rlimpro/params``);
4. the session log gets a row.

Steps 1-2 are timed as the *decision latency* (median and p99 are printed and stored). With
``--input osc`` step 1 happens in another program: each valid ``/rlimpro/target`` frame replaces it,
and is answered by one ``/rlimpro/params`` message.

Stopping: ``stop`` (a :class:`threading.Event`; the CLI's :class:`~rlimpro.interrupts.StopSignals`
sets it on Ctrl-C / SIGTERM) is checked between two hops, so a stop never lands inside a write: after
any stop the session log's rows, its sidecar's ``rows`` and the audio file's frames / hop agree. The
hop loop and the teardown run under :func:`rlimpro.interrupts.deferred` (a signal only sets the flag)
and files are published inside :func:`rlimpro.interrupts.critical`. A KeyboardInterrupt raised in the
loop (library use without the CLI's handler) also ends the session cleanly. A write error (a full
disk) ends the session with :class:`~rlimpro.errors.StorageError`; the log keeps its complete rows and
the audio file as many hops as the log has rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import ParameterError, StorageError
from rlimpro.interrupts import critical, deferred
from rlimpro.live.latency import LatencyRecorder
from rlimpro.live.log import SessionLog
from rlimpro.live.outputs import (
    DeviceSink,
    OscSink,
    OutputSpec,
    PdSink,
    Sink,
    SoundFileSink,
    TrajectoryFileSink,
    check_native,
    parse_output,
)
from rlimpro.live.priority import realtime_priority


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """A parsed ``--input`` value: ``device`` (``target``: name/index or ''), ``file`` (path) or ``osc``."""

    kind: str
    target: str = ""
    host: str = "127.0.0.1"
    port: int = 0

    def describe(self) -> str:
        if self.kind == "osc":
            return f"osc:{self.port}" if self.host == "127.0.0.1" else f"osc:{self.host}:{self.port}"
        if self.kind == "device":
            return f"device:{self.target}" if self.target else "device"
        return self.target


def parse_input(text: str | None) -> InputSpec:
    """``None``/``device[:NAME]`` -> the audio input device; ``osc[:[HOST:]PORT]`` -> OSC; else a file path.

    OSC listens on 127.0.0.1 unless a HOST is given (``osc:0.0.0.0:9000`` opens it to the network).

    Raises
    ------
    ParameterError
        A malformed OSC port.
    """
    from rlimpro.live.osc import DEFAULT_PORT, parse_endpoint

    if text is None or text in ("device", "default"):
        return InputSpec("device")
    if text.startswith("device:"):
        return InputSpec("device", target=text.split(":", 1)[1])
    if text == "osc":
        return InputSpec("osc", port=DEFAULT_PORT)
    if text.startswith("osc:"):
        host, port = parse_endpoint(text[4:], what="--input osc", default_host="127.0.0.1")
        return InputSpec("osc", host=host, port=port)
    return InputSpec("file", target=text)


@dataclasses.dataclass
class LiveResult:
    """What a session did."""

    log: Path
    rows: int
    seconds: float  #: wall-clock duration, s
    latency: dict[str, Any]
    stopped_by: str  #: "end of input", "duration", "interrupted", "stop requested"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


class SessionEnd:
    """How a live session ends, and its teardown whatever happened (imitation and cross-adaptive sessions).

    The ``with`` block holds everything that opens resources, registered as they open. On the way out
    an exception is recorded (``stopped_by = "error: ..."``) and propagates; then the streams close
    (the last opened first), the sinks close in the order they opened (``ok`` False after an error
    before the first logged row: their files are discarded), and the log is discarded in that case, or
    else closed with ``describe()`` plus how and when the session ran as its sidecar. A sink that fails
    to close is named in ``stopped_by`` (``error while closing NAME: ...``; sinks have a ``name``) unless
    the session had failed already; that first error is raised after the log is written.

    Parameters
    ----------
    describe : callable
        ``describe() -> dict``: the session's metadata, called after the sinks are closed.

    Attributes
    ----------
    stopped_by : str
        ``"end of input"`` until the session sets it (``"duration"``, ``"interrupted"``,
        ``"stop requested"``) or fails.
    sinks : list
        The registered outputs (``close(ok=...)``), see :meth:`sink`.
    log : SessionLog or CrossLog or None
        The session log, once open.
    meta : dict
        The sidecar written (empty when the log was discarded or never opened).
    """

    def __init__(self, *, describe: Callable[[], dict[str, Any]]):
        self.describe = describe
        self.stopped_by = "end of input"
        self.error: BaseException | None = None
        self.streams: list[Any] = []
        self.sinks: list[Any] = []
        self.log: Any = None
        self.meta: dict[str, Any] = {}
        self.started, self.started_wall = time.perf_counter(), time.time()

    def opened(self, stream: Any) -> Any:
        """Register an input or device stream (``close()``); returns it."""
        self.streams.append(stream)
        return stream

    def sink(self, sink: Any) -> Any:
        """Register an output (``close(ok=...)``); returns it."""
        self.sinks.append(sink)
        return sink

    def __enter__(self) -> SessionEnd:
        return self

    def running(self) -> contextlib.AbstractContextManager[None]:
        """The hop loop's context: a signal only sets the stop flag (see :mod:`rlimpro.interrupts`)."""
        return deferred()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        with deferred():
            return self._teardown(exc)

    def _teardown(self, exc: BaseException | None) -> bool:
        if exc is not None:
            self.error = exc
            self.stopped_by = f"error: {exc}"
        for stream in reversed(self.streams):
            stream.close()
        # After a failure mid-session, what was played is still kept; a failure before the first hop
        # leaves nothing behind.
        keep = self.error is None or (self.log is not None and self.log.rows > 0)
        close_error: BaseException | None = None
        closed: set[int] = set()

        def close(s: Any) -> None:
            nonlocal close_error
            if id(s) in closed:
                return
            closed.add(id(s))
            try:
                s.close(ok=keep)
            except Exception as err:  # the log is still written; the first such error is raised after
                if err is self.error or isinstance(err, StorageError) and str(err) == str(self.error):
                    return
                close_error = close_error or err
                if self.error is None:
                    self.stopped_by = f"error while closing {s.name}: {err}"

        if self.log is not None and keep:
            for s in self.sinks:  # a file that failed (a full disk) is discarded first: its room goes to the log
                if getattr(s, "failed", False):
                    close(s)
            with contextlib.suppress(StorageError):  # the log keeps its complete rows (log.error says why)
                self.log.flush()
            for s in self.sinks:  # a log cut short by a write error: the audio keeps as many hops
                if hasattr(s, "keep_decisions") and id(s) not in closed:
                    s.keep_decisions(self.log.rows_written)

        # Sinks that only talk to processes close first (a second Ctrl-C may quit while Pd stops); the
        # files are then published together with the log, which a second Ctrl-C does not cut apart.
        for s in self.sinks:
            if not getattr(s, "writes_file", False):
                close(s)
        with critical():
            for s in self.sinks:
                if getattr(s, "writes_file", False):
                    close(s)
            if self.log is not None and not keep:
                self.log.discard()
            elif self.log is not None:
                if self.error is None and self.log.error is not None:
                    self.error = self.log.error
                    self.stopped_by = f"error: {self.log.error}"
                self.meta = {
                    **self.describe(),
                    "stopped_by": self.stopped_by,
                    "wall_seconds": round(time.perf_counter() - self.started, 3),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started_wall)),
                }
                try:
                    self.log.close(self.meta)
                except StorageError as err:
                    if err is not exc:
                        close_error = close_error or err
        if close_error is not None and exc is None:
            raise close_error
        return False

    def result(self, *, log: Path, rows: int, latency: LatencyRecorder) -> LiveResult:
        """What the session did (after the ``with`` block)."""
        return LiveResult(log=log, rows=rows, seconds=time.perf_counter() - self.started,
                          latency=latency.summary(), stopped_by=self.stopped_by, meta=self.meta)


def _under(path: Path, workspace: Path) -> Path:
    """A relative path resolved against the workspace root (DESIGN.md: paths resolve against it)."""
    return path if path.is_absolute() else workspace / path


def _resolve_input(inp: InputSpec, workspace: Path) -> InputSpec:
    """A relative input file against the workspace, or against the current directory if only there."""
    if inp.kind != "file":
        return inp
    path = Path(inp.target).expanduser()
    if not path.is_absolute():
        in_ws = workspace / path
        path = in_ws if in_ws.exists() or not (Path.cwd() / path).exists() else Path.cwd() / path
    return dataclasses.replace(inp, target=str(path))


def _resolve_output(out: OutputSpec, workspace: Path) -> OutputSpec:
    if out.kind != "file":
        return out
    return dataclasses.replace(out, target=str(_under(Path(out.target).expanduser(), workspace)))


def default_log_path(run_dir: Path) -> Path:
    """``<run>/sessions/<YYYYmmdd-HHMMSS>.csv`` (a suffix is added if that exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(run_dir) / "sessions"
    path = folder / f"{stamp}.csv"
    k = 1
    while path.exists():
        path = folder / f"{stamp}-{k}.csv"
        k += 1
    return path


def check_outputs(outs: list[OutputSpec], *, fast: bool, fast_input: str, mix: bool, mix_adds: str,
                  mix_input: str = "", once: tuple[str, ...] = ("device",)) -> None:
    """The ``--fast``, ``--mix`` and ``--output`` rules of a live session (imitation and cross-adaptive).

    Parameters
    ----------
    outs : list of OutputSpec
    fast, mix : bool
        The options given.
    fast_input : str
        Why ``--fast`` does not fit the input ('' when it does: a file input).
    mix_adds : str
        What ``--mix`` adds to the output file (named when there is no output file).
    mix_input : str
        Why ``--mix`` does not fit the input ('' when it does).
    once : tuple of str
        Output kinds that may be given once at most.

    Raises
    ------
    ParameterError
        The first rule broken, in this order: ``--fast`` input, ``--fast`` to the audio device, ``--mix``
        without an output file, ``--mix`` input, an output kind given more than once, a file given twice.
    """
    kinds = [o.kind for o in outs]
    if fast and fast_input:
        raise ParameterError(fast_input)
    if fast and "device" in kinds:
        raise ParameterError("--fast cannot play to the audio device; write --output FILE.wav instead")
    if mix and "file" not in kinds:
        raise ParameterError(f"--mix adds {mix_adds} to the output file: it needs --output FILE.wav")
    if mix and mix_input:
        raise ParameterError(mix_input)
    if any(kinds.count(k) > 1 for k in once):
        kinds_once = " and ".join(f"--output {k}" for k in once)
        raise ParameterError(f"{kinds_once} may {'each ' if len(once) > 1 else ''}be given once")
    files = [o.target for o in outs if o.kind == "file"]
    if len(set(files)) != len(files):
        raise ParameterError("the same --output file is given twice")


def run_live(
    *,
    synth: str,
    model: str,
    workspace: Path,
    input: str | None = None,
    outputs: list[str] | tuple[str, ...] = (),
    fast: bool = False,
    mix: bool = False,
    log: Path | None = None,
    duration: float | None = None,
    send_features: bool = False,
    realtime: bool = True,
    stop: threading.Event | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    on_ignored: Callable[[dict[str, int]], None] | None = None,
    agent: Any = None,
    midi_ccs: list[int] | None = None,
    midi_channel: int | None = None,
) -> LiveResult:
    """Run the trained agent live until the input ends, ``duration`` passes, Ctrl-C or ``stop``.

    Parameters
    ----------
    synth : str
        Synth name (the run must be of this synth).
    model : str
        ``latest``, a run id (folder name under ``synths/<synth>/models``), a run folder or a model zip.
    workspace : Path
        Workspace root.
    input : str, optional
        ``None``/``device[:NAME]`` (audio input device), an audio file (rehearsal) or ``osc[:[HOST:]PORT]``.
    outputs : list of str
        Any of ``device[:NAME]``, a sound file (``.wav``, ``.flac``, ``.aiff``), ``osc://HOST:PORT``,
        ``pd``. Default: the audio device for audio input (Pd for a Pd-only synth); with OSC input the
        replies to the sender alone.
    fast : bool
        Play a file input as fast as possible instead of at real-time pace.
    mix : bool
        Add the musician as a second channel of the output file.
    log : Path, optional
        Session log CSV (default: ``<run>/sessions/<timestamp>.csv``).
    duration : float, optional
        Stop after this many seconds of input (audio time; wall time for OSC input).
    send_features : bool
        Also send ``/rlimpro/features`` with every ``/rlimpro/params`` on OSC outputs.
    realtime : bool
        Run the decision loop with real-time (``SCHED_FIFO``) priority when permitted (not with
        ``fast``); see :mod:`rlimpro.live.priority`.
    stop : threading.Event, optional
        Set it to end the session from another thread.
    on_ready : callable, optional
        Called once with ``{"osc_port": …, "osc_host": …, ...}`` when the input is open (tests, front ends).
    on_ignored : callable, optional
        With OSC input: called at most once a second, from the decision loop, when invalid messages
        were ignored since the last call, with the receiver's counters plus ``new`` (the count since
        then). It must not block (the CLI hands the line to a printing thread).
    agent : LiveAgent, optional
        A ready agent (for benchmarks); built from the run otherwise.
    midi_ccs : list of int, optional
        ``--output midi``: the CC number of each parameter (default: synth.yaml's ``midi.ccs``).
    midi_channel : int, optional
        ``--output midi``: channel 1..16 (default: synth.yaml's ``midi.channel``, else 1).

    Returns
    -------
    LiveResult

    Raises
    ------
    ParameterError, NotFoundError, MismatchError, AudioError, PdError
    """
    from rlimpro.live.agent import load_agent

    workspace = Path(workspace)
    inp = _resolve_input(parse_input(input), workspace)
    outs = [_resolve_output(parse_output(o), workspace) for o in outputs]
    if duration is not None and not duration > 0:
        raise ParameterError(f"--duration {duration}: must be > 0 seconds")
    if agent is None:
        agent = load_agent(synth=synth, model=model, workspace=workspace)
    agent.reset()
    from rlimpro.synths import engine_class

    has_voice = engine_class(agent.spec.engine).has_voice
    if not outs and inp.kind != "osc":  # the device for an in-process voice, else the engine's own player
        outs = [OutputSpec("device") if has_voice else OutputSpec(agent.spec.engine, target="default" if agent.spec.engine == "pd" else "")]
    no_audio = "--mix needs audio input (a file or the device); OSC input carries no audio"
    check_outputs(
        outs, fast=fast, mix=mix, mix_adds="the musician", once=("device", "pd", "supercollider"),
        fast_input="" if inp.kind == "file" else "--fast plays a file as fast as possible: it needs --input FILE",
        mix_input=no_audio if inp.kind == "osc" else "",
    )
    for o in outs:
        if o.kind == "device":
            check_native(agent.spec, o.describe())
    midi_setup = None
    if any(o.kind == "midi" for o in outs):
        from rlimpro.midi.sink import session_ccs

        midi_setup = session_ccs(agent.spec, midi_ccs, midi_channel)
    settings = agent.settings
    sr, hop = settings.sample_rate, settings.hop

    # ---- input side
    source = None
    receiver = None
    device_in = None
    if inp.kind == "file":
        from rlimpro.live.sources import FileSource

        source = FileSource(Path(inp.target), sample_rate=sr, hop=hop, realtime=not fast)
    elif inp.kind == "osc":
        from rlimpro.live.osc import OscTargetReceiver

        receiver = OscTargetReceiver(host=inp.host, port=inp.port, n_values=len(agent.descriptor_names))
    else:
        from rlimpro.live.device import resolve_device

        device_in = resolve_device(inp.target or None, kind="input")

    log_path = _under(Path(log), workspace) if log is not None else default_log_path(agent.run_dir)
    io = None
    latency = LatencyRecorder()
    scheduling = "not started"

    def describe() -> dict[str, Any]:
        return {
            "run": str(agent.run_dir),
            "model": str(agent.model_path),
            "algorithm": agent.algorithm,
            "synth": agent.spec.name,
            "n_params": agent.n_params,
            "param_names": [p.name for p in agent.spec.params],
            "action_type": agent.action_type,
            "analysis": settings.to_dict(),
            "descriptors": list(agent.descriptor_names),
            "input": {"kind": inp.kind, "source": inp.describe(),
                      **({"fast": fast, "late_hops": source.late_hops} if source is not None else {}),
                      **({"device_rate": io.sample_rate, "overflows": io.input_overflows}
                         if io is not None and device_in is not None else {}),
                      **({"port": receiver.port, "osc": receiver.counters.as_dict()} if receiver else {})},
            "outputs": [{"kind": s.name, **s.stats()} for s in sinks],
            "decisions": agent.decisions,
            "held_silent": agent.held,
            "silence_db": agent.silence_db,
            "silence": agent.silence,
            "latency": {"what": "analysis of one hop + policy + parameter update, per decided hop",
                        **latency.summary()},
            "scheduling": scheduling,
        }

    with SessionEnd(describe=describe) as end:
        sinks: list[Sink] = end.sinks
        if receiver is not None:
            end.opened(receiver)
        session_log = end.log = SessionLog(log_path, n_params=agent.n_params)
        # ---- output side
        device_out = next((o for o in outs if o.kind == "device"), None)
        if device_in is not None or device_out is not None:
            from rlimpro.live.device import DeviceIO, resolve_device

            out_dev = resolve_device(device_out.target or None, kind="output") if device_out else None
            io = DeviceIO(
                input_device=device_in,
                output_voice=(lambda rate: agent.voice(sample_rate=rate)) if device_out else None,
                output_device=out_dev,
                analysis_rate=sr,
                initial_params=agent.params,
                silence=agent.silence,
                hop=hop,
            )
            end.opened(io)
        for o in outs:
            if o.kind == "device":
                sinks.append(DeviceSink(io))
            elif o.kind == "file":
                n_samples = source.n_samples if source is not None else None
                if has_voice:
                    sinks.append(
                        SoundFileSink(Path(o.target), voice=agent.voice(sample_rate=sr), sample_rate=sr, hop=hop,
                                      mix=mix, n_samples=n_samples, silence=agent.silence)
                    )
                else:  # Pd, SuperCollider: the session's trajectory, rendered when it ends
                    sinks.append(TrajectoryFileSink(Path(o.target), spec=agent.spec, sample_rate=sr, hop=hop,
                                                    mix=mix, n_samples=n_samples, silence=agent.silence))
            elif o.kind == "midi":
                from rlimpro.midi.sink import MidiSink

                sinks.append(MidiSink(port=o.target, ccs=midi_setup[0], channel=midi_setup[1]))
            elif o.kind == "supercollider":
                from rlimpro.supercollider.live import SuperColliderSink

                sinks.append(SuperColliderSink(spec=agent.spec, sample_rate=sr, initial_params=agent.params))
            elif o.kind == "osc":
                sinks.append(OscSink(host=o.host, port=o.port, features=send_features))
            elif o.kind == "pd":
                sinks.append(PdSink(spec=agent.spec, sample_rate=sr, audio=o.target, hop=hop, silence=agent.silence))
        for s in sinks:
            s.start()
        if io is not None:
            io.start()
        if on_ready is not None:
            on_ready({"osc_port": receiver.port if receiver else None,
                      "osc_host": receiver.host if receiver else None,
                      "device_rate": io.sample_rate if io else None})

        def emit(params: np.ndarray, target: np.ndarray, desc: np.ndarray, hop_audio: np.ndarray | None,
                 t: float, decided: bool) -> None:
            for s in sinks:
                s.on_decision(params, desc, hop_audio, active=decided)
            session_log.add(time=t, active=decided, params=params, target=target, agent=desc)

        try:
            with end.running(), realtime_priority(realtime and not fast) as scheduling:
                if receiver is not None:
                    end.stopped_by = _osc_loop(agent, receiver, emit, latency, duration=duration, stop=stop,
                                               reply_elsewhere=any(o.kind == "osc" for o in outs),
                                               on_ignored=on_ignored)
                else:
                    hops = source.hops() if source is not None else _device_hops(io, hop=hop, stop=stop)
                    end.stopped_by = _audio_loop(agent, hops, emit, latency, duration=duration, stop=stop)
        except KeyboardInterrupt:
            end.stopped_by = "interrupted"
    return end.result(log=log_path, rows=session_log.rows, latency=latency)


def _device_hops(io: Any, *, hop: int, stop: threading.Event | None) -> Iterator[np.ndarray]:
    from rlimpro.live.sources import HopAssembler

    assembler = HopAssembler(hop=hop)
    for block in io.blocks(stop=stop):
        yield from assembler.feed(block)


def _audio_loop(agent: Any, hops: Iterator[np.ndarray], emit: Callable, latency: LatencyRecorder, *,
                duration: float | None, stop: threading.Event | None, use_sb3: bool = False) -> str:
    settings = agent.settings
    period = settings.hop / settings.sample_rate
    max_hops = None if duration is None else int(np.ceil(duration / period - 1e-9))
    analyzer = agent.analyzer
    decide = agent.decide_sb3 if use_sb3 else agent.decide
    clock = time.perf_counter
    cpu = time.thread_time
    i = 0
    for hop in hops:
        if stop is not None and stop.is_set():
            return stop_reason(stop)
        if max_hops is not None and i >= max_hops:
            return "duration"
        t0 = clock()
        c0 = cpu()
        active = agent.hop_is_active(hop)
        target = analyzer.push_hop(hop)
        if active:
            params, desc = decide(target)
            latency.add(clock() - t0, cpu() - c0)
        else:
            params, desc = agent.hold()
        emit(params, target, desc, hop, i * period, active)
        i += 1
    return stop_reason(stop) if stop is not None and stop.is_set() else "end of input"


def stop_reason(stop: threading.Event) -> str:
    """Why ``stop`` was set: its ``reason`` (``"interrupted"`` for a signal), else ``"stop requested"``."""
    return getattr(stop, "reason", "") or "stop requested"


REPORT_INTERVAL = 1.0  #: s between two reports of ignored OSC messages, at most


def _osc_loop(agent: Any, receiver: Any, emit: Callable, latency: LatencyRecorder, *,
              duration: float | None, stop: threading.Event | None, reply_elsewhere: bool,
              on_ignored: Callable[[dict[str, int]], None] | None = None) -> str:
    clock = time.perf_counter
    cpu = time.thread_time
    start = clock()
    reported, last_report = 0, start - REPORT_INTERVAL  # the first invalid message is reported at once
    while True:
        if stop is not None and stop.is_set():
            return stop_reason(stop)
        now = clock()
        if on_ignored is not None and receiver.counters.ignored > reported and now - last_report >= REPORT_INTERVAL:
            ignored = receiver.counters.ignored
            on_ignored({**receiver.counters.as_dict(), "new": ignored - reported})
            reported, last_report = ignored, now
        if duration is not None and now - start >= duration:
            return "duration"
        timeout = 0.1 if duration is None else max(0.0, min(0.1, duration - (now - start)))
        got = receiver.poll(timeout)
        if got is None:
            continue
        target, sender = got
        t0 = clock()
        c0 = cpu()
        active = agent.frame_is_active(target)
        if active:
            params, desc = agent.decide(target)
            latency.add(clock() - t0, cpu() - c0)
        else:
            params, desc = agent.hold()
        if not reply_elsewhere:
            receiver.send_params(params, sender)
        emit(params, target, desc, None, t0 - start, active)
