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
