"""How ``map.html`` plays a grid point's sound.

There is no server behind the page, so the sound of every grid point must either be computable in the
page or shipped with it. Three modes:

- ``browser``: native engines (sine, fm, granular). The page carries the engine's formulas (ported to
  JavaScript in ``rlimpro/data/map.js``), the parameter mappings the lookup table was computed with and,
  for granular, the engine's fixed grain source and jitter sequence; it synthesizes the clicked point
  at the table's analysis sample rate. This is the same sound rlimpro's engine renders (the tests
  compare the two sample by sample), costs nothing per point and scales to any table size.
- ``embed``: rlimpro renders every grid point (``make_renderer``) and the page carries each clip as an
  Ogg Vorbis data URI (~7 kB per 0.5 s clip). The page stays one self-contained file; for small tables.
- ``files``: rlimpro renders every grid point to ``synths/<synth>/map-audio/<row>.ogg`` beside the page
  (re-used while the synth, the grid and the clip settings are unchanged). For Pure Data synths with
  large tables; copy the folder along with the page.

``auto`` picks ``browser`` for native engines, else ``embed`` up to :data:`EMBED_MAX_ROWS` rows, else
``files``.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import ParameterError, SynthError

AUDIO_MODES: tuple[str, ...] = ("auto", "browser", "embed", "files")
#: Native engines whose formulas the page implements.
BROWSER_ENGINES: tuple[str, ...] = ("sine", "fm", "granular")
EMBED_MAX_ROWS = 512  # ~3.5 MB of Ogg Vorbis in the page
EMBED_HARD_LIMIT = 4000
CLIP_SECONDS = 0.5
FADE_SECONDS = 0.005  # linear fade in/out against clicks at the clip's ends
AUDIO_DIR = "map-audio"
_RENDER_CHUNK = 64
#: GranularEngine's jitter when the synth has no jitter parameter (a literal in its _grain_values).
GRANULAR_DEFAULT_JITTER = 0.2


def engine_of(meta: dict[str, Any]) -> tuple[str, str | None]:
    """``("native", "fm")`` or ``("pd", None)`` from a lookup sidecar's ``engine`` entry."""
    engine = str(meta.get("engine", ""))
    if engine.startswith("native:"):
        return "native", engine.split(":", 1)[1]
    return ("pd", None) if engine == "pd" else (engine, None)


def choose_mode(mode: str, *, meta: dict[str, Any], rows: int) -> str:
    """Resolve ``auto`` and check that ``mode`` fits this table.

    Raises
    ------
    ParameterError
        Unknown mode; ``browser`` for an engine the page does not implement; ``embed`` on a table
        too large to embed.
    """
    from rlimpro.workspace import did_you_mean

    if mode not in AUDIO_MODES:
        raise ParameterError(f"--audio {mode}: choose one of {', '.join(AUDIO_MODES)}{did_you_mean(mode, AUDIO_MODES)}")
    kind, native = engine_of(meta)
    in_browser = kind == "native" and native in BROWSER_ENGINES
    if mode == "auto":
        return "browser" if in_browser else ("embed" if rows <= EMBED_MAX_ROWS else "files")
    if mode == "browser" and not in_browser:
        names = {"pd": "Pure Data", "faust": "Faust", "csound": "Csound", "supercollider": "SuperCollider", "midi": "MIDI"}
        what = f"native engine '{native}'" if kind == "native" else f"a {names.get(kind, kind)} synth"
        raise ParameterError(
            f"--audio browser: the page can synthesize only the native engines {', '.join(BROWSER_ENGINES)}, "
            f"this table comes from {what}; use --audio embed or --audio files"
        )
    if mode == "embed" and rows > EMBED_HARD_LIMIT:
        raise ParameterError(
            f"--audio embed: {rows} clips would make map.html about {rows * 9 // 1000} MB; "
            f"embedding is limited to {EMBED_HARD_LIMIT} rows, use --audio files"
        )
    return mode


def browser_payload(*, meta: dict[str, Any], duration: float) -> dict[str, Any]:
    """What the page needs to synthesize a native engine: engine, mappings, rate, duration (+ granular data).

    Parameters
    ----------
    meta : dict
        The lookup sidecar (its ``params`` are the mappings the table was computed with).
    duration : float
        Seconds per clip.
    """
    from rlimpro.synths.native import DEFAULT_DENSITY, GRANULAR_SEED, grain_source

    _, native = engine_of(meta)
    sr = int(meta["analysis"]["sample_rate"])
    payload: dict[str, Any] = {
        "mode": "browser",
        "engine": native,
        "sample_rate": sr,
        "duration": duration,
        "fade": FADE_SECONDS,
        "params": meta["params"],
    }
    if native == "granular":
        from rlimpro.synths.spec import ParamSpec

        specs = [ParamSpec(**p) for p in meta["params"]]
        max_density = _granular_max_density(specs)
        n_grains = int(np.ceil(duration * max_density)) + 2
        # GranularEngine re-seeds its generator for every sound and draws (onset, position) jitter
        # pairs in order: the sequence is the same for every grid point.
        jitter = np.random.default_rng(GRANULAR_SEED).uniform(-0.5, 0.5, size=(n_grains, 2))
        payload["granular"] = {
            "source": base64.b64encode(grain_source(sr).astype("<f4").tobytes()).decode("ascii"),
            "jitter": jitter.ravel().tolist(),
            "default_density": DEFAULT_DENSITY,
            "default_jitter": GRANULAR_DEFAULT_JITTER,
        }
    return payload


