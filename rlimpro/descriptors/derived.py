"""Descriptors in musical units, derived from the measured ones: semitones instead of hertz.

A musician hears pitch and brightness on a log-frequency scale: a semitone is the same step at 100 Hz
as at 1000 Hz, where hertz make the step ten times larger. These descriptors put frequency-valued
measurements on the MIDI note scale (69 = A4 = 440 Hz, one unit per semitone):

- ``pitch-midi``: ``69 + 12 log2(pitch-hz / 440)`` on frames whose ``pitch-confidence`` is at least
  :data:`PITCHED_CONFIDENCE`, else :data:`UNPITCHED` (0). 0 cannot be mistaken for a note: the
  analyzer's lowest pitch is 57 Hz (MIDI 34.5) at the default settings.
- ``centroid-midi``, ``spread-midi``, ``rolloff-midi``: the same scale applied to ``centroid``,
  ``spread`` and ``rolloff`` (Hz); a frequency below MIDI 0 (8.18 Hz), e.g. the 0 Hz of silence, gives 0.

They are functions of other descriptors of the same frame, so wherever frames are averaged (causal
smoothing, a lookup row's mean over frames) they are derived again from the averaged values
(:func:`derive`): a lookup row's ``pitch-midi`` is the note of its mean pitch when its mean confidence
is high enough, never the mean of notes and zeros.
"""

from __future__ import annotations

import numpy as np

from rlimpro.descriptors.registry import descriptor_index

#: pitch-confidence (1 - YIN's normalised difference) at or above which a frame counts as pitched
PITCHED_CONFIDENCE = 0.8
#: pitch-midi of an unpitched or silent frame
UNPITCHED = 0.0
#: frequency of MIDI note 0, Hz; lower frequencies map to 0
MIDI0_HZ = 440.0 * 2.0 ** (-69.0 / 12.0)

#: (derived column, source column) on the MIDI scale
_LOG_FREQUENCY = (("centroid-midi", "centroid"), ("spread-midi", "spread"), ("rolloff-midi", "rolloff"))
#: names of every derived descriptor
DERIVED = ("pitch-midi", *(d for d, _ in _LOG_FREQUENCY))

_PITCH_HZ = descriptor_index("pitch-hz")
_PITCH_CONF = descriptor_index("pitch-confidence")
_PITCH_MIDI = descriptor_index("pitch-midi")
_LOG_COLUMNS = tuple((descriptor_index(d), descriptor_index(s)) for d, s in _LOG_FREQUENCY)


def hz_to_midi(hz: np.ndarray) -> np.ndarray:
    """MIDI note numbers (float) of frequencies in Hz; below :data:`MIDI0_HZ` (and 0 Hz) gives 0."""
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz >= MIDI0_HZ, 69.0 + 12.0 * np.log2(np.maximum(hz, MIDI0_HZ) / 440.0), 0.0)


def is_pitched(frames: np.ndarray) -> np.ndarray:
    """Which frames are pitched (confidence at or above :data:`PITCHED_CONFIDENCE` and a pitch > 0).

    Parameters
    ----------
    frames : ndarray, shape (..., len(DESCRIPTORS))

    Returns
    -------
    ndarray, shape (...,), bool
    """
    frames = np.asarray(frames)
    return (frames[..., _PITCH_CONF] >= PITCHED_CONFIDENCE) & (frames[..., _PITCH_HZ] > 0.0)


def derive(frames: np.ndarray) -> np.ndarray:
    """Fill the derived columns of ``frames`` from their source columns, in place; returns ``frames``.

    Parameters
    ----------
    frames : ndarray, shape (..., len(DESCRIPTORS)), float64
    """
    frames[..., _PITCH_MIDI] = np.where(is_pitched(frames), hz_to_midi(frames[..., _PITCH_HZ]), UNPITCHED)
    for dst, src in _LOG_COLUMNS:
        frames[..., dst] = hz_to_midi(frames[..., src])
    return frames
