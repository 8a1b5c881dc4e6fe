"""Descriptor values and errors in the units a musician hears.

- frequencies in hertz (``pitch-hz``, ``centroid``, ``spread``, ``rolloff``) become semitones on the
  MIDI scale (:func:`~rlimpro.descriptors.derived.hz_to_midi`), so an error is in semitones;
- the ``-midi`` descriptors already are in semitones;
- levels (``loudness-dBFS``, ``loudness-peak``) stay in dB;
- everything else keeps its own (raw) unit.

Pitch errors count only on frames where the musician is pitched
(:func:`~rlimpro.descriptors.derived.is_pitched` of the target frame); the synth being unpitched there
counts as an error of its full size (an unpitched ``pitch-midi`` is 0). Pitch correlations are
computed, as in melody-extraction evaluation, over the frames where both are pitched, and
:func:`voicing` reports how often the synth is pitched when the musician is.
"""

from __future__ import annotations

import numpy as np

from rlimpro.descriptors.derived import hz_to_midi, is_pitched
from rlimpro.descriptors.registry import UNITS, descriptor_index

#: descriptors measured in Hz, reported in semitones
_HZ = tuple(name for name, unit in UNITS.items() if unit == "Hz")
PITCH = ("pitch-hz", "pitch-midi")


def musical_unit(name: str) -> str:
    """The unit errors of descriptor ``name`` are reported in: "semitones", "dB" or "" (raw)."""
    if name in _HZ or UNITS[name] == "semitones":
        return "semitones"
    if UNITS[name] in ("dB", "dBFS"):
        return "dB"
    return ""


def musical_values(name: str, frames: np.ndarray) -> np.ndarray:
    """Descriptor ``name`` of raw frames (shape (T, len(DESCRIPTORS))) in its musical unit, shape (T,)."""
    x = np.asarray(frames, dtype=np.float64)[:, descriptor_index(name)]
    return hz_to_midi(x) if name in _HZ else x


def scored_frames(name: str, target: np.ndarray) -> np.ndarray:
    """Frames on which descriptor ``name`` is scored, shape (T,), bool: for pitch those where the
    musician is pitched, else all."""
    target = np.asarray(target)
    return is_pitched(target) if name in PITCH else np.ones(target.shape[0], dtype=bool)


def median_error(name: str, player: np.ndarray, target: np.ndarray) -> float | None:
    """Median absolute error of descriptor ``name`` in its musical unit over the scored frames;
    None when no frame is scored.

    Parameters
    ----------
    player, target : ndarray, shape (T, len(DESCRIPTORS))
        Raw frames of the synth and of the musician.
    """
    keep = scored_frames(name, target)
    if not keep.any():
        return None
    err = np.abs(musical_values(name, player[keep]) - musical_values(name, target[keep]))
    return float(np.median(err))


def correlation(name: str, player: np.ndarray, target: np.ndarray) -> float | None:
    """Pearson correlation of descriptor ``name`` (musical unit) between player and musician over the
    scored frames (for pitch: where both are pitched); None with fewer than 3 frames or a constant series."""
    keep = scored_frames(name, target)
    if name in PITCH:
        keep &= is_pitched(player)
    if keep.sum() < 3:
        return None
    a = musical_values(name, player[keep])
    b = musical_values(name, target[keep])
    if np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def voicing(player: np.ndarray, target: np.ndarray) -> float | None:
    """Share of the musician's pitched frames on which the player is pitched too, in [0, 1]; None when
    the musician is never pitched."""
    mus = is_pitched(target)
    if not mus.any():
        return None
    return float(is_pitched(player)[mus].mean())
