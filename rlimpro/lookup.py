"""The ``lookup`` stage: render a synth over a parameter grid and describe every grid point.

Grid: ``linspace(0, 1, subdiv)`` per parameter; rows in C order over the parameter axes (``param-0``
varies slowest), so row ``i`` has grid index ``np.unravel_index(i, (subdiv,) * N)`` — the learning
environment indexes the table by that rule instead of searching it.

Each grid point is rendered for ``duration`` seconds and analyzed; its row is the mean of the frames
whose analysis window lies entirely inside the sound (the onset frames, which see the zeros before the
sound, are left out).

The job is split into fixed chunks of rows. Every finished chunk is saved atomically under
``synths/<synth>/.lookup-partial/``; an interrupted run (Ctrl-C or kill) resumes from there and the
final table is identical to an uninterrupted run's.

Safety: one lock per table (:mod:`rlimpro.locks`): a second identical command waits, then finds the
table up to date. A table is "up to date" only when its sidecar matches the plan *and* the CSV is the
one the sidecar describes (:func:`rlimpro.tables.verify_table`). Ctrl-C stops the worker processes at
once (they do not finish their chunks). Big jobs are estimated first (points, time, memory per
worker; :func:`estimate_lookup`). A full disk stops the job with the finished chunks kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlimpro import __version__
from rlimpro.descriptors.analyzer import LOUDNESS_FLOOR_DB, AnalysisSettings
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError, StorageError
from rlimpro.locks import output_lock
from rlimpro.progress import progress_bar, status_line
from rlimpro.synths import SynthSpec, load_spec, make_renderer
from rlimpro.tables import (
    atomic_write,
    ensure_writable_folder,
    read_meta,
    verify_table,
    write_json_atomic,
    write_table,
)
from rlimpro.workers import pool_worker_init, stop_pool
from rlimpro.workspace import synth_dir

CHUNK_ROWS = 50
MAX_ROWS = 5_000_000
#: Seconds of audio rendered per renderer call: long sounds are rendered a few at a time (same rows).
RENDER_AUDIO_SECONDS = 120.0
#: Jobs with more audio than this to render (s) are estimated before they start.
ESTIMATE_ABOVE_AUDIO_SECONDS = 600.0
#: Estimated wall time (s) and memory per worker (bytes) above which ``--yes`` is needed.
CONFIRM_SECONDS = 3600.0
CONFIRM_BYTES = 8 * 2**30
_BASE_WORKER_BYTES = 200 * 2**20  # a worker's Python, numpy, scipy and analyzer, measured about 150-200 MB


class LookupInterrupted(KeyboardInterrupt):
    """Ctrl-C during a lookup; the message says what was saved and how to go on."""


@dataclasses.dataclass(frozen=True)
class LookupEstimate:
    """What a lookup will cost, printed before a big one starts.

    Attributes
    ----------
    points, todo : int
        Grid points in all, and still to compute (not saved by an earlier run).
    duration : float
        Seconds rendered per point.
    workers : int
    seconds : float
        Estimated wall time, s (one point timed on this machine, times the points, over the workers).
    bytes_per_worker : int
        Estimated peak memory of one worker, bytes.
    """

    points: int
    todo: int
    duration: float
    workers: int
    seconds: float
    bytes_per_worker: int

    @property
    def needs_confirmation(self) -> bool:
        """More than :data:`CONFIRM_SECONDS` or :data:`CONFIRM_BYTES` per worker."""
        return self.seconds > CONFIRM_SECONDS or self.bytes_per_worker > CONFIRM_BYTES

    def describe(self) -> str:
        hours = self.seconds / 3600
        when = f"{hours:.1f} h" if hours >= 1 else f"{self.seconds / 60:.0f} min" if self.seconds >= 60 else f"{self.seconds:.0f} s"
        return (f"{self.todo:,} of {self.points:,} grid points to render ({self.duration:g} s each): about {when} "
                f"on {self.workers} worker(s), about {self.bytes_per_worker / 2**30:.2f} GB of memory per worker")


def render_batch_rows(duration: float) -> int:
    """Points rendered per renderer call: all of a chunk, or fewer for long sounds (memory)."""
    return max(1, min(CHUNK_ROWS, int(RENDER_AUDIO_SECONDS // duration)))


@dataclasses.dataclass
class LookupResult:
    """What :func:`compute_lookup` did."""

    path: Path
    rows: int
    seconds: float
    skipped: bool = False
    resumed_chunks: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)


def param_columns(n: int) -> list[str]:
    """``["param-0", ..., "param-{n-1}"]``."""
    return [f"param-{i}" for i in range(n)]


def grid(*, n_params: int, subdiv: int) -> np.ndarray:
    """All grid points, shape (subdiv ** n_params, n_params), C order (param-0 slowest)."""
    axes = np.meshgrid(*([np.linspace(0.0, 1.0, subdiv)] * n_params), indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1)


def aggregate_frames(frames: np.ndarray, *, settings: AnalysisSettings, n_samples: int) -> np.ndarray:
    """Mean over the frames whose window lies inside the sound, shape (..., F, D) -> (..., D); the
    derived (``-midi``) descriptors are derived from the means (:mod:`rlimpro.descriptors.derived`)."""
    from rlimpro.descriptors.derived import derive

    first = -(-settings.window // settings.hop) - 1
    last = n_samples // settings.hop  # exclusive: later frames see the zero padding at the end
    return derive(frames[..., first:last, :].mean(axis=-2))


# ---------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _worker_init() -> None:
    pool_worker_init()
    try:  # one BLAS thread per worker: the pool already uses every core
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def render_and_describe(spec: SynthSpec, params: np.ndarray, *, duration: float, settings: AnalysisSettings) -> np.ndarray:
    """Render ``params`` (B, N) and return their aggregated descriptors, shape (B, len(DESCRIPTORS)).

    Long sounds are rendered :func:`render_batch_rows` at a time, so memory stays bounded.
    """
    renderer, analyzer = _worker_state(spec, settings)
    step = render_batch_rows(duration)
    parts = []
    for i in range(0, len(params), step):
        audio = renderer.render(params[i : i + step], duration=duration, sample_rate=settings.sample_rate)
        frames = analyzer.analyze_many(audio)
        parts.append(aggregate_frames(frames, settings=settings, n_samples=audio.shape[1]))
        del audio, frames
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def estimate_lookup(spec: SynthSpec, *, points: np.ndarray, todo: int, duration: float, workers: int,
                    settings: AnalysisSettings) -> LookupEstimate:
    """Time one grid point on this machine and scale it (see :class:`LookupEstimate`).

    Memory per worker: the process itself, plus the audio of one renderer call (float64 while
    rendering, float32 after) and the analysis frames of one signal.
    """
    sample = points[len(points) // 2 : len(points) // 2 + 1]
    _worker_state(spec, settings)
    t0 = time.perf_counter()
    render_and_describe(spec, sample, duration=duration, settings=settings)
    per_point = time.perf_counter() - t0
    n = duration * settings.sample_rate
    frames = settings.n_frames(int(n))
    per_call = render_batch_rows(duration) * n * (8 + 4) + frames * settings.window * 8 * 2
    seconds = per_point * todo / max(1, min(workers, -(-todo // CHUNK_ROWS)))
    return LookupEstimate(points=len(points), todo=todo, duration=duration, workers=workers, seconds=seconds,
                          bytes_per_worker=int(_BASE_WORKER_BYTES + per_call))


def _worker_state(spec: SynthSpec, settings: AnalysisSettings) -> tuple[Any, Any]:
    """This process's renderer and analyzer for ``spec`` and ``settings``, built once and cached.

    The parent calls it before starting the pool, so forked workers inherit both (no per-worker
    librosa import and filterbank construction).
    """
    from rlimpro.descriptors.analyzer import Analyzer

    key = (spec.model_dump_json(), settings)
    if _WORKER.get("key") != key:
        _WORKER.update(key=key, renderer=make_renderer(spec), analyzer=Analyzer(settings))
    return _WORKER["renderer"], _WORKER["analyzer"]


def _chunk_job(spec_json: str, params: np.ndarray, duration: float, settings: AnalysisSettings) -> np.ndarray:
    spec = SynthSpec.model_validate_json(spec_json)
    return render_and_describe(spec, params, duration=duration, settings=settings)


# ---------------------------------------------------------------- main
def lookup_plan(spec: SynthSpec, *, subdiv: int, duration: float, settings: AnalysisSettings) -> dict[str, Any]:
    """The metadata that identifies a lookup table (stored in ``lookup.json``)."""
    # parameters --params N leaves out, which engines with named controls hold at their defaults
    held = {"held_params": [p.model_dump() for p in spec.held]} if spec.held and spec.engine not in ("native", "pd") else {}
    return {
        **held,
        "synth": spec.name,
        "engine": f"native:{spec.native}" if spec.engine == "native" else spec.engine,
        "n_params": spec.n_params,
        "param_names": [p.name for p in spec.params],
        "params": [p.model_dump() for p in spec.params],
        "subdiv": subdiv,
        "duration": duration,
        "aggregate": "mean over frames whose window lies inside the sound (-midi descriptors derived from the means)",
        "chunk_rows": CHUNK_ROWS,
        "analysis": settings.to_dict(),
        "descriptors": list(DESCRIPTORS),
    }


def compute_lookup(
    *,
    synth: str,
    workspace: Path,
    subdiv: int,
    n_params: int | None = None,
    duration: float = 1.0,
    workers: int | None = None,
    force: bool = False,
    engine: str | None = None,
    settings: AnalysisSettings | None = None,
    show_progress: bool = True,
    ray_address: str | None = None,
    midi_input: str | None = None,
    on_plan: Any = None,
    on_estimate: Callable[[LookupEstimate], None] | None = None,
) -> LookupResult:
    """Render and analyze ``synth`` over its parameter grid; write ``synths/<synth>/lookup.csv`` + ``.json``.

    Parameters
    ----------
    synth : str
        Synth name (built-in or ``<workspace>/synths/<name>``).
    workspace : Path
        Workspace root.
    subdiv : int
        Grid points per parameter, >= 2 (both ends included).
    n_params : int, optional
        Parameter count; must match the synth's (required for a bare synth.pd).
    duration : float
        Seconds rendered per grid point.
    workers : int, optional
        Processes (default: all cores); with ``ray_address="local"``, the local Ray instance's CPUs.
    force : bool
        Recompute even when an up-to-date table exists (chunks saved by an interrupted run of the same
        plan and rlimpro version are still reused: that run computed them the same way).
    engine : str, optional
        Override the synth's engine (one it has a source for: native, pd, faust, csound, supercollider, midi).
    settings : AnalysisSettings, optional
    show_progress : bool
        Show a rich progress bar on stderr.
    ray_address : str, optional
        Run the chunks as Ray tasks instead of a process pool: ``"local"`` (a Ray instance on this
        machine) or ``"HOST:PORT"`` (a cluster's head); see :mod:`rlimpro.distributed`. Same
        chunk store, same table.
    midi_input : str, optional
        ``--engine midi``: the audio input device the synth is recorded from (``device[:NAME]``).
    on_plan : callable, optional
        Called once with ``(rows to render, estimated seconds or None)`` before rendering starts; the
        estimate is given for real-time engines (MIDI), whose speed is known in advance.
    on_estimate : callable, optional
        Called with a :class:`LookupEstimate` before a big job (more than
        :data:`ESTIMATE_ABOVE_AUDIO_SECONDS` of audio to render) starts; it may raise to refuse it
        (the CLI asks for ``--yes`` when :attr:`LookupEstimate.needs_confirmation`).

    Returns
    -------
    LookupResult

    Raises
    ------
    ParameterError, NotFoundError, ConfigError, SynthError
    StorageError
        A full disk or a read-only folder; the finished chunks are kept (run again to resume).
    LookupInterrupted
        Ctrl-C; its message says what was saved.
    """
    settings = settings or AnalysisSettings()
    if subdiv < 2:
        raise ParameterError(f"--subdiv {subdiv}: need at least 2 points per parameter (both ends of [0, 1])")
    min_dur = (settings.window + settings.hop) / settings.sample_rate
    if not (min_dur <= duration <= 60):
        raise ParameterError(f"--duration {duration}: must be between {min_dur:.3f} s (one full frame) and 60 s")
    if workers is not None and workers < 1:
        raise ParameterError(f"--workers {workers}: must be >= 1")
    if ray_address is not None:
        from rlimpro.distributed import check_address

        check_address(ray_address)
    spec = load_spec(synth, workspace=workspace, n_params=n_params, engine=engine)
    from rlimpro.synths import engine_class

    realtime = not engine_class(spec.engine).parallel
    if midi_input is not None:
        if spec.engine != "midi":
            raise ParameterError(f"--input {midi_input}: only --engine midi records from an audio input")
        target = midi_input.split(":", 1)[1] if midi_input.startswith("device:") else ("" if midi_input == "device" else midi_input)
        spec = spec.model_copy(update={"midi": spec.midi.model_copy(update={"input": target})})
    if realtime:
        if ray_address is not None:
            raise ParameterError(f"--ray: synth '{synth}' is recorded in real time from one instrument; run it without --ray")
        workers = 1
    rows = subdiv**spec.n_params
    if rows > MAX_ROWS:
        raise ParameterError(f"{subdiv}^{spec.n_params} = {rows} grid points is more than {MAX_ROWS}; lower --subdiv")

    out_dir = synth_dir(synth, workspace=workspace)
    ensure_writable_folder(out_dir)
    table = out_dir / "lookup.csv"
    plan = lookup_plan(spec, subdiv=subdiv, duration=duration, settings=settings)
    # One lookup of this table at a time: a second identical command waits, then finds it up to date.
    with output_lock(table, what=f"the lookup table {table}",
                     on_wait=lambda line: status_line(line, enabled=show_progress)):
        return _compute_locked(spec, synth=synth, table=table, plan=plan, rows=rows, subdiv=subdiv, duration=duration,
                               workers=workers, force=force, settings=settings, show_progress=show_progress,
                               ray_address=ray_address, on_estimate=on_estimate, on_plan=on_plan, realtime=realtime)


def _up_to_date(table: Path, plan: dict[str, Any]) -> bool:
    """Whether ``table`` is the complete table of ``plan`` (sidecar and the CSV itself)."""
    if not table.is_file():
        return False
    try:
        meta = read_meta(table)
    except Exception:
        return False
    if json.dumps({k: meta.get(k) for k in plan}, sort_keys=True) != json.dumps(plan, sort_keys=True):
        return False
    return verify_table(table, meta) is None


def _compute_locked(spec: SynthSpec, *, synth: str, table: Path, plan: dict[str, Any], rows: int, subdiv: int,
                    duration: float, workers: int | None, force: bool, settings: AnalysisSettings,
                    show_progress: bool, ray_address: str | None,
                    on_estimate: Callable[[LookupEstimate], None] | None, on_plan: Any, realtime: bool) -> LookupResult:
    out_dir = table.parent
    if not force and _up_to_date(table, plan):
        return LookupResult(path=table, rows=rows, seconds=0.0, skipped=True)

    partial = out_dir / ".lookup-partial"
    plan_file = partial / "plan.json"
    # Chunks saved by an interrupted run of this very plan and rlimpro version are resumed, with or
    # without --force (which only means: do not trust the finished table), so "run the same command to
    # resume" is always true.
    partial_plan = {**plan, "rlimpro_version": __version__}
    reuse = False
    if partial.exists():
        try:
            reuse = json.dumps(json.loads(plan_file.read_text()), sort_keys=True) == json.dumps(partial_plan, sort_keys=True)
        except (OSError, json.JSONDecodeError):
            reuse = False

    points = grid(n_params=spec.n_params, subdiv=subdiv)
    n_chunks = -(-rows // CHUNK_ROWS)
    chunk_file = [partial / f"chunk-{i:06d}.npy" for i in range(n_chunks)]
    done = [reuse and f.is_file() for f in chunk_file]
    todo = [i for i in range(n_chunks) if not done[i]]
    resumed = n_chunks - len(todo)
    workers = workers or os.cpu_count() or 1
    spec_json = spec.model_dump_json()
    n_todo = sum(min(CHUNK_ROWS, rows - i * CHUNK_ROWS) for i in todo)
    if on_estimate is not None and n_todo * duration > ESTIMATE_ABOVE_AUDIO_SECONDS:
        # before anything is written or deleted: a refused job leaves the workspace as it was
        on_estimate(estimate_lookup(spec, points=points, todo=n_todo, duration=duration, workers=workers,
                                    settings=settings))
    if partial.exists() and not reuse:  # chunks of another plan or version
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json_atomic(plan_file, partial_plan)
    t0 = time.perf_counter()

    if on_plan is not None:
        left = sum(min(CHUNK_ROWS, rows - i * CHUNK_ROWS) for i in todo)
        estimate = None
        if spec.engine == "midi":
            from rlimpro.midi.engine import seconds_per_row

            estimate = left * seconds_per_row(spec, duration)
        on_plan(left, estimate)

    def save(i: int, values: np.ndarray) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, values)

        atomic_write(chunk_file[i], write)

    def saved() -> int:
        return sum(f.is_file() for f in chunk_file)

    try:
        try:
            _run_chunks(spec, spec_json=spec_json, points=points, todo=todo, done=done, rows=rows, n_chunks=n_chunks,
                        duration=duration, settings=settings, workers=workers, save=save, synth=synth,
                        show_progress=show_progress, ray_address=ray_address)
        finally:
            if realtime and "renderer" in _WORKER:  # a hardware synth's ports and audio input are released now
                _WORKER.pop("renderer").close()
                _WORKER.pop("key", None)
    except StorageError as exc:
        raise StorageError(f"{exc}; {saved()} of {n_chunks} chunks are saved in {partial}: free some space and run "
                           "the same command to resume") from exc
    except KeyboardInterrupt:
        n = saved()
        if n == 0:
            raise LookupInterrupted("lookup interrupted before a chunk was finished; nothing was saved") from None
        raise LookupInterrupted(f"lookup interrupted: {n} of {n_chunks} chunks are saved in {partial}; "
                                "run the same command to resume") from None

    values = np.concatenate([np.load(f) for f in chunk_file])
    frame = pd.DataFrame(points, columns=param_columns(spec.n_params))
    desc = pd.DataFrame(values, columns=list(DESCRIPTORS))
    frame = pd.concat([frame, desc], axis=1)
    warnings = []
    silent = int((desc["loudness-dBFS"] <= LOUDNESS_FLOOR_DB + 1e-6).sum())
    if silent:
        warnings.append(
            f"{silent} of {rows} grid points are silent (loudness at the {LOUDNESS_FLOOR_DB:.0f} dBFS floor); "
            "their descriptors are the documented silence values"
        )
    if silent == rows:
        warnings.append(f"synth '{synth}' produced no sound at any grid point: check its synth.pd outlet")
    try:
        write_table(table, frame, {**plan, "rows": rows, "rlimpro_version": __version__})
    except StorageError as exc:
        raise StorageError(f"{exc}; the {n_chunks} computed chunks are kept in {partial}: free some space and run "
                           "the same command to write the table") from exc
    shutil.rmtree(partial, ignore_errors=True)
    return LookupResult(
        path=table, rows=rows, seconds=time.perf_counter() - t0, resumed_chunks=resumed, warnings=warnings
    )


def _run_chunks(spec: SynthSpec, *, spec_json: str, points: np.ndarray, todo: list[int], done: list[bool], rows: int,
                n_chunks: int, duration: float, settings: AnalysisSettings, workers: int, save: Callable,
                synth: str, show_progress: bool, ray_address: str | None) -> None:
    """Compute and save the chunks in ``todo`` (a process pool, Ray, or this process)."""
    with progress_bar(f"lookup {synth}", total=rows, enabled=show_progress) as advance:
        advance(sum(min(CHUNK_ROWS, rows - i * CHUNK_ROWS) for i in range(n_chunks) if done[i]))
        if ray_address is not None:
            from rlimpro.distributed import run_chunks

            def on_result(i: int, values: np.ndarray) -> None:
                save(i, values)
                advance(len(values))

            job = functools.partial(_chunk_job, spec_json, duration=duration, settings=settings)
            chunks = {i: points[i * CHUNK_ROWS : (i + 1) * CHUNK_ROWS] for i in todo}
            run_chunks(job, chunks, address=ray_address, on_result=on_result, num_cpus=workers)
        elif workers == 1 or len(todo) <= 1:
            for i in todo:
                sl = slice(i * CHUNK_ROWS, (i + 1) * CHUNK_ROWS)
                save(i, render_and_describe(spec, points[sl], duration=duration, settings=settings))
                advance(len(points[sl]))
        else:
            _worker_state(spec, settings)  # built here once; forked workers inherit it
            pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init)
            pending = {}
            queue = list(todo)
            try:
                while queue or pending:
                    while queue and len(pending) < 2 * workers:
                        i = queue.pop(0)
                        sl = slice(i * CHUNK_ROWS, (i + 1) * CHUNK_ROWS)
                        pending[pool.submit(_chunk_job, spec_json, points[sl], duration, settings)] = i
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = pending.pop(fut)
                        values = fut.result()
                        save(i, values)
                        advance(len(values))
            except BaseException:
                # Ctrl-C or an error: the workers are stopped now, not after their current chunk
                with contextlib.suppress(Exception):
                    stop_pool(pool)
                raise
            pool.shutdown(wait=True)