def _granular_max_density(specs: list) -> float:
    from rlimpro.synths.native import DEFAULT_DENSITY

    if len(specs) > 3:
        return float(max(specs[3].to_physical(0.0), specs[3].to_physical(1.0)))
    return DEFAULT_DENSITY


def render_spec(*, synth: str, workspace: Path, meta: dict[str, Any]):
    """The synth spec to render this table's grid points with (the table's own parameter mappings).

    Raises
    ------
    NotFoundError, ConfigError, ParameterError
        The synth's definition is gone or changed its parameter count.
    """
    from rlimpro.synths import ParamSpec, load_spec
    from rlimpro.synths.spec import SOURCE_EXAMPLES

    kind, _ = engine_of(meta)
    spec = load_spec(synth, workspace=workspace, n_params=int(meta["n_params"]), engine=kind if kind in SOURCE_EXAMPLES else None)
    return spec.model_copy(update={"params": [ParamSpec(**p) for p in meta["params"]]})


def _fade(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n = min(int(round(FADE_SECONDS * sample_rate)), audio.shape[-1] // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False)
        audio = audio.copy()
        audio[..., :n] *= ramp
        audio[..., -n:] *= ramp[::-1]
    return audio


def encode_ogg(clip: np.ndarray, *, sample_rate: int) -> bytes:
    """One mono clip (n,) in [-1, 1] -> Ogg Vorbis bytes."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(clip, -1.0, 1.0).astype(np.float32), sample_rate, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def render_clips(
    spec,
    params: np.ndarray,
    *,
    duration: float,
    sample_rate: int,
    advance: Callable[[int], None] = lambda n: None,
) -> list[bytes]:
    """Render every parameter row with rlimpro's renderer; return Ogg Vorbis clips.

    Parameters
    ----------
    spec : SynthSpec
    params : ndarray, shape (R, N)
        Grid points in [0, 1].
    duration : float
        Seconds per clip.
    sample_rate : int
        Hz (the table's analysis rate).
    advance : callable
        Progress callback, called with the number of rows done.

    Returns
    -------
    list of bytes, length R

    Raises
    ------
    SynthError
        The renderer failed or is not available.
    """
    from rlimpro.synths import make_renderer

    try:
        renderer = make_renderer(spec)
    except ModuleNotFoundError as exc:
        raise SynthError(f"synth '{spec.name}': its {spec.engine} renderer is not available ({exc})") from exc
    clips: list[bytes] = []
    for start in range(0, len(params), _RENDER_CHUNK):
        block = renderer.render(params[start : start + _RENDER_CHUNK], duration=duration, sample_rate=sample_rate)
        block = _fade(np.asarray(block, dtype=np.float64), sample_rate)
        clips.extend(encode_ogg(c, sample_rate=sample_rate) for c in block)
        advance(len(block))
    return clips


def embed_payload(clips: list[bytes], *, sample_rate: int, duration: float) -> dict[str, Any]:
    """Page payload with every clip as a data URI."""
    return {
        "mode": "embed",
        "sample_rate": sample_rate,
        "duration": duration,
        "clips": ["data:audio/ogg;base64," + base64.b64encode(c).decode("ascii") for c in clips],
    }


def files_key(*, meta: dict[str, Any], duration: float) -> dict[str, Any]:
    """What identifies a ``map-audio`` folder's contents (re-rendered when it changes)."""
    return {
        "engine": meta.get("engine"),
        "params": meta.get("params"),
        "n_params": meta.get("n_params"),
        "subdiv": meta.get("subdiv"),
        "rows": meta.get("rows"),
        "sample_rate": meta["analysis"]["sample_rate"],
        "duration": duration,
        "fade": FADE_SECONDS,
        "format": "ogg-vorbis",
    }


def clip_name(row: int) -> str:
    """File name of a row's clip in the audio folder."""
    return f"{row:06d}.ogg"


def audio_dir_is_current(folder: Path, *, key: dict[str, Any], rows: int) -> bool:
    """True when ``folder`` holds all ``rows`` clips rendered with ``key``."""
    manifest = folder / "manifest.json"
    try:
        stored = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if json.dumps(stored, sort_keys=True) != json.dumps(key, sort_keys=True):
        return False
    return all((folder / clip_name(i)).is_file() for i in range(rows))


def write_audio_dir(folder: Path, clips: list[bytes], *, key: dict[str, Any]) -> None:
    """Write the clips and a manifest into a temporary folder, then move it onto ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for i, clip in enumerate(clips):
            (tmp / clip_name(i)).write_bytes(clip)
        (tmp / "manifest.json").write_text(json.dumps(key, indent=2) + "\n")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def files_payload(*, rows: int, sample_rate: int, duration: float) -> dict[str, Any]:
    """Page payload pointing at the clips beside the page."""
    return {
        "mode": "files",
        "sample_rate": sample_rate,
        "duration": duration,
        "folder": AUDIO_DIR,
        "digits": 6,
        "rows": rows,
    }


def check_duration(duration: float) -> None:
    """Refuse clip lengths outside 0.05..10 s."""
    if not (0.05 <= duration <= 10.0):
        raise ParameterError(f"--audio-duration {duration}: choose between 0.05 and 10 seconds")
