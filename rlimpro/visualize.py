"""The ``visualize`` stage: a timbre map of a synth's lookup table, to look at and to listen to.

``visualize(synth=..., workspace=...)`` reads ``synths/<synth>/lookup.csv``, z-scores the chosen
descriptors with the table's own statistics, projects the grid points to 2-D (PCA, t-SNE or UMAP, see
:mod:`rlimpro.timbremap.projection`) and writes

- ``synths/<synth>/map.png``: the static map, points coloured by a parameter;
- ``synths/<synth>/map.html``: one self-contained page (works offline): hover a point for its
  parameters, click it to hear it (see :mod:`rlimpro.timbremap.audio` for how the page gets sound);
- with ``corpus``: the musician's active frames placed on the same map, and the coverage figure
  (share of frames whose nearest grid point lies within a stated distance), printed and stored in
  ``synths/<synth>/coverage.json`` and in the page. It answers "can this synth follow this musician on
  what the agent is scored on?": with ``run`` or ``config``, over that run's (config's)
  ``features_reward`` in the reward's own distance (:meth:`FeatureSpace.distance`: semitones, dB …,
  the evaluation's floor), within 1 unit by default; otherwise over the map's descriptors that the
  synth varies (those it cannot vary, e.g. the level of a synth without an amplitude control, are
  listed, not counted as misses) in RMS z-scores, within 0.5, with a breakdown per descriptor group;
- with ``run``: the agent's trajectories from ``<run>/trajectories/<stem>.csv`` (written by
  ``rlimpro evaluate``; columns ``time``, ``param-0..N-1``, ``target:<descriptor>``...,
  ``agent:<descriptor>``...). The agent is placed by its parameters: its position is the multilinear
  interpolation, over the parameter grid, of the grid points' map positions (exact for PCA when the
  environment interpolates the table multilinearly); the target it followed is placed like corpus frames.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlimpro import __version__
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS, expand_features
from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.lookup import grid
from rlimpro.progress import progress_bar
from rlimpro.synths.spec import SynthSpec
from rlimpro.tables import check_descriptors, read_table, write_json_atomic, write_text_atomic
from rlimpro.timbremap import audio as audio_mod
from rlimpro.timbremap.projection import (
    COVERAGE_THRESHOLD,
    DEFAULT_PERPLEXITY,
    METHOD_TITLES,
    PLACEMENT_NEIGHBOURS,
    Projection,
    Scaler,
    check_method,
    coverage,
    fit_projection,
    grid_spacing,
    nearest_rows,
)
from rlimpro.workspace import did_you_mean, synth_dir

#: Default descriptor selection: every group the analyzer computes.
DEFAULT_FEATURES: tuple[str, ...] = tuple(GROUPS)
REWARD_THRESHOLD = 1.0  #: default coverage threshold in reward units (with a run or config)
CORPUS_DRAW_MAX = 20_000  # corpus frames drawn (evenly strided beyond this); coverage uses all
TRAJECTORY_DRAW_MAX = 5_000  # steps drawn per trajectory file


@dataclasses.dataclass
class VisualizeResult:
    """What :func:`visualize` wrote and measured."""

    png: Path
    html: Path
    rows: int
    method: str
    features: list[str]
    audio_mode: str
    coverage: dict[str, Any] | None = None
    coverage_path: Path | None = None
    corpus_frames: int = 0
    trajectories: int = 0
    audio_dir: Path | None = None
    seconds: float = 0.0
    warnings: list[str] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------- inputs
def load_lookup(*, synth: str, workspace: Path) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """Read and check ``synths/<synth>/lookup.csv``.

    Returns
    -------
    frame : DataFrame
    meta : dict
        The sidecar.
    path : Path

    Raises
    ------
    NotFoundError
        No table (the message says how to make one), or an unreadable table/sidecar.
    MismatchError
        The table does not match its sidecar (parameter columns, row count = subdiv ** N).
    """
    path = synth_dir(synth, workspace=workspace) / "lookup.csv"
    if not path.is_file():
        have = sorted(p.parent.name for p in (workspace / "synths").glob("*/lookup.csv")) if (workspace / "synths").is_dir() else []
        hint = did_you_mean(synth, have)
        listing = f" (synths with a table here: {', '.join(have)})" if have else ""
        raise NotFoundError(
            f"no lookup table for synth '{synth}' at {path}{hint}{listing}; "
            f"make it first: rlimpro lookup --synth {synth}"
        )
    frame, meta = read_table(path)
    check_descriptors(meta, what=str(path), fix=f"rlimpro lookup --synth {synth} --subdiv {meta.get('subdiv', 10)} --force")
    try:
        n = int(meta["n_params"])
        subdiv = int(meta["subdiv"])
        params = list(meta["params"])
        meta["analysis"]["sample_rate"]
    except (KeyError, TypeError, ValueError) as exc:
        raise NotFoundError(f"sidecar of {path} lacks {exc}; re-create the table: rlimpro lookup --synth {synth} --force") from exc
    pcols = [f"param-{i}" for i in range(n)]
    missing = [c for c in pcols if c not in frame.columns]
    if missing or len(params) != n:
        raise MismatchError(f"{path} does not have the {n} parameter columns its sidecar lists ({', '.join(missing)} missing)")
    if len(frame) != subdiv**n:
        raise MismatchError(
            f"{path} has {len(frame)} rows but a {n}-parameter grid at subdiv {subdiv} has {subdiv ** n}; "
            f"re-create it: rlimpro lookup --synth {synth} --force"
        )
    expected = grid(n_params=n, subdiv=subdiv)
    if not np.allclose(frame[pcols].to_numpy(dtype=np.float64), expected, rtol=0, atol=1e-6):
        raise MismatchError(
            f"{path}: the parameter columns are not the grid linspace(0, 1, {subdiv}) per parameter in C order; "
            f"re-create it: rlimpro lookup --synth {synth} --force"
        )
    meta.setdefault("rows", len(frame))
    return frame, meta, path


def select_features(frame: pd.DataFrame, features: Sequence[str] | None, *, table: Path) -> list[str]:
    """Expand ``features`` (groups or descriptor names) and check that the table has them.

    Raises
    ------
    ParameterError
        An unknown name (with a suggestion), fewer than 2 descriptors, or non-finite values.
    MismatchError
        A descriptor group (or descriptor) the table does not have; the message names the group,
        its missing columns, and what the table does have.
    """
    names = expand_features(list(features) if features is not None else DEFAULT_FEATURES, source="--features")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        groups = [g for g, members in GROUPS.items() if any(m in missing for m in members)]
        present = [g for g, members in GROUPS.items() if all(m in frame.columns for m in members)]
        raise MismatchError(
            f"descriptor group{'s' if len(groups) > 1 else ''} {', '.join(repr(g) for g in groups)} "
            f"({', '.join(missing)}) not in {table}; choose --features from the groups it has "
            f"({', '.join(present) or 'none'}) or re-create the table with this rlimpro: rlimpro lookup --force"
        )
    if len(names) < 2:
        raise ParameterError(f"--features {','.join(names)}: a 2-D map needs at least 2 descriptors")
    values = frame[names].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = [n for n in names if not np.isfinite(frame[n].to_numpy(dtype=np.float64)).all()]
        raise ParameterError(f"{table} has non-finite values in {', '.join(bad)}; re-create it: rlimpro lookup --force")
    return names


def describe_features(names: Sequence[str]) -> str:
    """``"loudness, mfcc, specshape + pitch-hz"``: whole groups by name, the rest by descriptor."""
    chosen = set(names)
    whole = [g for g, members in GROUPS.items() if set(members) <= chosen]
    covered = {m for g in whole for m in GROUPS[g]}
    rest = [n for n in DESCRIPTORS if n in chosen and n not in covered]
    text = ", ".join(whole)
    if rest:
        text = f"{text} + {', '.join(rest)}" if text else ", ".join(rest)
    return text


@dataclasses.dataclass
class CorpusFrames:
    """Active frames of a corpus, for the chosen features."""

    name: str
    values: np.ndarray  # (M, D)
    file: np.ndarray  # (M,) index into files
    time: np.ndarray  # (M,) seconds
    files: list[str]
    total_frames: int


def load_corpus_frames(*, corpus: str, workspace: Path, features: list[str], lookup_meta: dict[str, Any]) -> CorpusFrames:
    """The active frames of ``corpus`` (its ``active`` column), checked against the lookup table.

    Raises
    ------
    NotFoundError
        Missing or unanalyzed corpus.
    MismatchError
        Analysis settings differ from the lookup's (DESIGN.md: stages that combine tables refuse
        that), or a table lacks a chosen descriptor.
    ParameterError
        No active frame in the whole corpus.
    """
    from rlimpro.corpus import read_corpus
    from rlimpro.tables import check_same_analysis

    tables, meta = read_corpus(corpus=corpus, workspace=workspace)
    check_same_analysis(
        dict(meta.get("analysis", {})),
        dict(lookup_meta["analysis"]),
        a_name=f"corpus '{corpus}'",
        b_name=f"the lookup table of '{lookup_meta.get('synth')}'",
    )
    values, file_idx, times, files = [], [], [], []
    total = 0
    for stem, table in tables.items():
        missing = [n for n in [*features, "active", "time"] if n not in table.columns]
        if missing:
            raise MismatchError(f"corpus '{corpus}' table {stem}.csv lacks {', '.join(missing)}; re-run rlimpro analyze-corpus --corpus {corpus} --force")
        total += len(table)
        active = table["active"].to_numpy() > 0.5
        k = len(files)
        files.append(stem)
        values.append(table.loc[active, features].to_numpy(dtype=np.float64))
        times.append(table.loc[active, "time"].to_numpy(dtype=np.float64))
        file_idx.append(np.full(int(active.sum()), k, dtype=np.int64))
    frames = CorpusFrames(
        name=corpus,
        values=np.concatenate(values) if values else np.zeros((0, len(features))),
        file=np.concatenate(file_idx) if file_idx else np.zeros(0, dtype=np.int64),
        time=np.concatenate(times) if times else np.zeros(0),
        files=files,
        total_frames=total,
    )
    if len(frames.values) == 0:
        raise ParameterError(
            f"corpus '{corpus}' has no active frames ({total} frames, all below its silence threshold): "
            "nothing to place on the map; check the recordings' level"
        )
    if not np.isfinite(frames.values).all():
        raise ParameterError(f"corpus '{corpus}' has non-finite descriptor values; re-run rlimpro analyze-corpus --corpus {corpus} --force")
    return frames


def resolve_run_dir(run: str | Path, *, synth: str, workspace: Path) -> Path:
    """The run folder named by ``run`` (``latest``, a run id or a path): :func:`rlimpro.runs.resolve_run`.

    Raises
    ------
    NotFoundError
    """
    from rlimpro.runs import resolve_run

    return Path(resolve_run(str(run), synth=synth, workspace=workspace))


@dataclasses.dataclass
class Trajectory:
    """One evaluated file of a run."""

    file: str
    time: np.ndarray  # (T,)
    params: np.ndarray  # (T, N)
    target: np.ndarray | None  # (T, D) chosen features of the target, when the file has them all


def load_trajectories(run_dir: Path, *, n_params: int, features: list[str]) -> tuple[list[Trajectory], list[str]]:
    """Read ``<run>/trajectories/*.csv``.

    Returns
    -------
    trajectories : list of Trajectory
        Sorted by file name.
    warnings : list of str

    Raises
    ------
    NotFoundError
        No trajectories folder or no CSV in it (the message says how to make them).
    MismatchError
        A file's parameter columns do not match the synth's N, or are outside [0, 1].
    """
    folder = run_dir / "trajectories"
    paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not paths:
        raise NotFoundError(
            f"run {run_dir} has no trajectories ({folder}/<file>.csv, written by `rlimpro evaluate`); "
            f"evaluate it first: rlimpro evaluate {run_dir} --corpus CORPUS"
        )
    pcols = [f"param-{i}" for i in range(n_params)]
    out, warnings = [], []
    for path in paths:
        try:
            table = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise NotFoundError(f"trajectory {path} is not a readable CSV ({exc}); re-run rlimpro evaluate") from exc
        have = sorted(c for c in table.columns if c.startswith("param-"))
        if [c for c in pcols if c not in table.columns] or len(have) != n_params:
            raise MismatchError(
                f"trajectory {path} has parameter columns {', '.join(have) or 'none'} but the lookup table's synth has "
                f"{n_params} ({', '.join(pcols)}); was this run trained on another synth?"
            )
        params = table[pcols].to_numpy(dtype=np.float64)
        if len(params) == 0:
            warnings.append(f"trajectory {path.name} is empty; skipped")
            continue
        if not np.isfinite(params).all() or params.min() < -1e-6 or params.max() > 1 + 1e-6:
            raise MismatchError(f"trajectory {path} has parameters outside [0, 1]")
        tcols = [f"target:{n}" for n in features]
        target = None
        if all(c in table.columns for c in tcols):
            target = table[tcols].to_numpy(dtype=np.float64)
            if not np.isfinite(target).all():
                target = None
        if target is None:
            warnings.append(f"trajectory {path.name} lacks finite target:<descriptor> columns for the chosen features; its target is not drawn")
        times = table["time"].to_numpy(dtype=np.float64) if "time" in table.columns else np.arange(len(table), dtype=np.float64)
        out.append(Trajectory(file=path.stem, time=times, params=np.clip(params, 0, 1), target=target))
    if not out:
        raise NotFoundError(f"every trajectory in {folder} is empty; re-run rlimpro evaluate")
    return out, warnings


def place_by_params(params: np.ndarray, coords: np.ndarray, *, n_params: int, subdiv: int) -> np.ndarray:
    """Map positions of parameter vectors: multilinear interpolation of the grid points' positions.

    Parameters
    ----------
    params : ndarray, shape (T, N)
        Parameter vectors in [0, 1].
    coords : ndarray, shape (subdiv ** N, 2)
        Map positions of the grid rows (C order, param-0 slowest).

    Returns
    -------
    ndarray, shape (T, 2)
    """
    from scipy.interpolate import RegularGridInterpolator

    axes = [np.linspace(0.0, 1.0, subdiv)] * n_params
    values = coords.reshape((subdiv,) * n_params + (2,))
    interp = RegularGridInterpolator(axes, values, method="linear")
    return interp(np.clip(params, 0.0, 1.0))


def _stride(n: int, cap: int) -> np.ndarray:
    """Indices of at most ``cap`` evenly spaced items of ``n``."""
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64))


def _color_index(color_by: int | str, names: list[str]) -> int:
    if isinstance(color_by, str) and not color_by.lstrip("-").isdigit():
        if color_by in names:
            return names.index(color_by)
        cols = [f"param-{i}" for i in range(len(names))]
        if color_by in cols:
            return cols.index(color_by)
        raise ParameterError(f"--color-by {color_by}: not a parameter of this synth ({', '.join(names)}){did_you_mean(color_by, names)}")
    k = int(color_by)
    if not (0 <= k < len(names)):
        raise ParameterError(f"--color-by {k}: parameter index must be 0..{len(names) - 1} ({', '.join(names)})")
    return k


# ---------------------------------------------------------------- the stage
def visualize(
    *,
    synth: str,
    workspace: Path,
    features: Sequence[str] | None = None,
    method: str = "pca",
    corpus: str | None = None,
    run: str | Path | None = None,
    config: str | Path | None = None,
    color_by: int | str = 0,
    audio: str = "auto",
    audio_duration: float = audio_mod.CLIP_SECONDS,
    coverage_threshold: float | None = None,
    perplexity: float = DEFAULT_PERPLEXITY,
    seed: int = 0,
    show_progress: bool = True,
) -> VisualizeResult:
    """Write the timbre map of ``synth``'s lookup table: ``map.png``, ``map.html`` (+ ``coverage.json``).

    Parameters
    ----------
    synth : str
        Synth name; its table ``synths/<synth>/lookup.csv`` must exist (``rlimpro lookup``).
    workspace : Path
        Workspace root.
    features : sequence of str, optional
        Descriptor groups and/or names of the map (default: the run's or config's ``features_reward``
        when given and of 2 or more descriptors, else every group).
    method : {"pca", "tsne", "umap"}
        Projection (``umap`` needs the optional ``umap-learn``).
    corpus : str, optional
        Corpus whose active frames are placed on the map; enables the coverage figure.
    run : str or Path, optional
        A training run (path, id or ``latest``) whose evaluation trajectories are drawn, and whose
        reward the coverage is measured with.
    config : str or Path, optional
        A training config whose reward the coverage is measured with (instead of a run's).
    color_by : int or str
        Parameter (index or name) the points are coloured by.
    audio : {"auto", "browser", "embed", "files"}
        How the page plays grid points, see :mod:`rlimpro.timbremap.audio`.
    audio_duration : float
        Seconds per clip.
    coverage_threshold : float, optional
        Distance counted as reachable: default 1 reward unit with a run or config (a semitone, 3 dB …),
        else 0.5 RMS z-score (see :func:`~rlimpro.timbremap.projection.coverage`).
    perplexity : float
        t-SNE perplexity.
    seed : int
        Random state of t-SNE / UMAP.
    show_progress : bool
        Rich progress bars on stderr.

    Returns
    -------
    VisualizeResult

    Raises
    ------
    NotFoundError
        No lookup table, corpus or run.
    MismatchError
        A chosen descriptor group missing from the table; corpus analyzed with other settings; a run of
        another synth.
    ParameterError
        Bad options; t-SNE on fewer points than its perplexity allows; UMAP not installed.
    SynthError
        Rendering clips failed (``embed`` / ``files`` audio).
    """
    t0 = time.perf_counter()
    warnings: list[str] = []
    workspace = Path(workspace)
    # ---- every check before any work or any write
    if coverage_threshold is not None and (coverage_threshold <= 0 or not np.isfinite(coverage_threshold)):
        raise ParameterError(f"--coverage-threshold {coverage_threshold}: must be a positive distance")
    if run is not None and config is not None:
        raise ParameterError("--run and --config both name a reward for the coverage; give one")
    audio_mod.check_duration(audio_duration)
    frame, meta, table_path = load_lookup(synth=synth, workspace=workspace)
    run_dir = resolve_run_dir(run, synth=synth, workspace=workspace) if run is not None else None
    reward = reward_space(frame, meta, run_dir=run_dir, config=config, synth=synth)
    if features is None and reward is not None and len(reward.space.features_reward) >= 2:
        features = reward.space.features_reward
    names = select_features(frame, features, table=table_path)
    if coverage_threshold is None:
        coverage_threshold = REWARD_THRESHOLD if reward is not None else COVERAGE_THRESHOLD
    rows, n_params, subdiv = len(frame), int(meta["n_params"]), int(meta["subdiv"])
    check_method(method, n_points=rows, perplexity=perplexity)
    param_specs = list(meta["params"])
    param_names = [str(p.get("name", f"param-{i}")) for i, p in enumerate(param_specs)]
    color_k = _color_index(color_by, param_names)
    audio_mode = audio_mod.choose_mode(audio, meta=meta, rows=rows)
    spec = audio_mod.render_spec(synth=synth, workspace=workspace, meta=meta) if audio_mode in ("embed", "files") else None
    frames = load_corpus_frames(corpus=corpus, workspace=workspace, features=list(DESCRIPTORS), lookup_meta=meta) if corpus else None
    trajectories = None
    if run_dir is not None:
        trajectories, traj_warnings = load_trajectories(run_dir, n_params=n_params, features=names)
        warnings.extend(traj_warnings)
    if method == "tsne" and rows > 30_000:
        warnings.append(f"t-SNE on {rows:,} points takes a long time (minutes to hours); --method pca is instant")

    out_dir = synth_dir(synth, workspace=workspace)
    # exactly the grid values (the CSV holds them to 9 digits; the page and the clips use these)
    params = grid(n_params=n_params, subdiv=subdiv)
    values = frame[names].to_numpy(dtype=np.float64)
    steps = 3 + (frames is not None) + (trajectories is not None)
    with progress_bar(f"visualize {synth} ({METHOD_TITLES[method]})", total=steps, enabled=show_progress) as advance:
        scaler = Scaler.fit(values)
        z = scaler.transform(values)
        proj = fit_projection(z, method=method, perplexity=perplexity, seed=seed)
        advance(1)
        placed = None
        if frames is not None:
            placed = _place_corpus(frames, names=names, scaler=scaler, table_z=z, proj=proj, threshold=coverage_threshold,
                                   seed=seed, table=frame, reward=reward)
            advance(1)
        paths: list[dict[str, Any]] = []
        if trajectories is not None:
            paths = _place_trajectories(trajectories, scaler=scaler, proj=proj, n_params=n_params, subdiv=subdiv)
            advance(1)
        audio_payload, audio_dir = _page_audio(
            audio_mode, meta=meta, spec=spec, params=params, duration=audio_duration, out_dir=out_dir, show_progress=show_progress
        )
        advance(1)

        from rlimpro.timbremap import page as page_mod
        from rlimpro.timbremap.plot import plot_map

        texts = _texts(synth=synth, method=method, names=names, rows=rows, n_params=n_params, subdiv=subdiv,
                       corpus=corpus, frames=frames, placed=placed, threshold=coverage_threshold)
        if frames is not None:
            frames = dataclasses.replace(frames, values=frames.values[:, [DESCRIPTORS.index(n) for n in names]])
        draw = _stride(len(frames.values), CORPUS_DRAW_MAX) if frames is not None else None
        plot_map(
            out_dir / "map.png",
            coords=proj.coords,
            color=params[:, color_k],
            color_spec=param_specs[color_k],
            title=texts["title"],
            subtitle=texts["png_subtitle"],
            axis_labels=proj.axis_labels,
            corpus_xy=placed.xy[draw] if placed is not None else None,
            corpus_label=texts["corpus_label"],
            trajectories=paths or None,
        )
        coverage_path = None
        if placed is not None:
            coverage_path = out_dir / "coverage.json"
            write_json_atomic(coverage_path, _coverage_record(placed.coverage, synth=synth, corpus=corpus, rows=rows))
        data = _page_data(
            texts,
            synth=synth,
            method=method,
            names=names,
            meta=meta,
            frame=frame,
            proj=proj,
            color_k=color_k,
            audio_payload=audio_payload,
            audio_note=_audio_note(audio_mode, meta=meta, duration=audio_duration),
            corpus=corpus,
            frames=frames,
            placed=placed,
            draw=draw,
            paths=paths,
            run_dir=run_dir,
        )
        write_text_atomic(out_dir / "map.html", page_mod.render_page(data))
        advance(1)
    return VisualizeResult(
        png=out_dir / "map.png",
        html=out_dir / "map.html",
        rows=rows,
        method=method,
        features=names,
        audio_mode=audio_mode,
        coverage=None if placed is None else placed.coverage,
        coverage_path=coverage_path,
        corpus_frames=0 if frames is None else len(frames.values),
        trajectories=len(paths),
        audio_dir=audio_dir,
        seconds=time.perf_counter() - t0,
        warnings=warnings,
    )


# ---------------------------------------------------------------- the stage's parts
@dataclasses.dataclass
class PlacedCorpus:
    """Corpus frames on the map."""

    xy: np.ndarray  # (M, 2) map positions
    nearest_row: np.ndarray  # (M,) nearest lookup row
    distance: np.ndarray  # (M,) RMS z-scored distance to it
    coverage: dict[str, Any]


@dataclasses.dataclass
class RewardSpace:
    """The reward a coverage figure is measured with: a run's or a config's feature space."""

    space: Any  # FeatureSpace
    source: str  # "run <id>" / "config <path>"


def reward_space(frame: pd.DataFrame, meta: dict[str, Any], *, run_dir: Path | None, config: str | Path | None, synth: str) -> RewardSpace | None:
    """The feature space of ``run_dir`` (as trained) or of ``config`` (on this lookup table), or None.

    Raises
    ------
    NotFoundError, ConfigError, MismatchError
        A config or run that cannot be read, or made for another synth.
    """
    if run_dir is not None:
        from rlimpro.runs import load_feature_space

        return RewardSpace(space=load_feature_space(run_dir), source=f"run {run_dir.name}")
    if config is None:
        return None
    from rlimpro.env.features import FeatureSpace
    from rlimpro.errors import ConfigError
    from rlimpro.train_config import load_config

    c = load_config(Path(config))
    if c.synth != synth:
        raise MismatchError(f"--config {config} trains synth '{c.synth}', not '{synth}'")
    try:
        space = FeatureSpace.from_lookup(frame[list(DESCRIPTORS)].to_numpy(np.float64), features=c.features,
                                         features_reward=c.reward_features, n_params=int(meta["n_params"]),
                                         reward_weights=c.reward_weights, units=getattr(c, "distance_units", "table"),
                                         source=str(config))
    except ParameterError as exc:
        raise ConfigError(str(exc)) from exc
    return RewardSpace(space=space, source=f"config {config}")


def _place_corpus(frames: CorpusFrames, *, names: list[str], scaler: Scaler, table_z: np.ndarray, proj: Projection,
                  threshold: float, seed: int, table: pd.DataFrame, reward: RewardSpace | None) -> PlacedCorpus:
    """Nearest rows, map positions and the coverage figure (overall, per file, per group) of the corpus frames.

    ``frames.values`` holds every descriptor; the map uses ``names``. The coverage distance is the
    reward's (``reward``) or the map's RMS z-score over the descriptors the synth varies.
    """
    from rlimpro.descriptors.scaling import varied_columns

    zc = scaler.transform(frames.values[:, [DESCRIPTORS.index(n) for n in names]])
    k = min(PLACEMENT_NEIGHBOURS, len(table_z)) if proj.method == "tsne" else 1
    dist, idx = nearest_rows(zc, table_z, k=k)
    varied = varied_columns(table[names].to_numpy(np.float64), names)
    if reward is not None:
        from rlimpro.env.players import nearest_rows as reward_nearest

        _, d = reward_nearest(reward.space, table[list(DESCRIPTORS)].to_numpy(np.float64), frames.values)
        covered, unit = list(reward.space.features_reward), f"the reward's distance of {reward.source} ({reward.space.units} units)"
        cannot: list[str] = []
        per_group: dict[str, Any] = {}
    else:
        if not varied.any():
            raise ParameterError(f"the synth varies none of {', '.join(names)}: nothing to measure coverage on; choose --features")
        d = nearest_rows(zc[:, varied], table_z[:, varied], k=1)[0][:, 0]  # RMS over the varied descriptors
        covered, unit = [n for n, v in zip(names, varied, strict=True) if v], "RMS z-score"
        cannot = [n for n, v in zip(names, varied, strict=True) if not v]
        per_group = {}
        for g, members in GROUPS.items():
            cols = [i for i, n in enumerate(names) if n in members and varied[i]]
            if cols:
                dg = nearest_rows(zc[:, cols], table_z[:, cols], k=1)[0][:, 0]
                per_group[g] = {"descriptors": [names[i] for i in cols], "coverage": float((dg <= threshold).mean()),
                                "mean_distance": float(dg.mean())}
    cov = coverage(d, threshold=threshold, spacing=grid_spacing(table_z, seed=seed))
    cov.update(features=covered, distance_unit=unit, cannot_vary=cannot, per_group=per_group)
    cov["per_file"] = {}
    for i, name in enumerate(frames.files):
        mine = frames.file == i
        cov["per_file"][name] = {
            "frames": int(mine.sum()),
            "coverage": float((d[mine] <= threshold).mean()) if mine.any() else None,
            "mean_distance": float(d[mine].mean()) if mine.any() else None,
        }
    return PlacedCorpus(xy=proj.place(zc, neighbours=(dist, idx)), nearest_row=idx[:, 0], distance=d, coverage=cov)


def _place_trajectories(trajectories: list[Trajectory], *, scaler: Scaler, proj: Projection, n_params: int, subdiv: int) -> list[dict[str, Any]]:
    """Map paths of the agent (by its parameters) and of its target (like corpus frames), per file."""
    paths = []
    for tr in trajectories:
        keep = _stride(len(tr.params), TRAJECTORY_DRAW_MAX)
        agent = place_by_params(tr.params[keep], proj.coords, n_params=n_params, subdiv=subdiv)
        path: dict[str, Any] = {"file": tr.file, "x": agent[:, 0], "y": agent[:, 1], "tx": None, "ty": None}
        if tr.target is not None:
            target = proj.place(scaler.transform(tr.target[keep]))
            path["tx"], path["ty"] = target[:, 0], target[:, 1]
        paths.append(path)
    return paths


def _page_audio(
    mode: str, *, meta: dict[str, Any], spec: SynthSpec | None, params: np.ndarray, duration: float, out_dir: Path, show_progress: bool
) -> tuple[dict[str, Any], Path | None]:
    """The page's audio payload; renders (and for ``files`` writes) the clips when the mode needs them."""
    if mode == "browser":
        return audio_mod.browser_payload(meta=meta, duration=duration), None
    sr = int(meta["analysis"]["sample_rate"])
    rows = len(params)
    key = audio_mod.files_key(meta=meta, duration=duration)
    folder = out_dir / audio_mod.AUDIO_DIR
    if mode == "files" and audio_mod.audio_dir_is_current(folder, key=key, rows=rows):
        return audio_mod.files_payload(rows=rows, sample_rate=sr, duration=duration), folder
    with progress_bar(f"render {rows} clips ({spec.engine})", total=rows, enabled=show_progress) as advance:
        clips = audio_mod.render_clips(spec, params, duration=duration, sample_rate=sr, advance=advance)
    if mode == "embed":
        return audio_mod.embed_payload(clips, sample_rate=sr, duration=duration), None
    audio_mod.write_audio_dir(folder, clips, key=key)
    return audio_mod.files_payload(rows=rows, sample_rate=sr, duration=duration), folder


def _texts(*, synth, method, names, rows, n_params, subdiv, corpus, frames, placed, threshold) -> dict[str, str]:
    """Title and subtitles shared by the PNG and the page."""
    mtitle = METHOD_TITLES[method]
    features = describe_features(names)
    what = f"{mtitle} of {len(names)} z-scored descriptors: {features}"
    size = f"{rows:,} grid points ({n_params} parameters x subdiv {subdiv})"
    lines = [what, size]
    corpus_label = ""
    if frames is not None:
        corpus_label = f"corpus '{corpus}': {len(frames.values):,} active frames"
        c = placed.coverage
        lines.append(
            f"coverage: {100 * c['coverage']:.1f} % of the corpus's active frames within {threshold:g} ({c['distance_unit']}) "
            f"of a grid point, over {describe_features(c['features'])}"
            + (f"; the synth cannot vary {describe_features(c['cannot_vary'])}" if c["cannot_vary"] else "")
        )
    return {
        "title": f"rlimpro timbre map: {synth} ({mtitle})",
        "subtitle": f"{what}; {size}",
        "png_subtitle": "\n".join(lines),
        "corpus_label": corpus_label,
        "method_title": mtitle,
        "features": features,
    }


def _coverage_record(cov: dict[str, Any], *, synth: str, corpus: str, rows: int) -> dict[str, Any]:
    """The content of ``coverage.json``."""
    reward = cov["distance_unit"] != "RMS z-score"
    return {
        "rlimpro_version": __version__,
        "synth": synth,
        "corpus": corpus,
        "lookup_rows": rows,
        **cov,
        "definition": (
            "share of the corpus's active frames whose nearest lookup row lies within `threshold`; "
            + ("distance = the reward's (weighted RMSE over features_reward in its units: a semitone, 3 dB … count 1); "
               "distance.mean is the floor of `rlimpro evaluate`"
               if reward else
               "distance = RMS over `features` (the map's descriptors the synth varies) of the difference of z-scores "
               "(each descriptor standardised with the lookup table's mean and standard deviation); `cannot_vary` lists "
               "the map's descriptors the synth does not vary, left out; `per_group` measures each group alone")
        ),
        "threshold_reason": (
            "1 (the default with a run or config) = one unit of the reward: a semitone of pitch, 3 dB of level"
            if reward else
            "0.5 (the default) = within half the synth's own standard deviation per descriptor (RMS); "
            "two random grid points lie about sqrt(2) = 1.41 apart, so 0.5 is about a third of that"
        ),
    }


def _page_data(
    texts: dict[str, str],
    *,
    synth: str,
    method: str,
    names: list[str],
    meta: dict[str, Any],
    frame: pd.DataFrame,
    proj: Projection,
    color_k: int,
    audio_payload: dict[str, Any],
    audio_note: str,
    corpus: str | None,
    frames: CorpusFrames | None,
    placed: PlacedCorpus | None,
    draw: np.ndarray | None,
    paths: list[dict[str, Any]],
    run_dir: Path | None,
) -> dict[str, Any]:
    """The JSON the page's script reads (see ``rlimpro/data/map.js``)."""
    from rlimpro.timbremap import page as page_mod
    from rlimpro.timbremap.plot import VIEW_MARGIN, clamp_to_view, view_box

    coords = proj.coords
    span = float(max(np.ptp(coords[:, 0]), np.ptp(coords[:, 1]), 1e-12))

    def xy(a: np.ndarray, b: np.ndarray) -> tuple[list[float], list[float]]:
        return page_mod.coords_lists(np.column_stack([a, b]), span=span)

    subdiv = int(meta["subdiv"])
    shown = [d for d in page_mod.TOOLTIP_DESCRIPTORS if d in frame.columns]
    x, y = xy(coords[:, 0], coords[:, 1])
    data: dict[str, Any] = {
        "title": texts["title"],
        "subtitle": texts["subtitle"],
        "synth": synth,
        "method": method,
        "features": names,
        "rows": len(frame),
        "subdiv": subdiv,
        "params": list(meta["params"]),
        "color_by": color_k,
        "colormap": page_mod.colormap_hex("viridis"),
        "axis_labels": list(proj.axis_labels),
        "view_margin": VIEW_MARGIN,
        "x": x,
        "y": y,
        "grid": np.linspace(0.0, 1.0, subdiv).tolist(),
        "desc": {d: page_mod.significant(frame[d].to_numpy()) for d in shown},
        "desc_units": {d: page_mod.DESCRIPTOR_UNITS.get(d, "") for d in shown},
        "audio": audio_payload,
        "audio_note": audio_note,
        "about": (
            f"Each dot is one grid point of synths/{synth}/lookup.csv, placed by {texts['method_title']} of its "
            f"descriptors ({texts['features']}), each z-scored with the table's mean and standard deviation. "
            f"Nearby dots sound alike by these descriptors. Made by rlimpro {__version__}."
        ),
        "placement": proj.placement,
        "corpus": None,
        "coverage": None if placed is None else placed.coverage,
        "trajectories": [],
        "run_note": "",
    }
    if frames is not None and placed is not None and draw is not None:
        cx, cy = xy(placed.xy[draw, 0], placed.xy[draw, 1])
        note = "" if len(draw) == len(frames.values) else f" ({len(draw):,} drawn)"
        data["corpus"] = {
            "name": corpus,
            "label": texts["corpus_label"] + note,
            "x": cx,
            "y": cy,
            "file": frames.file[draw].tolist(),
            "files": frames.files,
            "time": page_mod.rounded(frames.time[draw], resolution=1e-3),
            "nearest": placed.nearest_row[draw].tolist(),
            "distance": page_mod.significant(placed.distance[draw], 3),
            "off_map": int((~clamp_to_view(placed.xy[draw], view_box(coords))[1]).sum()),
        }
    for path in paths:
        item: dict[str, Any] = {"file": path["file"], "tx": None, "ty": None}
        item["x"], item["y"] = xy(path["x"], path["y"])
        if path["tx"] is not None:
            item["tx"], item["ty"] = xy(path["tx"], path["ty"])
        data["trajectories"].append(item)
    if paths and run_dir is not None:
        data["run_note"] = (
            f"Run {run_dir.name}: the agent (orange) is placed by its parameters, interpolating the grid points' "
            "positions; the target it followed (dashed) is placed like corpus frames."
        )
    return data


def _audio_note(mode: str, *, meta: dict[str, Any], duration: float) -> str:
    sr = int(meta["analysis"]["sample_rate"])
    _, native = audio_mod.engine_of(meta)
    if mode == "browser":
        return (
            f"Clicking synthesizes the grid point in this page with the formulas of rlimpro's native '{native}' "
            f"engine ({duration:g} s at {sr} Hz): the same sound rlimpro rendered for the table."
        )
    if mode == "embed":
        return f"Each grid point was rendered by rlimpro ({meta.get('engine')}, {duration:g} s) and is embedded in this page."
    return (
        f"Each grid point was rendered by rlimpro ({meta.get('engine')}, {duration:g} s) into the folder "
        f"{audio_mod.AUDIO_DIR}/ beside this page; keep it next to map.html."
    )
