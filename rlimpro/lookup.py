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
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlimpro import __version__
from rlimpro.descriptors.analyzer import LOUDNESS_FLOOR_DB, AnalysisSettings
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError
from rlimpro.progress import progress_bar
from rlimpro.synths import SynthSpec, load_spec, make_renderer
from rlimpro.tables import atomic_write, ensure_writable_folder, read_meta, write_json_atomic, write_table
from rlimpro.workers import pool_worker_init
from rlimpro.workspace import synth_dir

CHUNK_ROWS = 50
MAX_ROWS = 5_000_000


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
    """Render ``params`` (B, N) and return their aggregated descriptors, shape (B, len(DESCRIPTORS))."""
    renderer, analyzer = _worker_state(spec, settings)
    audio = renderer.render(params, duration=duration, sample_rate=settings.sample_rate)
    frames = analyzer.analyze_many(audio)
    return aggregate_frames(frames, settings=settings, n_samples=audio.shape[1])


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
        Recompute even when an up-to-date table exists; discard partial progress.
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

    Returns
    -------
    LookupResult

    Raises
    ------
    ParameterError, NotFoundError, ConfigError, SynthError
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
    plan_key = json.dumps(plan, sort_keys=True)

    if table.is_file() and not force:
        try:
            meta = read_meta(table)
        except Exception:
            meta = {}
        if json.dumps({k: meta.get(k) for k in plan}, sort_keys=True) == plan_key:
            return LookupResult(path=table, rows=rows, seconds=0.0, skipped=True)

    partial = out_dir / ".lookup-partial"
    if force and partial.exists():
        shutil.rmtree(partial)
    plan_file = partial / "plan.json"
    if partial.exists():
        try:
            same = json.dumps(json.loads(plan_file.read_text()), sort_keys=True) == plan_key
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json_atomic(plan_file, plan)

    points = grid(n_params=spec.n_params, subdiv=subdiv)
    n_chunks = -(-rows // CHUNK_ROWS)
    chunk_file = [partial / f"chunk-{i:06d}.npy" for i in range(n_chunks)]
    done = [f.is_file() for f in chunk_file]
    todo = [i for i in range(n_chunks) if not done[i]]
    resumed = n_chunks - len(todo)
    workers = workers or os.cpu_count() or 1
    spec_json = spec.model_dump_json()
    t0 = time.perf_counter()

    if on_plan is not None:
        left = sum(min(CHUNK_ROWS, rows - i * CHUNK_ROWS) for i in todo)
        estimate = None
        if spec.engine == "midi":
            from rlimpro.midi.engine import seconds_per_row

            estimate = left * seconds_per_row(spec, duration)
        on_plan(left, estimate)

    def save(i: int, values: np.ndarray) -> None:
        atomic_write(chunk_file[i], lambda tmp: np.save(open(tmp, "wb"), values))

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
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init) as pool:
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
                    for fut in pending:
                        fut.cancel()
                    raise

    if realtime and "renderer" in _WORKER:  # a hardware synth's ports and audio input are released now
        _WORKER.pop("renderer").close()
        _WORKER.pop("key", None)
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
    write_table(table, frame, {**plan, "rows": rows, "rlimpro_version": __version__})
    shutil.rmtree(partial, ignore_errors=True)
    return LookupResult(
        path=table, rows=rows, seconds=time.perf_counter() - t0, resumed_chunks=resumed, warnings=warnings
    )
