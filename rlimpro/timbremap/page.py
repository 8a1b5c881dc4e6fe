"""``map.html``: one self-contained page (inline CSS, JS and data; no network) showing the timbre map.

The template ``rlimpro/data/map.html`` holds the layout, ``rlimpro/data/map.js`` the drawing, hover,
click-to-play and the in-page synthesis of native engines. Python fills in one JSON block.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

import numpy as np

#: Descriptors shown in a grid point's tooltip (when in the table).
TOOLTIP_DESCRIPTORS = ("loudness-dBFS", "centroid", "flatness", "pitch-hz")
DESCRIPTOR_UNITS = {
    "loudness-dBFS": "dBFS",
    "loudness-peak": "dBFS",
    "centroid": "Hz",
    "spread": "Hz",
    "rolloff": "Hz",
    "flatness": "dB",
    "crest": "dB",
    "pitch-hz": "Hz",
}


def rounded(values: np.ndarray, *, resolution: float) -> list[float]:
    """Values rounded to a multiple of ``resolution``'s decade, as a JSON-ready list (keeps pages small)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    decimals = max(0, int(-np.floor(np.log10(resolution)))) if resolution > 0 else 6
    return np.round(values, decimals).tolist()


def coords_lists(xy: np.ndarray, *, span: float) -> tuple[list[float], list[float]]:
    """(M, 2) map coordinates -> two lists with about 1/100,000 of the map's span as resolution."""
    res = max(span, 1e-12) / 1e5
    return rounded(xy[:, 0], resolution=res), rounded(xy[:, 1], resolution=res)


def significant(values: np.ndarray, digits: int = 4) -> list[float]:
    """Values rounded to ``digits`` significant digits."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)]


def colormap_hex(name: str = "viridis", n: int = 64) -> list[str]:
    """``n`` colours of a matplotlib colormap as ``#rrggbb`` (the PNG uses the same map)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return [matplotlib.colors.to_hex(cmap(i / (n - 1))) for i in range(n)]


def render_page(data: dict[str, Any]) -> str:
    """The page's HTML text for ``data`` (the JSON the template's script reads).

    ``data`` must hold ``title`` (also used as the document title); see ``map.js`` for the rest.
    The JSON is written without NaN and with every ``<`` escaped, so no value can end the script block.
    """
    pkg = resources.files("rlimpro") / "data"
    template = (pkg / "map.html").read_text(encoding="utf-8")
    script = (pkg / "map.js").read_text(encoding="utf-8")
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    payload = payload.replace("<", "\\u003c")  # "<" occurs only inside JSON strings
    parts = {"@@TITLE@@": html.escape(str(data["title"])), "@@DATA@@": payload, "@@SCRIPT@@": script}
    return re.sub("|".join(map(re.escape, parts)), lambda m: parts[m.group(0)], template)
