"""``map.png``: the static timbre map (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.tables import atomic_write

#: The view is the grid points' extent plus this fraction on every side; corpus frames and trajectory
#: points beyond it are drawn on its edge (hollow), so far-away frames cannot shrink the map to a dot.
VIEW_MARGIN = 0.08


def view_box(coords: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` of the view: the extent of ``coords`` (R, 2) plus :data:`VIEW_MARGIN`."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.where(hi - lo < 1e-12, 2.0, hi - lo)
    lo = np.where(hi - lo < 1e-12, lo - 1.0, lo)
    lo, hi = lo - VIEW_MARGIN * span, lo + span + VIEW_MARGIN * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def clamp_to_view(xy: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Points (M, 2) clamped into ``box``, and a mask (M,) of those that were inside it."""
    x0, x1, y0, y1 = box
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    return np.column_stack([np.clip(xy[:, 0], x0, x1), np.clip(xy[:, 1], y0, y1)]), inside


def _physical_label(spec: dict[str, Any], p: float) -> str:
    from rlimpro.synths.spec import ParamSpec

    value = float(ParamSpec(**spec).to_physical(p))
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{text} {spec.get('unit', '')}".strip()


def plot_map(
    path: Path,
    *,
    coords: np.ndarray,
    color: np.ndarray,
    color_spec: dict[str, Any],
    title: str,
    subtitle: str,
    axis_labels: tuple[str, str],
    corpus_xy: np.ndarray | None = None,
    corpus_label: str = "",
    trajectories: list[dict[str, Any]] | None = None,
) -> None:
    """Draw the map and write it to ``path`` atomically.

    Parameters
    ----------
    path : Path
        Output PNG.
    coords : ndarray, shape (R, 2)
        Map positions of the lookup rows.
    color : ndarray, shape (R,)
        Normalised value in [0, 1] of the parameter the points are coloured by.
    color_spec : dict
        That parameter's spec (name, unit, min, max, scale) for the colour bar.
    title, subtitle : str
    axis_labels : (str, str)
    corpus_xy : ndarray, shape (M, 2), optional
        Corpus frames on the map.
    corpus_label : str
    trajectories : list of dict, optional
        Each with ``x``, ``y`` (agent path) and ``file``; the first is drawn.
    """
    from matplotlib.figure import Figure  # a bare Figure renders with Agg; no pyplot, no GUI backend

    fig = Figure(figsize=(9, 7), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    n = len(coords)
    size = 4 if n > 4000 else 10 if n > 500 else 30
    sc = ax.scatter(coords[:, 0], coords[:, 1], c=color, cmap="viridis", vmin=0, vmax=1, s=size, linewidths=0,
                    label=f"grid points ({n:,})")
    box = view_box(coords)
    if corpus_xy is not None and len(corpus_xy):
        xy, inside = clamp_to_view(corpus_xy, box)
        ax.scatter(xy[inside, 0], xy[inside, 1], s=max(3, size // 3), c="#c81e1e", alpha=0.45, linewidths=0,
                   label=corpus_label)
        if (~inside).any():
            ax.scatter(xy[~inside, 0], xy[~inside, 1], s=16, facecolors="none", edgecolors="#c81e1e", alpha=0.6,
                       linewidths=0.8, clip_on=False, label=f"{int((~inside).sum()):,} frames beyond the map (on its edge)")
    for traj in (trajectories or [])[:1]:
        if traj.get("tx") is not None:
            txy, inside = clamp_to_view(np.column_stack([traj["tx"], traj["ty"]]), box)
            txy[~inside] = np.nan  # the line breaks where the target leaves the map (its frames are drawn on the edge)
            ax.plot(txy[:, 0], txy[:, 1], "--", color="0.35", lw=1, label=f"target ({traj['file']})")
        axy, _ = clamp_to_view(np.column_stack([traj["x"], traj["y"]]), box)
        ax.plot(axy[:, 0], axy[:, 1], "-o", color="#ff7800", lw=1.6, ms=2, label=f"agent ({traj['file']})")
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    bar = fig.colorbar(sc, ax=ax, ticks=ticks, shrink=0.85)
    bar.ax.set_yticklabels([_physical_label(color_spec, t) for t in ticks])
    scale = " (log scale)" if color_spec.get("scale") == "exp" else ""
    bar.set_label(f"{color_spec['name']}{scale}")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    import textwrap

    sub = "\n".join(textwrap.fill(line, 110) for line in subtitle.split("\n"))
    fig.suptitle(title, fontsize=13, fontweight="bold")
    ax.set_title(sub, fontsize=9, color="0.2")
    if corpus_xy is not None or trajectories:
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
