"""How descriptors are scaled for distances: z-scores with a lookup table's statistics.

One rule, shared by the learning environment's feature space and the timbre map, for a descriptor
the synth does not vary: its standard deviation over the table is then set to 1, in the
descriptor's own unit, so the descriptor stays finite and is measured in its unit (1 dB, 1 Hz).
"Does not vary" means a standard deviation below ``CONSTANT_RTOL * max(1, |mean|)``: analysis
rounding alone makes, for example, the peak level of an FM synth with a fixed amplitude wobble by
4.5e-5 dB across its grid, and dividing by that turned any other level into a z-score of 10^5.
"""

from __future__ import annotations

import numpy as np

#: A descriptor whose standard deviation over a table is below this times ``max(1, |mean|)`` counts
#: as constant (0.009 dB at -9 dBFS, 0.36 Hz at 360 Hz, 0.001 for a chroma value).
CONSTANT_RTOL = 1e-3


def constant_columns(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Which descriptors the table does not vary, shape (D,), bool (see the module docstring)."""
    mean = np.asarray(mean, dtype=np.float64)
    return np.asarray(std, dtype=np.float64) <= CONSTANT_RTOL * np.maximum(1.0, np.abs(mean))


def z_scale(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The divisor of the z-scores, shape (D,): ``std``, or 1 where :func:`constant_columns` holds.

    Parameters
    ----------
    mean, std : ndarray, shape (D,)
        A table's per-descriptor mean and standard deviation, in the descriptors' units.
    """
    return np.where(constant_columns(mean, std), 1.0, np.asarray(std, dtype=np.float64))


# ---------------------------------------------------------------- distances in musical units
#: The change in a descriptor that counts as one unit of distance where a musician has a scale for it:
#: a semitone of pitch, a minor third (3 semitones) of brightness (centroid, spread, rolloff), 3 dB of
#: level. So a note a semitone off costs as much as a level 3 dB off, and as much as a brightness a
#: minor third off. Every other descriptor is measured in standard deviations of the lookup table.
PERCEPTUAL_UNITS: dict[str, float] = {
    "pitch-midi": 1.0,
    "centroid-midi": 3.0,
    "spread-midi": 3.0,
    "rolloff-midi": 3.0,
    "loudness-dBFS": 3.0,
    "loudness-peak": 3.0,
}
#: descriptors whose distance counts only on frames where the target is pitched
PITCH_DESCRIPTORS = ("pitch-hz", "pitch-midi")
#: distance units: "perceptual" (PERCEPTUAL_UNITS where defined, table standard deviations elsewhere)
#: or "table" (standard deviations everywhere, every descriptor counted on every frame)
DISTANCE_UNITS = ("perceptual", "table")


def distance_unit(mean: np.ndarray, std: np.ndarray, *, units: str) -> np.ndarray:
    """The divisor of each descriptor in distances, shape (D,), in the descriptor's own unit.

    Parameters
    ----------
    mean, std : ndarray, shape (len(DESCRIPTORS),)
        A table's mean and z-score divisor (``std`` as :func:`z_scale` makes it, > 0).
    units : {"perceptual", "table"}
        See :data:`DISTANCE_UNITS`.
    """
    from rlimpro.descriptors.registry import DESCRIPTORS
    from rlimpro.errors import ParameterError

    if units not in DISTANCE_UNITS:
        raise ParameterError(f"distance units '{units}': choose {' or '.join(DISTANCE_UNITS)}")
    unit = np.array(std, dtype=np.float64)
    if units == "perceptual":
        for i, name in enumerate(DESCRIPTORS):
            if name in PERCEPTUAL_UNITS:
                unit[i] = PERCEPTUAL_UNITS[name]
    return unit


def varied_columns(values: np.ndarray, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Which descriptors a table really varies, shape (D',), bool: not :func:`constant_columns`, and
    for a descriptor with a perceptual unit, a spread (5th to 95th percentile) of at least one unit (a
    semitone, 3 dB): an FM synth's level wobbling by 0.2 dB across its table is no level control.

    Parameters
    ----------
    values : ndarray, shape (rows, D')
        A table's values of the descriptors ``names``.
    names : sequence of str, length D'
    """
    values = np.asarray(values, dtype=np.float64)
    varied = ~constant_columns(values.mean(axis=0), values.std(axis=0))
    lo, hi = np.percentile(values, [5, 95], axis=0)
    for i, name in enumerate(names):
        if name in PERCEPTUAL_UNITS and hi[i] - lo[i] < PERCEPTUAL_UNITS[name]:
            varied[i] = False
    return varied
