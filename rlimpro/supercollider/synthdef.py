"""SuperCollider SynthDef files (``.scsyndef``, format SCgf version 2): read their controls, write them from Python.

sclang is not needed to make a SynthDef: :class:`SynthDefBuilder` builds a UGen graph in Python and
:meth:`SynthDefBuilder.encode` writes the same bytes ``SynthDef(...).writeDefFile`` would (the file format
is documented in SuperCollider's "Synth Definition File Format" help). rlimpro's shipped SuperCollider
synths are made this way (:mod:`rlimpro.supercollider.examples`); :func:`read_synthdef` reads any
compiled SynthDef's name and controls, whoever wrote it.

Example::

    b = SynthDefBuilder("sine", [("freq", 440.0), ("amp", 0.5)])
    freq, amp = b.controls
    sig = b.binop("*", b.ugen("SinOsc", "ar", freq, math.pi / 2), amp)
    b.ugen("Out", "ar", 0, sig, outputs=0)
    Path("sine.scsyndef").write_bytes(b.encode())
"""

from __future__ import annotations

import dataclasses
import struct

from rlimpro.errors import SynthError

RATES = {"ir": 0, "kr": 1, "ar": 2}
#: BinaryOpUGen special indices (SuperCollider's Operator enum)
BINARY = {"+": 0, "-": 1, "*": 2, "/": 4, "min": 12, "max": 13, "pow": 25}
#: UnaryOpUGen special indices
UNARY = {"neg": 0, "abs": 5, "squared": 12, "sqrt": 14, "exp": 15, "midicps": 17, "dbamp": 21, "sin": 28,
         "cos": 29, "tanh": 36}


@dataclasses.dataclass(frozen=True)
class Output:
    """Output ``index`` of UGen number ``ugen`` in the graph, at ``rate`` (0 ir, 1 kr, 2 ar)."""

    ugen: int
    index: int
    rate: int


Input = Output | float | int


@dataclasses.dataclass
class _UGen:
    name: str
    rate: int
    inputs: list[Input]
    outputs: int
    special: int


class SynthDefBuilder:
    """Build one SynthDef: controls first (one ``Control`` UGen), then UGens in the order they are made.

    Parameters
    ----------
    name : str
        The SynthDef's name.
    controls : list of (str, float)
        Control names and default values, in order (the synth's parameters).
    """

    def __init__(self, name: str, controls: list[tuple[str, float]]):
        self.name = name
        self.control_names = [c[0] for c in controls]
        self.defaults = [float(c[1]) for c in controls]
        self.ugens: list[_UGen] = []
        self.constants: list[float] = []
        self.controls: list[Output] = []
        if controls:
            i = self._add("Control", 1, [], len(controls), 0)
            self.controls = [Output(i, k, 1) for k in range(len(controls))]

    def _add(self, name: str, rate: int, inputs: list[Input], outputs: int, special: int) -> int:
        for x in inputs:
            if isinstance(x, (int, float)):
                self._const(float(x))
        self.ugens.append(_UGen(name, rate, list(inputs), outputs, special))
        return len(self.ugens) - 1

    def _const(self, v: float) -> int:
        v = float(struct.unpack(">f", struct.pack(">f", v))[0])
        if v not in self.constants:
            self.constants.append(v)
        return self.constants.index(v)

    def ugen(self, name: str, rate: str, *inputs: Input, outputs: int = 1, special: int = 0) -> Output | list[Output] | None:
        """Add UGen ``name`` at ``rate`` (``ir``/``kr``/``ar``) with ``inputs``; return its output(s)."""
        r = RATES[rate]
        i = self._add(name, r, list(inputs), outputs, special)
        if outputs == 0:
            return None
        outs = [Output(i, k, r) for k in range(outputs)]
        return outs[0] if outputs == 1 else outs

    @staticmethod
    def _rate_of(*xs: Input) -> int:
        return max((x.rate for x in xs if isinstance(x, Output)), default=0)

    def binop(self, op: str, a: Input, b: Input) -> Output:
        """``a op b`` (``+ - * / min max pow``) at the faster of the inputs' rates."""
        r = self._rate_of(a, b)
        return Output(self._add("BinaryOpUGen", r, [a, b], 1, BINARY[op]), 0, r)

    def unop(self, op: str, a: Input) -> Output:
        """``op(a)`` (``neg abs squared sqrt exp midicps dbamp sin cos tanh``)."""
        r = self._rate_of(a)
        return Output(self._add("UnaryOpUGen", r, [a], 1, UNARY[op]), 0, r)

    def encode(self) -> bytes:
        """The ``.scsyndef`` file's bytes (SCgf version 2, one SynthDef)."""
        out = [b"SCgf", struct.pack(">iH", 2, 1), _pstr(self.name)]
        out.append(struct.pack(">i", len(self.constants)) + b"".join(struct.pack(">f", c) for c in self.constants))
        out.append(struct.pack(">i", len(self.defaults)) + b"".join(struct.pack(">f", d) for d in self.defaults))
        out.append(struct.pack(">i", len(self.control_names)))
        for i, n in enumerate(self.control_names):
            out.append(_pstr(n) + struct.pack(">i", i))
        out.append(struct.pack(">i", len(self.ugens)))
        for u in self.ugens:
            out.append(_pstr(u.name) + struct.pack(">biih", u.rate, len(u.inputs), u.outputs, u.special))
            for x in u.inputs:
                if isinstance(x, Output):
                    out.append(struct.pack(">ii", x.ugen, x.index))
                else:
                    out.append(struct.pack(">ii", -1, self._const(float(x))))
            out.append(bytes([u.rate]) * u.outputs if u.name != "Control" else bytes([1]) * u.outputs)
        out.append(struct.pack(">h", 0))
        return b"".join(out)


