"""Errors in musical units, hand-computed: semitones for frequencies, dB for levels, pitched frames only."""

import numpy as np
import pytest

from rlimpro.descriptors import units as mu
from rlimpro.descriptors.registry import DESCRIPTORS, descriptor_index

D = len(DESCRIPTORS)
IX = {n: descriptor_index(n) for n in DESCRIPTORS}


def frames(**cols):
    n = len(next(iter(cols.values())))
    x = np.zeros((n, D))
    for name, values in cols.items():
        x[:, IX[name.replace("_", "-")]] = values
    return x


def test_units_of_descriptors():
    assert mu.musical_unit("pitch-hz") == mu.musical_unit("centroid") == mu.musical_unit("pitch-midi") == "semitones"
    assert mu.musical_unit("loudness-dBFS") == mu.musical_unit("flatness") == "dB"
    assert mu.musical_unit("mfcc-1") == ""


def test_pitch_error_in_semitones_on_pitched_frames():
    conf = [0.9, 0.9, 0.9, 0.1]
    musician = frames(pitch_hz=[440.0, 440.0, 220.0, 300.0], pitch_confidence=conf)
    synth = frames(pitch_hz=[466.1638, 440.0, 246.9417, 100.0], pitch_confidence=[0.9] * 4)
    # errors 1, 0, 2 semitones; the unpitched 4th frame is not scored: median 1
    assert mu.median_error("pitch-hz", synth, musician) == pytest.approx(1.0, abs=1e-4)


def test_loudness_and_centroid_errors():
    musician = frames(loudness_dBFS=[-20.0, -30.0, -10.0], centroid=[1000.0, 2000.0, 500.0])
    synth = frames(loudness_dBFS=[-23.0, -30.0, -4.0], centroid=[2000.0, 2000.0, 500.0 * 2 ** (1 / 12)])
    assert mu.median_error("loudness-dBFS", synth, musician) == pytest.approx(3.0)
    assert mu.median_error("centroid", synth, musician) == pytest.approx(1.0, abs=1e-9)  # 12, 0, 1 st


def test_correlation_over_frames_where_both_are_pitched_and_voicing():
    midi = np.array([60.0, 62, 64, 65, 67, 69])
    musician = frames(pitch_midi=midi, pitch_hz=440 * 2 ** ((midi - 69) / 12), pitch_confidence=[0.95] * 6)
    synth_midi = midi + np.array([0.1, -0.1, 0.0, 0.0, 0.2, 0.0])
    synth = frames(pitch_midi=np.where(np.arange(6) == 3, 0.0, synth_midi), pitch_hz=440 * 2 ** ((synth_midi - 69) / 12),
                   pitch_confidence=[0.95, 0.95, 0.95, 0.1, 0.95, 0.95])
    keep = np.arange(6) != 3
    expected = np.corrcoef(synth_midi[keep], midi[keep])[0, 1]
    assert mu.correlation("pitch-midi", synth, musician) == pytest.approx(expected)
    assert mu.voicing(synth, musician) == pytest.approx(5 / 6)
    # the unpitched frame counts as the full error in the median: |0 - 65| among 0.1, 0.1, 0, 65, 0.2, 0
    assert mu.median_error("pitch-midi", synth, musician) == pytest.approx(0.1)
    assert mu.correlation("pitch-midi", np.repeat(synth[:1], 6, axis=0), musician) is None  # constant
