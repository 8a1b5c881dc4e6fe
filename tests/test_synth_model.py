"""The lookup grid's pitch-aware interpolation: no note averaged with no note, nor across an octave."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors.registry import DESCRIPTORS, descriptor_index
from rlimpro.env.synth_model import PITCH_JUMP, LookupGrid

P = descriptor_index("pitch-midi")
C = descriptor_index("centroid")


def grid_of(notes: list[float]) -> LookupGrid:
    """A 1-parameter grid of len(notes) rows with those notes (0 = unpitched) and centroid = row index."""
    v = np.zeros((len(notes), len(DESCRIPTORS)))
    v[:, P] = notes
    v[:, C] = np.arange(len(notes))
    return LookupGrid.of_descriptors(v, n_params=1, subdiv=len(notes), interpolation="multilinear")


def test_notes_interpolate_between_pitched_corners():
    g = grid_of([60.0, 62.0])
    assert g(np.array([0.25]))[P] == pytest.approx(60.5)
    assert g(np.array([0.25]))[C] == pytest.approx(0.25)  # other columns as before


def test_no_note_is_never_averaged_with_a_note():
    g = grid_of([60.0, 0.0])
    assert g(np.array([0.4]))[P] == 60.0  # the pitched corner weighs 0.6: its note, not 36
    assert g(np.array([0.6]))[P] == 0.0  # it weighs 0.4: unpitched
    assert g(np.array([0.6]))[C] == pytest.approx(0.6)


def test_no_sound_lies_between_an_octave_jump():
    g = grid_of([60.0, 60.0 + PITCH_JUMP + 6])
    assert g(np.array([0.4]))[P] == 60.0 and g(np.array([0.6]))[P] == 72.0


def test_batch_equals_single_queries_and_packed_copies_follow_raw_pitch():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(16, len(DESCRIPTORS)))
    v[:, P] = rng.choice([0.0, 50.0, 51.0, 63.0], size=16)
    g = LookupGrid.of_descriptors(v, n_params=2, subdiv=4, interpolation="multilinear")
    pts = rng.uniform(size=(50, 2))
    assert_allclose(g.batch(pts), np.stack([g(p) for p in pts]), atol=1e-12)
    packed = g.with_values(v[:, [P, C]] * 2.0, gated=[0], unvoiced=[-5.0])
    got = packed.batch(pts)
    raw = g.batch(pts)
    assert_allclose(got[:, 0], np.where(raw[:, P] == 0, -5.0, 2.0 * raw[:, P]), atol=1e-9)
