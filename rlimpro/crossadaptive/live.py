"""``rlimpro live --task cross-adaptive``: two musicians in, the processed source out, one clock.

Inputs (both streams always share one clock, so no frame can meet a frame of another time):

- two files for rehearsal, ``--input SRC.wav --target TGT.wav``: read in step, hop ``i`` of both
  together, at real-time pace (or as fast as possible with ``--fast``);
- two channels of one audio device, ``--input device[:NAME] --channels 1,2``: each PortAudio block
  holds both musicians' samples of the same instant (:mod:`rlimpro.crossadaptive.device`).

Per hop ``i`` (exactly the environment's step, :mod:`rlimpro.crossadaptive.env`):

1. :class:`~rlimpro.crossadaptive.paired.PairedAnalyzer` analyzes hop ``i`` of both streams -> dry
   source frame ``i`` and target frame ``i``;
2. observation ``[dry i, processed i-1, target i, parameters]`` (the run's feature space), the numpy
   policy (:mod:`rlimpro.live.policy`), the run's action map -> the new effect parameters;
3. the effect chain processes source hop ``i`` ramping to them; the processed hop goes to the outputs
   (a sound file, the audio device, and/or ``/rlimpro/params`` over OSC to drive an external effect)
   and is analyzed into processed frame ``i``;
4. the session log gets row ``i`` (:mod:`rlimpro.crossadaptive.log`).

Steps 1-3 are timed as the decision latency. Ctrl-C ends the session cleanly; files are complete or absent.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import NotFoundError, ParameterError


class CrossAgent:
    """A trained cross-adaptive policy with its features, actions, effect chain and paired analyzer.

    Parameters
    ----------
    policy : NumpyPolicy
    features : CrossFeatures
    actions : ActionMap
    chain_spec : list
        The run's effect chain (config list).
    settings : AnalysisSettings
    ramp : int
    initial_params : ndarray, shape (N,), optional
        Default: the chain's defaults (where evaluation starts too).
    run_dir, model_path : Path, optional

    Raises
    ------
    MismatchError
        The policy's observation or action size does not fit the features or the chain.
    """

    def __init__(self, *, policy: Any, features: Any, actions: Any, chain_spec: list, settings: Any, ramp: int,
                 initial_params: np.ndarray | None = None, run_dir: Path | None = None, model_path: Path | None = None,
                 algorithm: str = ""):
        from rlimpro.crossadaptive.env import Processor
        from rlimpro.crossadaptive.paired import PairedAnalyzer, shared_analyzer
        from rlimpro.effects.chain import EffectChain
        from rlimpro.errors import MismatchError

        self.chain = EffectChain.from_spec(chain_spec, sample_rate=settings.sample_rate, ramp=ramp)
        n = self.chain.n_params
        shape = getattr(policy.action_space, "shape", None)
        if shape and len(shape) == 1 and shape[0] != n:
            raise MismatchError(f"the model sets {shape[0]} effect parameters, the effect chain has {n} "
                                f"({', '.join(self.chain.param_names)}); use the chain the model was trained with")
        if features.n_params != n or actions.n_params != n:
            raise MismatchError(f"effect parameter counts differ: chain {n} ({', '.join(self.chain.param_names)}), "
                                f"feature space {features.n_params}, actions {actions.n_params}")
        if policy.obs_dim != features.observation_size:
            raise MismatchError(f"the model takes observations of {policy.obs_dim} values, the run's features make "
                                f"{features.observation_size}; the model and its run do not belong together")
        self.policy = policy
        self.features = features
        self.actions = actions
        self.settings = settings
        self.n_params = n
        self.run_dir = run_dir
        self.model_path = model_path
        self.algorithm = algorithm
        self.initial_params = self.chain.defaults.copy() if initial_params is None else self.chain.check_params(initial_params)
        analyzer = shared_analyzer(settings)
        self.paired = PairedAnalyzer(settings, analyzer=analyzer)
        self.processor = Processor(self.chain, analyzer)
        self.reset()

    def reset(self) -> None:
        """Back to the initial parameters; forget all audio."""
        self.params = self.initial_params.copy()
        self.paired.reset()
        self.processor.reset(self.params)
        self.decisions = 0

    def step(self, source_hop: np.ndarray, target_hop: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """One hop of both musicians -> ``(paired frame, params, processed hop, processed frame)``."""
        frame = self.paired.push_hops(source_hop, target_hop)
        obs = self.features.observation(dry=frame.source, processed=self.processor.frame, target=frame.target,
                                        params=self.params)
        self.params = self.actions.apply(self.params, self.policy.predict(obs))
        out, processed = self.processor.step(np.asarray(source_hop, dtype=np.float64), self.params)
        self.decisions += 1
        return frame, self.params, out, processed


def load_cross_agent(*, model: str, workspace: Path) -> CrossAgent:
    """The live agent of a cross-adaptive run, from the run folder alone.

    Raises
    ------
    NotFoundError
        No such run, or an incomplete one.
    MismatchError
        A run of another task, analysis settings this analyzer does not make, or a model whose action
        size is not the effect chain's parameter count.
    """
    from rlimpro.crossadaptive.runs import (
        check_model_fits,
        load_run_config,
        load_run_features,
        resolve_run,
        run_info,
    )
    from rlimpro.effects.chain import EffectChain
    from rlimpro.env.actions import ActionMap
    from rlimpro.live.policy import export_policy, load_sb3
    from rlimpro.runs import model_zip
    from rlimpro.tables import check_same_analysis

    workspace = Path(workspace)
    run_dir = resolve_run(model, workspace=workspace)
    zip_path = model_zip(model, run_dir=run_dir, workspace=workspace)
    info = run_info(run_dir)
    config = load_run_config(run_dir)
    settings = config.analysis_settings()
    check_same_analysis(info.get("analysis") or {}, settings.to_dict(), a_name=f"run {run_dir.name}", b_name="this rlimpro's analyzer")
    chain = EffectChain.from_spec(config.effects, sample_rate=settings.sample_rate, ramp=config.ramp)
    features = load_run_features(run_dir, n_params=chain.n_params)
    sb3_model = load_sb3(zip_path, algorithm=config.algorithm)
    check_model_fits(sb3_model, observation_size=features.observation_size, chain=chain, where=str(zip_path))
    actions = ActionMap(config.action_type, n_params=chain.n_params, step_size=config.step_size)
    return CrossAgent(policy=export_policy(sb3_model), features=features, actions=actions, chain_spec=config.effects,
                      settings=settings, ramp=config.ramp, run_dir=run_dir, model_path=zip_path,
                      algorithm=type(sb3_model).__name__)


class PairedFileSource:
    """Two audio files as paired hops at the analysis rate: hop ``i`` of both together.

    Each file is decoded, mixed to mono and resampled to the analysis rate (so files at different
    rates pair correctly); the source is cut to the target's length.

    Parameters
    ----------
    source, target : Path
    sample_rate, hop : int
    realtime : bool
        Deliver hop ``i`` no earlier than ``(i + 1) * hop / sample_rate`` s after the start.

    Raises
    ------
    NotFoundError, AudioError
        A missing or undecodable file (named).
    MismatchError
        The source is shorter than the target.
    """

    def __init__(self, *, source: Path, target: Path, sample_rate: int, hop: int, realtime: bool):
        from rlimpro.crossadaptive.material import read_pair

        self.pair = read_pair(source=Path(source), target=Path(target), sample_rate=sample_rate)
        self.sample_rate, self.hop, self.realtime = int(sample_rate), int(hop), realtime
        self.late_hops = 0

    @property
    def n_samples(self) -> int:
        """Samples of the pair at the analysis rate (the target's length)."""
        return int(self.pair.target.size)

    def hops(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(source hop i, target hop i)`` in order; the last ones zero-padded."""
        from rlimpro.crossadaptive.paired import paired_hops

        period = self.hop / self.sample_rate
        t0 = time.perf_counter()
        for i, s, t in paired_hops(self.pair.source, self.pair.target, hop=self.hop):
            if self.realtime:
                wait = t0 + (i + 1) * period - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif -wait > period:
                    self.late_hops += 1
            yield s, t


def _device_hops(io: Any, *, hop: int, stop: threading.Event | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Paired hops from the device's two input channels (both cut by one counter)."""
    buf = np.zeros((0, 2))
    for block in io.blocks(stop=stop):
        buf = np.concatenate([buf, np.asarray(block, dtype=np.float64).reshape(-1, 2)])
        k = buf.shape[0] // hop
        for j in range(k):
            yield buf[j * hop : (j + 1) * hop, 0].copy(), buf[j * hop : (j + 1) * hop, 1].copy()
        buf = buf[k * hop :]


@dataclasses.dataclass(frozen=True)
class _Inputs:
    kind: str  # "files" or "device"
    source: str = ""
    target: str = ""
    device: str = ""


def _parse_inputs(input: str | None, target: str | None, workspace: Path) -> _Inputs:
    def resolve(p: str) -> str:
        path = Path(p).expanduser()
        if not path.is_absolute():
            in_ws = workspace / path
            path = in_ws if in_ws.exists() or not (Path.cwd() / path).exists() else Path.cwd() / path
        return str(path)

    if input is None or input in ("device", "default") or input.startswith("device:"):
        if target is not None:
            raise ParameterError("--target FILE goes with --input FILE (two files on one clock); with an audio device "
                                 "both musicians come from two channels of it (--channels SRC,TGT)")
        return _Inputs("device", device=input.split(":", 1)[1] if input and input.startswith("device:") else "")
    if input.startswith("osc"):
        raise ParameterError("--task cross-adaptive processes audio: --input must be an audio file (with --target) "
                             "or device[:NAME], not OSC")
    if target is None:
        raise ParameterError(f"--input {input}: give the musician to follow with --target TGT.wav "
                             "(or --input device with --channels SRC,TGT)")
    return _Inputs("files", source=resolve(input), target=resolve(target))


def run_cross_live(
    *,
    model: str,
    workspace: Path,
    input: str | None = None,
    target: str | None = None,
    outputs: list[str] | tuple[str, ...] = (),
    channels: str | tuple[int, int] | None = None,
    fast: bool = False,
    mix: bool = False,
    log: Path | None = None,
    duration: float | None = None,
    send_features: bool = False,
    realtime: bool = True,
    stop: threading.Event | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    agent: CrossAgent | None = None,
):
    """Run a cross-adaptive agent live until the input ends, ``duration`` passes, Ctrl-C or ``stop``.

    Parameters
    ----------
    model : str
        ``latest``, a run id (under ``crossadaptive/models``), a run folder or a model zip.
    workspace : Path
    input : str, optional
        The source: an audio file (rehearsal, with ``target``), or ``None``/``device[:NAME]`` (the audio
        input device; source and target on two of its channels).
    target : str, optional
        The musician to follow, an audio file (with a file ``input``).
    outputs : list of str
        Sound files (.wav, .flac, .aiff) for the processed audio, ``device[:NAME]`` to play it,
        ``osc://HOST:PORT`` for ``/rlimpro/params`` (an external effect). Default: the audio device.
    channels : str or (int, int)
        1-based device input channels of source and target (default ``1,2``).
    fast : bool
        Process files as fast as possible.
    mix : bool
        Output files get two more channels: the dry source and the target.
    log : Path, optional
        Session log CSV (default ``<run>/sessions/<time>.csv``).
    duration : float, optional
        Stop after this many seconds of input.
    send_features : bool
        OSC outputs also get ``/rlimpro/features`` (the processed frame).
    realtime : bool
        ``SCHED_FIFO`` priority for the loop when permitted (not with ``fast``).
    stop : threading.Event, optional
    on_ready : callable, optional
        Called once with ``{"device_rate": ...}`` when the inputs are open.
    agent : CrossAgent, optional
        A ready agent (benchmarks); else loaded from the run.

    Returns
    -------
    rlimpro.live.session.LiveResult

    Raises
    ------
    ParameterError, NotFoundError, MismatchError, AudioError
    """
    from rlimpro.crossadaptive.device import open_duo_device, parse_channels
    from rlimpro.crossadaptive.log import CrossLog
    from rlimpro.live.latency import LatencyRecorder
    from rlimpro.live.outputs import SOUNDFILE_FORMATS, OscSink, parse_output
    from rlimpro.live.priority import realtime_priority
    from rlimpro.live.session import SessionEnd, check_outputs, default_log_path, stop_reason

    workspace = Path(workspace)
    inp = _parse_inputs(input, target, workspace)
    chans = parse_channels(channels)
    if channels is not None and inp.kind != "device":
        raise ParameterError("--channels picks two channels of the input device; with --input FILE --target FILE leave it out")
    outs = [parse_output(o) for o in outputs] or [parse_output("device")]
    outs = [dataclasses.replace(o, target=str(o.target if Path(o.target).is_absolute() else workspace / o.target))
            if o.kind == "file" else o for o in outs]
    kinds = [o.kind for o in outs]
    if "pd" in kinds:
        raise ParameterError("--output pd plays a synth; a cross-adaptive session outputs processed audio "
                             "(FILE.wav, device) or parameters (osc://HOST:PORT)")
    fast_input = ("" if inp.kind == "files"
                  else "--fast processes files as fast as possible: it needs --input FILE --target FILE")
    check_outputs(outs, fast=fast, fast_input=fast_input, mix=mix, mix_adds="the source and the target")
    if duration is not None and not duration > 0:
        raise ParameterError(f"--duration {duration}: must be > 0 seconds")
    if agent is None:
        agent = load_cross_agent(model=model, workspace=workspace)
    agent.reset()
    settings = agent.settings
    sr, hop = settings.sample_rate, settings.hop

    source = None
    if inp.kind == "files":
        for what, p in (("--input", inp.source), ("--target", inp.target)):
            if not Path(p).is_file():
                raise NotFoundError(f"{what} {p}: no such audio file")
        source = PairedFileSource(source=Path(inp.source), target=Path(inp.target), sample_rate=sr, hop=hop, realtime=not fast)
    device_in = device_out = None
    from rlimpro.live.device import resolve_device

    if inp.kind == "device":
        device_in = resolve_device(inp.device or None, kind="input")
    out_dev_spec = next((o for o in outs if o.kind == "device"), None)
    if out_dev_spec is not None:
        device_out = resolve_device(out_dev_spec.target or None, kind="output")

    log_path = (log if Path(log).is_absolute() else workspace / log) if log is not None else default_log_path(agent.run_dir or workspace)
    io = None
    writers: list[_FileWriter] = []
    osc_sinks: list[Any] = []
    latency = LatencyRecorder()
    scheduling = "not started"
    rows = 0

    def describe() -> dict[str, Any]:
        return {
            "task": "cross-adaptive",
            "run": str(agent.run_dir),
            "model": str(agent.model_path),
            "algorithm": agent.algorithm,
            "effects": agent.chain.spec(),
            "n_params": agent.n_params,
            "param_names": list(agent.chain.param_names),
            "analysis": settings.to_dict(),
            "input": {"kind": inp.kind,
                      **({"source": inp.source, "target": inp.target, "fast": fast, "late_hops": source.late_hops}
                         if source is not None else {}),
                      **({"device": inp.device or "default", "channels": list(chans), "device_rate": io.sample_rate,
                          "overflows": io.input_overflows} if io is not None and io.has_input else {})},
            "outputs": [w.stats() for w in writers] + [{"kind": "osc", **s.stats()} for s in osc_sinks]
                       + ([{"kind": "device", "sample_rate": io.sample_rate, "underruns": io.output_underruns,
                            "xruns": io.status_flags}] if io is not None and io.has_output else []),
            "decisions": agent.decisions,
            "latency": {"what": "analysis of both hops + policy + effect chain on the hop + analysis of the "
                                "processed hop, per hop", **latency.summary()},
            "scheduling": scheduling,
        }

    with SessionEnd(describe=describe) as end:
        session_log = end.log = CrossLog(log_path, n_params=agent.n_params)
        for o in outs:
            if o.kind == "file":
                writers.append(end.sink(_FileWriter(Path(o.target), sample_rate=sr, channels=3 if mix else 1,
                                                    fmt=SOUNDFILE_FORMATS[Path(o.target).suffix.lower()],
                                                    n_samples=source.n_samples if source is not None else None,
                                                    hop=hop)))
            elif o.kind == "osc":
                osc_sinks.append(end.sink(OscSink(host=o.host, port=o.port, features=send_features)))
        if device_in is not None or device_out is not None:
            io = open_duo_device(input_device=device_in, output_device=device_out, channels=chans, analysis_rate=sr,
                                 hop=hop)
            end.opened(io)
        for w in writers:
            w.start()
        for s in osc_sinks:
            s.start()
        if io is not None:
            io.start()
        if on_ready is not None:
            on_ready({"device_rate": io.sample_rate if io is not None else None})
        hops = source.hops() if source is not None else _device_hops(io, hop=hop, stop=stop)
        max_hops = None if duration is None else int(np.ceil(duration * sr / hop - 1e-9))
        clock, cpu = time.perf_counter, time.thread_time
        try:
            with end.running(), realtime_priority(realtime and not fast) as scheduling:
                for src_hop, tgt_hop in hops:
                    if stop is not None and stop.is_set():
                        end.stopped_by = stop_reason(stop)
                        break
                    if max_hops is not None and rows >= max_hops:
                        end.stopped_by = "duration"
                        break
                    t0, c0 = clock(), cpu()
                    frame, params, out, processed = agent.step(src_hop, tgt_hop)
                    latency.add(clock() - t0, cpu() - c0)
                    if io is not None and io.has_output:
                        io.write(out)
                    for w in writers:
                        w.write(out, src_hop, tgt_hop)
                    for s in osc_sinks:
                        s.on_decision(params, processed, None)
                    session_log.add(frame=frame.index, time=frame.time, params=params, source=frame.source,
                                    processed=processed, target=frame.target)
                    rows += 1
                else:
                    end.stopped_by = stop_reason(stop) if stop is not None and stop.is_set() else "end of input"
            if io is not None and io.has_output and end.stopped_by == "end of input":
                _drain(io, hop=hop, sample_rate=sr)
        except KeyboardInterrupt:
            end.stopped_by = "interrupted"
    return end.result(log=log_path, rows=rows, latency=latency)


def _drain(io: Any, *, hop: int, sample_rate: int) -> None:
    """Let the device play what is queued (at most a few hops) before the stream closes."""
    deadline = time.perf_counter() + 4 * hop / sample_rate + 0.2
    while time.perf_counter() < deadline and io.queued() > 0:
        time.sleep(0.01)


class _FileWriter:
    """The processed audio (and with ``channels=3`` the dry source and target) into a sound file, atomically."""

    name = "file"
    writes_file = True  #: published together with the session log (see SessionEnd)

    def __init__(self, path: Path, *, sample_rate: int, channels: int, fmt: str, n_samples: int | None,
                 hop: int = 512):
        self.path, self.sample_rate, self.channels, self.fmt, self.n_samples = Path(path), int(sample_rate), channels, fmt, n_samples
        self.hop = int(hop)
        self.frames = 0
        self._file: Any = None

    @property
    def failed(self) -> bool:
        """A write failed (a full disk): the file will be discarded."""
        return self._file is not None and self._file.error is not None

    def keep_decisions(self, decisions: int) -> None:
        """Cut the file to the audio of the first ``decisions`` hops (a session log cut short)."""
        frames = decisions * self.hop if self.n_samples is None else min(decisions * self.hop, self.n_samples)
        if self._file is not None and frames < self.frames:
            self._file.truncate(frames)
            self.frames = self._file.frames

    def start(self) -> None:
        from rlimpro.audiofile import PendingSoundFile

        self._file = PendingSoundFile(self.path, sample_rate=self.sample_rate, channels=self.channels, fmt=self.fmt)

    def write(self, processed: np.ndarray, source: np.ndarray, target: np.ndarray) -> None:
        n = processed.size if self.n_samples is None else min(processed.size, self.n_samples - self.frames)
        if n <= 0:
            return
        block = processed[:n] if self.channels == 1 else np.stack([processed[:n], source[:n], target[:n]], axis=1)
        self._file.write(block)
        self.frames += n

    def close(self, *, ok: bool) -> None:
        if self._file is not None:
            self._file.close(ok=ok)

    def stats(self) -> dict[str, Any]:
        return {"kind": "file", "path": str(self.path), "frames": self.frames, "sample_rate": self.sample_rate,
                "channels": self.channels}
