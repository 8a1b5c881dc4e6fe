"""The descriptor registry: canonical names, their groups and their canonical order.

The canonical order is the column order of every table and of the ``/rlimpro/target`` OSC message.

========== ======================================================= ==========================
group      descriptors                                             silence / near-silence
========== ======================================================= ==========================
loudness   loudness-dBFS (RMS of the frame, dBFS; full-scale sine  floored at -120 dBFS
           is -3.01), loudness-peak (max |x|, dBFS)
mfcc       mfcc-0 … mfcc-12 (DCT-II, ortho, of 40 log-mel bands    log-mel floored at -100 dB
           in dB; power spectrum of a Hann-windowed frame)
chroma     chroma-A … chroma-G# (12 pitch classes from A, max-     all 0
           normalised per frame)
specshape  centroid (Hz), spread (Hz), skewness, kurtosis of the   all 0; flatness 0 dB;
           magnitude spectrum; rolloff (Hz, 95 % of power);        crest 0 dB
           flatness (dB, geometric/arithmetic mean of power);
           crest (dB, max/mean of magnitude); centroid-midi,
           spread-midi, rolloff-midi (the same on the MIDI
           semitone scale, 69 = 440 Hz)
pitch      pitch-hz (YIN, de Cheveigné & Kawahara 2002, range      0 Hz and confidence 0;
           4 sr/(3 window) … sr/2, i.e. 57 Hz … 22 kHz at the      pitch-midi 0
           defaults), pitch-confidence (1 - CMNDF at
           the chosen lag, in [0, 1]), pitch-midi (semitones,
           69 = A4; 0 where the frame is not pitched)
========== ======================================================= ==========================

The ``-midi`` descriptors are derived from the others (:mod:`rlimpro.descriptors.derived`).
"""

from __future__ import annotations

from collections.abc import Iterable

from rlimpro.errors import ParameterError

PITCH_CLASSES = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")

GROUPS: dict[str, tuple[str, ...]] = {
    "loudness": ("loudness-dBFS", "loudness-peak"),
    "mfcc": tuple(f"mfcc-{i}" for i in range(13)),
    "chroma": tuple(f"chroma-{p}" for p in PITCH_CLASSES),
    "specshape": (
        "centroid", "spread", "skewness", "kurtosis", "rolloff", "flatness", "crest",
        "centroid-midi", "spread-midi", "rolloff-midi",
    ),
    "pitch": ("pitch-hz", "pitch-confidence", "pitch-midi"),
}

#: Every descriptor in canonical order (the order of the groups above).
DESCRIPTORS: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)

_INDEX = {name: i for i, name in enumerate(DESCRIPTORS)}

#: The unit each descriptor is measured in ("" for dimensionless values).
UNITS: dict[str, str] = {
    **{n: "dBFS" for n in GROUPS["loudness"]},
    **{n: "" for n in GROUPS["mfcc"] + GROUPS["chroma"]},
    "centroid": "Hz", "spread": "Hz", "skewness": "", "kurtosis": "", "rolloff": "Hz", "flatness": "dB", "crest": "dB",
    "centroid-midi": "semitones", "spread-midi": "semitones", "rolloff-midi": "semitones",
    "pitch-hz": "Hz", "pitch-confidence": "", "pitch-midi": "semitones",
}


def descriptor_index(name: str) -> int:
    """Column index of descriptor ``name`` in the canonical order."""
    return _INDEX[name]


def expand_features(items: Iterable[str], *, source: str = "features") -> list[str]:
    """Expand group names and descriptor names into descriptor names, in canonical order, no duplicates.

    ``["mfcc", "loudness-dBFS"]`` -> ``["loudness-dBFS", "mfcc-0", ..., "mfcc-12"]``.

    Parameters
    ----------
    items : iterable of str
        Group names (``loudness``, ``mfcc``, ``chroma``, ``specshape``, ``pitch``) or descriptor names.
    source : str
        Where the names come from, used in error messages (e.g. ``"features_reward in fm.yaml"``).

    Raises
    ------
    ParameterError
        An item is neither a group nor a descriptor (the message suggests a close match), or the list
        is empty.
    """
    import difflib

    chosen: set[str] = set()
    items = list(items)
    if not items:
        raise ParameterError(f"{source}: the list of features is empty; name groups such as 'mfcc'")
    for item in items:
        if item in GROUPS:
            chosen.update(GROUPS[item])
        elif item in _INDEX:
            chosen.add(item)
        else:
            close = difflib.get_close_matches(item, list(GROUPS) + list(DESCRIPTORS), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ParameterError(
                f"{source}: '{item}' is not a descriptor or group{hint} (groups: {', '.join(GROUPS)})"
            )
    return [name for name in DESCRIPTORS if name in chosen]
