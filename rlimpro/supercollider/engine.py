"""SuperCollider synths: a compiled SynthDef (``synth.scsyndef``) rendered by ``scsynth -N`` (non-real time).

The contract: one SynthDef whose controls are the synth's parameters and which writes its sound to
output bus 0 (``Out.ar(0, sig)``). A synth.yaml whose parameter names are all control names picks those
controls by name; otherwise its parameters are the first N controls. Each control gets the parameter's
physical value (synth.yaml's mapping; a bare .scsyndef gets values in [0, 1]).

Why compiled SynthDefs and not ``synth.scd``: compiling SuperCollider code needs sclang, and Debian's
``supercollider-language`` depends on Qt 5 WebEngine and a display; rlimpro does not run it. A
``.scsyndef`` is written by ``SynthDef(...).writeDefFile`` in any SuperCollider, or from Python with
:class:`rlimpro.supercollider.synthdef.SynthDefBuilder` (how the shipped examples are made).

- Offline (:meth:`SuperColliderEngine.render`): one ``scsynth -N`` run per batch: a score that loads
  the SynthDef, starts a fresh node per row (``/s_new`` with the row's values), frees it after the row,
  rows a slot apart on 64-sample block boundaries; the output file is cut into rows.
- Trajectories (:meth:`SuperColliderEngine.render_trajectory`): one node, ``/n_set`` at every hop,
  in one NRT run: the same messages a live scsynth gets.
- Live: ``--output supercollider`` (:mod:`rlimpro.supercollider.live`) runs scsynth in real time on
  JACK and sends ``/n_set`` per decision.

Every scsynth runs with a timeout, its output shown on failure, and is killed with its process group.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from rlimpro.errors import ParameterError, SynthError
from rlimpro.supercollider import osc
from rlimpro.supercollider.synthdef import SynthDefInfo, read_synthdef
from rlimpro.synths.engine import Engine, check_params, n_samples
from rlimpro.synths.process import find_program, run_program, tail, timeout_seconds
from rlimpro.synths.spec import ParamSpec, SynthSpec

BLOCK = 64  # scsynth's control block, samples
INSTALL_HINT = "install SuperCollider's server with `apt-get install supercollider-server` (make system-deps does)"
GAP_SECONDS = 0.02
MIN_TIMEOUT = 30.0
FIRST_NODE = 1000


def load_synthdef(path: Path) -> tuple[bytes, SynthDefInfo]:
    """The bytes and the name/controls of a compiled SynthDef.

    Raises
    ------
    SynthError
        A ``.scd`` source (needs sclang), unreadable or not a SynthDef file.
    """
    if path.suffix == ".scd":
        raise SynthError(
            f"{path}: rlimpro needs the compiled SynthDef: run SynthDef(...).writeDefFile(\"{path.parent}\") in "
            "SuperCollider and name the .scsyndef in synth.yaml (supercollider: NAME.scsyndef); "
            "rlimpro does not run sclang (Debian's needs Qt WebEngine and a display)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SynthError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data, read_synthdef(data, source=str(path))


def find_scsynth() -> str:
    """Path of scsynth (``$RLIMPRO_SCSYNTH`` or on PATH), else a SynthError with the install hint."""
    return find_program("scsynth", env="RLIMPRO_SCSYNTH", install_hint=INSTALL_HINT, what="scsynth (SuperCollider's server)")


def control_indices(spec: SynthSpec, info: SynthDefInfo, source: Path) -> list[int]:
    """The SynthDef control index of each parameter (by name when all match, else the first N).

    Raises
    ------
    SynthError
        More parameters than controls.
    """
    names = [c[0] for c in info.controls]
    wanted = [p.name for p in spec.params]
    if all(w in names for w in wanted):
        return [names.index(w) for w in wanted]
    if len(wanted) > len(names):
        raise SynthError(
            f"synth '{spec.name}': synth.yaml lists {len(wanted)} parameters but the SynthDef in {source.name} has "
            f"{len(names)} controls ({', '.join(names) or 'none'})"
        )
    return list(range(len(wanted)))


class SuperColliderEngine(Engine):
    """A compiled SynthDef rendered offline by ``scsynth -N``, many rows per run.

    Parameters
    ----------
    spec : SynthSpec
    timeout : float, optional
        Seconds one scsynth run may take (default ``max(30, 10 * audio seconds)``).

    Raises
    ------
    SynthError
        scsynth missing (install hint), the file is not a SynthDef, or scsynth cannot load it (its output
        is shown; checked with a short probe render when the engine is made).
    """

    name = "supercollider"
    source_key = "supercollider"
    source_names = ("synth.scsyndef", "synth.scd")
    has_voice = False  # live: --output supercollider (a real-time scsynth under /n_set)
    install_hint = INSTALL_HINT

    def __init__(self, spec: SynthSpec, *, timeout: float | None = None):
        super().__init__(spec)
        self.source = spec.source_file()
        self.scsynth = find_scsynth()
        self.synthdef, self.info = load_synthdef(self.source)
        self.controls = control_indices(spec, self.info, self.source)
        names = [c[0] for c in self.info.controls]
        held = [p for p in spec.held if p.name in names]  # left out by --params N: held at their defaults
        self.held_pairs: list[int | float] = []
        for p in held:
            self.held_pairs += [names.index(p.name), float(p.to_physical(p.default))]
        self.timeout = timeout
        self.render(np.array([[p.default for p in spec.params]]), duration=0.05, sample_rate=44100)

    @classmethod
    def discover_params(cls, source: Path, *, n_params: int | None) -> list[ParamSpec]:
        """The controls of a bare compiled SynthDef, as generic parameters in [0, 1] at their defaults."""
        _, info = load_synthdef(source)
        if not info.controls:
            raise SynthError(f"{source}: the SynthDef has no controls to steer")
        if n_params is not None and n_params > len(info.controls):
            raise ParameterError(f"--params {n_params}: {source} has {len(info.controls)} controls")
        return [ParamSpec(name=n, default=float(np.clip(d, 0.0, 1.0))) for n, d in info.controls]

    def _pairs(self, values: np.ndarray) -> list[int | float]:
        out: list[int | float] = list(self.held_pairs)
        for c, v in zip(self.controls, values, strict=True):
            out += [int(c), float(v)]
        return out

    def _run(self, bundles: list[bytes], *, total: int, sample_rate: int, what: str) -> np.ndarray:
        """Run one NRT score; return the first output channel, at least ``total`` samples."""
        import soundfile

        work = Path(tempfile.mkdtemp(prefix="rlimpro-scsynth-"))
        try:
            score = work / "score.osc"
            score.write_bytes(osc.score(bundles))
            out = work / "out.wav"
            seconds = total / sample_rate
            timeout = self.timeout if self.timeout is not None else timeout_seconds(max(MIN_TIMEOUT, 10.0 * seconds))
            res = run_program(
                [self.scsynth, "-N", str(score), "_", str(out), str(int(sample_rate)), "WAV", "float",
                 "-o", "1", "-i", "0", "-D", "0"],
                what=what, timeout=timeout, cwd=work, install_hint=INSTALL_HINT,
            )
            said = res.stdout + res.stderr
            problems = [ln for ln in said.splitlines() if "FAILURE" in ln or "not found" in ln or "ERROR" in ln]
            if res.returncode != 0 or not out.is_file() or problems:
                raise SynthError(f"scsynth failed {what} (exit code {res.returncode}); scsynth said:\n{tail(said)}")
            audio, _ = soundfile.read(out, dtype="float32", always_2d=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if audio.shape[0] < total:
            raise SynthError(f"scsynth wrote {audio.shape[0]} samples {what}, expected {total}")
        x = np.ascontiguousarray(audio[:total, 0])
        if not np.isfinite(x).all():
            np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        return x

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """Render constant-parameter rows in one ``scsynth -N`` run, a fresh node per row.

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32

        Raises
        ------
        SynthError
            scsynth failed (its output shown), hung (killed after the timeout) or wrote too little.
        """
        p = check_params(params, self.n_params, self.spec.name)
        n = n_samples(duration, sample_rate)
        if p.shape[0] == 0:
            return np.zeros((0, n), dtype=np.float32)
        values = self.physical_matrix(p)
        played = BLOCK * -(-n // BLOCK)
        slot = played + BLOCK * -(-int(GAP_SECONDS * sample_rate) // BLOCK)
        bundles = [osc.bundle(0.0, [osc.message("/d_recv", self.synthdef)])]
        for b, row in enumerate(values):
            node = FIRST_NODE + b
            bundles.append(osc.bundle(b * slot / sample_rate,
                                      [osc.message("/s_new", self.info.name, node, 0, 0, *self._pairs(row))]))
            bundles.append(osc.bundle((b * slot + played) / sample_rate, [osc.message("/n_free", node)]))
        total = p.shape[0] * slot
        bundles.append(osc.bundle(total / sample_rate, [osc.message("/c_set", 0, 0.0)]))
        x = self._run(bundles, total=total, sample_rate=sample_rate,
                      what=f"rendering synth '{self.spec.name}' ({self.source})")
        idx = np.arange(p.shape[0])[:, None] * slot + np.arange(n)[None, :]
        return x[idx]

    def render_trajectory(self, params: np.ndarray, *, hop: int, sample_rate: int) -> np.ndarray:
        """One node, ``/n_set`` with ``params[t]`` at sample ``t * hop``, one NRT run (see :meth:`Engine.render_trajectory`).

        Parameters are set at the start of each hop (a SynthDef may smooth them with ``Lag``); ``hop``
        must be a multiple of scsynth's 64-sample block.

        Returns
        -------
        ndarray, shape (T * hop,), float32
        """
        p = check_params(params, self.n_params, self.spec.name)
        hop = int(hop)
        if hop <= 0 or hop % BLOCK:
            raise ParameterError(f"hop {hop}: scsynth renders trajectories in hops that are multiples of {BLOCK} samples")
        total = p.shape[0] * hop
        if total == 0:
            return np.zeros(0, dtype=np.float32)
        values = self.physical_matrix(p)
        bundles = [
            osc.bundle(0.0, [osc.message("/d_recv", self.synthdef),
                             osc.message("/s_new", self.info.name, FIRST_NODE, 0, 0, *self._pairs(values[0]))])
        ]
        for t in range(1, p.shape[0]):
            if not np.array_equal(values[t], values[t - 1]):
                bundles.append(osc.bundle(t * hop / sample_rate, [osc.message("/n_set", FIRST_NODE, *self._pairs(values[t]))]))
        bundles.append(osc.bundle(total / sample_rate, [osc.message("/n_free", FIRST_NODE)]))
        return self._run(bundles, total=total, sample_rate=sample_rate,
                         what=f"rendering a trajectory of synth '{self.spec.name}' ({self.source})")