def _pstr(s: str) -> bytes:
    b = s.encode("ascii")
    if len(b) > 255:
        raise SynthError(f"SynthDef name {s[:40]!r}... is longer than 255 bytes")
    return bytes([len(b)]) + b


@dataclasses.dataclass(frozen=True)
class SynthDefInfo:
    """What rlimpro needs of a compiled SynthDef: its name and its controls (name, default) in order."""

    name: str
    controls: list[tuple[str, float]]


def read_synthdef(data: bytes, *, source: str = "SynthDef") -> SynthDefInfo:
    """Name and controls of the first SynthDef in ``data`` (SCgf version 1 or 2).

    Controls without a name (an unnamed ``Control`` input) are named ``control-<index>``.

    Raises
    ------
    SynthError
        Not a SynthDef file, or truncated.
    """
    try:
        if data[:4] != b"SCgf":
            raise SynthError(f"{source} is not a compiled SynthDef (it does not start with 'SCgf')")
        version, count = struct.unpack(">iH", data[4:10])
        if version not in (1, 2) or count < 1:
            raise SynthError(f"{source}: SynthDef file version {version} with {count} definitions is not supported")
        ifmt = ">i" if version == 2 else ">h"
        isz = struct.calcsize(ifmt)
        pos = 10

        def pstr() -> str:
            nonlocal pos
            n = data[pos]
            s = data[pos + 1 : pos + 1 + n].decode("ascii", "replace")
            pos += 1 + n
            return s

        def num() -> int:
            nonlocal pos
            (v,) = struct.unpack(ifmt, data[pos : pos + isz])
            pos += isz
            return v

        name = pstr()
        k = num()
        pos += 4 * k
        p = num()
        defaults = list(struct.unpack(f">{p}f", data[pos : pos + 4 * p]))
        pos += 4 * p
        names = {}
        for _ in range(num()):
            n = pstr()
            names[num()] = n
        return SynthDefInfo(name, [(names.get(i, f"control-{i}"), defaults[i]) for i in range(p)])
    except (struct.error, IndexError) as exc:
        raise SynthError(f"{source} is a truncated or corrupt SynthDef file ({exc})") from exc
