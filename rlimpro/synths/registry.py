"""The engine registry: engine name -> :class:`~rlimpro.synths.engine.Engine` class, with did-you-mean on a miss.

Engines are imported when first asked for, so a missing optional library (ctcsound, python-rtmidi)
breaks only the engine that needs it, with an install hint.
"""

from __future__ import annotations

import importlib

from rlimpro.errors import SynthError
from rlimpro.synths.engine import Engine
from rlimpro.synths.spec import SynthSpec

#: name -> "module:Class"; the name is synth.yaml's ``engine:`` value.
ENGINES: dict[str, str] = {
    "native": "rlimpro.synths.native:NativeEngine",
    "pd": "rlimpro.pd.engine:PdEngine",
    "faust": "rlimpro.faust.engine:FaustEngine",
    "csound": "rlimpro.csound.engine:CsoundEngine",
    "supercollider": "rlimpro.supercollider.engine:SuperColliderEngine",
    "midi": "rlimpro.midi.engine:MidiEngine",
}


def engine_names() -> list[str]:
    """Every registered engine name."""
    return list(ENGINES)


def engine_class(name: str) -> type[Engine]:
    """The engine class registered as ``name``.

    Raises
    ------
    SynthError
        Unknown name (with a close match and the known names).
    """
    from rlimpro.workspace import did_you_mean

    target = ENGINES.get(name)
    if target is None:
        raise SynthError(
            f"unknown synth engine '{name}'{did_you_mean(name, list(ENGINES))} (known: {', '.join(ENGINES)})"
        )
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make_engine(spec: SynthSpec) -> Engine:
    """The engine that renders ``spec`` (``spec.engine``), ready to render.

    Raises
    ------
    SynthError
        Unknown engine, or the engine's program or library is missing (with an install hint) or the
        synth's source does not compile or load (with the engine's own messages).
    """
    return engine_class(spec.engine)(spec)
