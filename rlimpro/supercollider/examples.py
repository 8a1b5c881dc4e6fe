"""The SuperCollider SynthDefs rlimpro ships, built in Python (``python -m rlimpro.supercollider.examples``).

Each function returns a :class:`~rlimpro.supercollider.synthdef.SynthDefBuilder`; :func:`write_all`
writes the ``synth.scsyndef`` files of the built-in synths. The sclang code each one corresponds to is
in its docstring (and beside the file as ``synth.scd``, for SuperCollider users).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from rlimpro.supercollider.synthdef import SynthDefBuilder

HALF_PI = math.pi / 2


def sine() -> SynthDefBuilder:
    """``SynthDef(\\rlimpro_sine, { |frequency=440, amplitude=0.5| Out.ar(0, SinOsc.ar(frequency, pi/2) * amplitude) })``

    ``amplitude * cos(2 pi frequency t)``, as the native engine (SinOsc with phase pi/2 is a cosine).
    """
    b = SynthDefBuilder("rlimpro_sine", [("frequency", 440.0), ("amplitude", 0.5)])
    freq, amp = b.controls
    b.ugen("Out", "ar", 0, b.binop("*", b.ugen("SinOsc", "ar", freq, HALF_PI), amp), outputs=0)
    return b


def fm() -> SynthDefBuilder:
    """``SynthDef(\\rlimpro_fm, { |carrier=440, harmonicity=1, index=1|
    Out.ar(0, 0.5 * SinOsc.ar(carrier, SinOsc.ar(carrier * harmonicity) * index + (pi/2))) })``

    ``0.5 * cos(2 pi fc t + I sin(2 pi h fc t))``, as the native engine.
    """
    b = SynthDefBuilder("rlimpro_fm", [("carrier", 440.0), ("harmonicity", 1.0), ("index", 1.0)])
    fc, h, index = b.controls
    mod = b.ugen("SinOsc", "ar", b.binop("*", fc, h), 0.0)
    phase = b.binop("+", b.binop("*", mod, index), HALF_PI)
    b.ugen("Out", "ar", 0, b.binop("*", b.ugen("SinOsc", "ar", fc, phase), 0.5), outputs=0)
    return b


SUBTRACTIVE_CONTROLS = [
    ("pitch", 110.0), ("detune", 0.005), ("width", 0.3), ("mix", 0.3), ("noise", 0.0),
    ("cutoff", 2000.0), ("rq", 0.3), ("vibrato_rate", 5.0), ("vibrato_depth", 0.0), ("amplitude", 0.5),
]


def subtractive() -> SynthDefBuilder:
    """A ten-control subtractive synth: two detuned saws and a pulse, noise, a resonant low-pass, vibrato.

    ``SynthDef(\\rlimpro_subtractive, { |pitch=110, detune=0.005, width=0.3, mix=0.3, noise=0,
    cutoff=2000, rq=0.3, vibrato_rate=5, vibrato_depth=0, amplitude=0.5|
    var f = pitch * (SinOsc.kr(vibrato_rate) * vibrato_depth + 1);
    var osc = (Saw.ar(f) + Saw.ar(f * (1 + detune))) * 0.5 * (1 - mix) + (Pulse.ar(f, width) * mix);
    var sig = RLPF.ar(osc + (WhiteNoise.ar * noise), cutoff, rq);
    Out.ar(0, (sig * amplitude).tanh * 0.7) })``
    """
    b = SynthDefBuilder("rlimpro_subtractive", SUBTRACTIVE_CONTROLS)
    pitch, detune, width, mix, noise, cutoff, rq, vrate, vdepth, amp = b.controls
    vib = b.binop("+", b.binop("*", b.ugen("SinOsc", "kr", vrate, 0.0), vdepth), 1.0)
    f = b.binop("*", pitch, vib)
    saws = b.binop("+", b.ugen("Saw", "ar", f), b.ugen("Saw", "ar", b.binop("*", f, b.binop("+", detune, 1.0))))
    saws = b.binop("*", b.binop("*", saws, 0.5), b.binop("-", 1.0, mix))
    pulse = b.binop("*", b.ugen("Pulse", "ar", f, width), mix)
    src = b.binop("+", b.binop("+", saws, pulse), b.binop("*", b.ugen("WhiteNoise", "ar"), noise))
    sig = b.ugen("RLPF", "ar", src, cutoff, rq)
    out = b.binop("*", b.unop("tanh", b.binop("*", sig, amp)), 0.7)
    b.ugen("Out", "ar", 0, out, outputs=0)
    return b


EXAMPLES = {"sine": sine, "fm": fm, "sc-subtractive": subtractive}


def write_all(builtin_dir: Path) -> list[Path]:
    """Write ``<builtin_dir>/<synth>/synth.scsyndef`` for every example; return the paths."""
    out = []
    for synth, make in EXAMPLES.items():
        path = builtin_dir / synth / "synth.scsyndef"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make().encode())
        out.append(path)
    return out


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped files
    from rlimpro.workspace import BUILTIN_SYNTHS_DIR

    for p in write_all(BUILTIN_SYNTHS_DIR):
        print(p, file=sys.stderr)
