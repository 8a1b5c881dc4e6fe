"""Action specifications (lin / exp / choice / rel / fixed) and the task action spaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.errors import ConfigError, ParameterError
from rlimpro.synths import load_spec
from rlimpro.tasks.actions import ControlActions
from rlimpro.tasks.specs import ActionLayout


@pytest.fixture(scope="module")
def fm():
    return load_spec("fm", workspace=Path("."))  # carrier 60..2000 Hz exp, harmonicity 0.5..4 lin, index 0..8 lin


def test_unnamed_parameters_are_controlled_over_their_whole_range(fm):
    layout = ActionLayout(fm)
    assert layout.controls == [0, 1, 2] and not layout.discrete
    u = np.array([[0.0, 0.5, 1.0], [0.3, 0.7, 0.1]])
    assert_allclose(layout.to_engine(u), u, atol=1e-12)
    assert_allclose(layout.physical(np.array([0.0, 0.5, 1.0])), [60.0, 2.25, 8.0], rtol=1e-12)


def test_lin_exp_choice_rel_fixed_map_to_physical_and_engine_values(fm):
    layout = ActionLayout(fm, {
        "carrier": {"type": "exp", "min": 100, "max": 1000},
        "harmonicity": {"type": "rel", "of": "carrier", "scale": 0.002, "offset": 0.5},
        "index": {"type": "choice", "values": [0, 2, 4, 8]},
    })
    assert layout.controls == [0, 2] and layout.n_controls == 2 and not layout.discrete
    phys = layout.physical(np.array([[0.5, 0.0], [1.0, 0.6], [0.0, 1.0]]))
    assert_allclose(phys[:, 0], [np.sqrt(100 * 1000), 1000.0, 100.0], rtol=1e-12)
    assert_allclose(phys[:, 1], 0.002 * phys[:, 0] + 0.5, rtol=1e-12)  # derived from the earlier carrier
    assert_allclose(phys[:, 2], [0.0, 4.0, 8.0])  # bins of width 1/4; u = 1 is the last choice
    engine = layout.to_engine(np.array([1.0, 0.6]))
    # carrier 1000 Hz on the synth's own exp map 60..2000 Hz
    assert_allclose(engine[0], np.log(1000 / 60) / np.log(2000 / 60), rtol=1e-12)
    assert_allclose(engine[2], 4.0 / 8.0)
    assert_allclose([spec.to_physical(p) for spec, p in zip(fm.params, engine, strict=True)], layout.physical(np.array([1.0, 0.6])), rtol=1e-9)


def test_rel_results_are_clipped_to_the_parameter_range_and_fixed_takes_no_control(fm):
    layout = ActionLayout(fm, {"harmonicity": {"type": "fixed", "value": 2.0}, "index": {"type": "rel", "of": 0, "scale": 1.0}})
    assert layout.controls == [0]
    phys = layout.physical(np.array([[0.0], [1.0]]))
    assert_allclose(phys[:, 1], 2.0)
    assert_allclose(phys[:, 2], [8.0, 8.0])  # carrier 60 or 2000 Hz, clipped to index 0..8


def test_all_choices_make_a_discrete_layout(fm):
    layout = ActionLayout(fm, {"carrier": {"type": "choice", "values": [110, 220, 440]}, "harmonicity": {"type": "choice", "values": [1, 2]},
                               "index": {"type": "fixed", "value": 1}})
    assert layout.discrete and layout.nvec == [3, 2]
    absolute = ControlActions(layout, mode="absolute")
    assert str(absolute.space()) == "MultiDiscrete([3 2])"
    u = absolute.apply(np.zeros(2), np.array([2, 0]))
    assert_allclose(layout.physical(u)[:2], [440, 1])
    inc = ControlActions(layout, mode="incremental")
    assert str(inc.space()) == "MultiDiscrete([3 3])"
    u2 = inc.apply(u, np.array([0, 2]))  # carrier down one choice, harmonicity up one
    assert_allclose(layout.physical(u2)[:2], [220, 2])
    assert_allclose(layout.physical(inc.apply(u2, np.array([2, 2])))[:2], [440, 2])  # clipped at the top


def test_continuous_actions_are_symmetric_boxes(fm):
    layout = ActionLayout(fm)
    inc = ControlActions(layout, mode="incremental", step_size=0.25)
    space = inc.space()
    assert space.dtype == np.float32 and (space.low == -1).all() and (space.high == 1).all()
    assert_allclose(inc.apply(np.array([0.5, 0.9, 0.1]), np.array([1.0, 1.0, -1.0])), [0.75, 1.0, 0.0])
    absolute = ControlActions(layout, mode="absolute")
    assert_allclose(absolute.apply(np.zeros(3), np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])
    assert_allclose(absolute.apply(np.zeros(3), absolute.to_action(np.array([0.2, 0.4, 0.6]))), [0.2, 0.4, 0.6], atol=1e-6)


def test_default_controls_give_the_synth_defaults(fm):
    layout = ActionLayout(fm, {"carrier": {"type": "exp", "min": 100, "max": 1000}})
    engine = layout.to_engine(layout.default_controls())
    assert_allclose(engine, [p.default for p in fm.params], atol=1e-12)


def test_describe_names_rel_sources(fm):
    layout = ActionLayout(fm, {"index": {"type": "rel", "of": "harmonicity", "scale": 2}})
    assert layout.describe()[2] == {"param": "index", "type": "rel", "of": "harmonicity", "scale": 2.0, "offset": 0.0}


# ---------------------------------------------------------------- malformed specs: clear errors
@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ({"carrier": {"type": "rel", "of": "index"}}, "can only derive from an earlier parameter"),
        ({"index": {"type": "rel", "of": "index"}}, "can only derive from an earlier parameter"),
        ({"index": {"type": "rel", "of": "volume"}}, "no such parameter"),
        ({"index": {"type": "rel", "of": 7}}, "parameters 0..2"),
        ({"index": {"type": "rel"}}, "needs 'of"),
        ({"index": {"type": "exp", "min": 0, "max": 8}}, "exp range needs min and max of the same sign"),
        ({"index": {"type": "exp", "min": -1, "max": 8}}, "exp range needs min and max of the same sign"),
        ({"index": {"type": "exp"}}, "exp range needs min and max of the same sign"),  # the synth's own 0..8
        ({"carrier": {"type": "lin", "min": 10, "max": 1000}}, "min 10 is outside the synth parameter's range 60..2000 Hz"),
        ({"index": {"type": "choice", "values": [1, 9]}}, "choice value 9 is outside"),
        ({"index": {"type": "choice"}}, "needs 'values"),
        ({"index": {"type": "fixed"}}, "needs 'value"),
        ({"index": {"type": "fixed", "value": 99}}, "fixed value 99 is outside"),
        ({"index": {"type": "lin", "values": [1]}}, "'values' belongs to type choice"),
        ({"index": {"type": "wobble"}}, "Input should be"),
        ({"indx": {"type": "lin"}}, "did you mean 'index'"),
        ({"carrier": {"type": "fixed", "value": 100}, "harmonicity": {"type": "fixed", "value": 1}, "index": {"type": "rel", "of": 0}},
         "leave at least one"),
    ],
)
def test_bad_specs_are_refused_naming_the_parameter(fm, specs, message):
    with pytest.raises(ConfigError) as exc:
        ActionLayout(fm, specs, source="cfg.yaml: [match.actions]")
    text = str(exc.value)
    assert message in text and text.startswith("cfg.yaml: [match.actions]")


def test_bad_action_mode_and_step(fm):
    layout = ActionLayout(fm)
    with pytest.raises(ParameterError, match="action mode 'relative'"):
        ControlActions(layout, mode="relative")
    with pytest.raises(ParameterError, match="step_size 0"):
        ControlActions(layout, step_size=0)
    with pytest.raises(ParameterError, match="expected 3 controls"):
        layout.physical(np.zeros(2))
