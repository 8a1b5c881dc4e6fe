import pytest

from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS, UNITS, descriptor_index, expand_features
from rlimpro.errors import ParameterError


def test_canonical_order_and_counts():
    assert len(DESCRIPTORS) == 2 + 13 + 12 + 10 + 3
    assert DESCRIPTORS[0] == "loudness-dBFS"
    assert DESCRIPTORS[-1] == "pitch-midi"
    assert [d for d in DESCRIPTORS if d.startswith("chroma")][0] == "chroma-A"
    assert descriptor_index("mfcc-0") == 2
    assert len(set(DESCRIPTORS)) == len(DESCRIPTORS)


def test_expand_groups_and_names_in_canonical_order():
    names = expand_features(["pitch-hz", "mfcc", "loudness-dBFS", "mfcc-3"])
    assert names == ["loudness-dBFS", *GROUPS["mfcc"], "pitch-hz"]


def test_expand_unknown_suggests():
    with pytest.raises(ParameterError, match="did you mean 'centroid'"):
        expand_features(["centroidd"], source="features in x.yaml")
    with pytest.raises(ParameterError, match="x.yaml"):
        expand_features(["nonsense-thing"], source="features in x.yaml")
    with pytest.raises(ParameterError, match="empty"):
        expand_features([])


def test_every_descriptor_has_a_unit():
    assert set(UNITS) == set(DESCRIPTORS)
    assert UNITS["pitch-midi"] == UNITS["centroid-midi"] == "semitones"
    assert UNITS["loudness-dBFS"] == "dBFS"
