"""Faust synths (``synth.dsp``): compiled by Debian's ``faust`` and ``g++`` into a library loaded in-process.

Why not DawDreamer: DawDreamer 0.9's ``RenderEngine.render`` resets every processor at the start of each
call (measured: a block rendered after another starts again from phase 0), so it cannot play a live
voice one hop at a time with continuous state, which ``live`` and trajectory rendering need. Debian's
``faust`` (2.54) compiles the program to C++ through rlimpro's architecture file
(``architecture.cpp``: a C ABI over the generated ``mydsp`` class) and ``g++ -O2`` builds a shared library,
cached by a hash of the synth folder's ``.dsp``/``.lib`` files, the architecture and the compiler versions.

The synth's parameters are the program's ``hslider``/``vslider``/``nentry`` controls in declaration
order (buttons and checkboxes are left at their initial values). A synth.yaml whose parameter names
are all control labels picks those controls by name; otherwise its parameters are the first N controls.
Each parameter's physical value (synth.yaml's mapping, or without synth.yaml the control's own range,
logarithmic for ``[scale:log]``) is written to the control. Output: the program's first output channel.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from rlimpro.errors import ParameterError, SynthError
from rlimpro.synths.engine import BlockVoice, Engine, check_params, n_samples
from rlimpro.synths.process import find_program, run_program, tail, timeout_seconds
from rlimpro.synths.spec import ParamSpec, SynthSpec

ARCHITECTURE = Path(__file__).with_name("architecture.cpp")
INSTALL_HINT = "install Faust and a C++ compiler with `apt-get install faust g++` (make system-deps does)"
CACHE_ENV = "RLIMPRO_CACHE"
COMPILE_TIMEOUT = 120.0  # s for faust and for g++ each
#: faust flags: double precision inside the program (float phase accumulators add noise at -130 dB that the
#: shape descriptors of a pure tone, kurtosis above all, pick up); the samples it hands over are float32.
FAUST_FLAGS = ("-lang", "cpp", "-double")
CXX_FLAGS = ("-O2", "-shared", "-fPIC", "-std=c++11")
RAMP_BLOCK = 32  # samples between control updates when a voice ramps its parameters


def cache_dir() -> Path:
    """Where compiled synths are kept: ``$RLIMPRO_CACHE``, else ``$XDG_CACHE_HOME/rlimpro``, else ``~/.cache/rlimpro``."""
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "rlimpro")
    return Path(base)


@functools.lru_cache(maxsize=4)
def _tool_versions(faust: str, cxx: str) -> str:
    out = []
    for exe in (faust, cxx):
        res = run_program([exe, "--version"], what="(version check)", timeout=30.0, install_hint=INSTALL_HINT)
        out.append((res.stdout or res.stderr).splitlines()[0] if (res.stdout or res.stderr) else exe)
    return "\n".join(out)


def build_library(source: Path) -> Path:
    """Compile ``source`` (a .dsp file) to a shared library, or return the cached one.

    Raises
    ------
    SynthError
        faust or g++ missing (install hint), the program does not compile (faust's own message), a
        compiler hangs (killed after :data:`COMPILE_TIMEOUT` s).
    """
    faust = find_program("faust", env="RLIMPRO_FAUST", install_hint=INSTALL_HINT, what="the Faust compiler")
    cxx = find_program("g++", env="RLIMPRO_CXX", install_hint=INSTALL_HINT, what="the C++ compiler g++")
    h = hashlib.sha256()
    h.update(_tool_versions(faust, cxx).encode())
    h.update(ARCHITECTURE.read_bytes())
    h.update(" ".join(FAUST_FLAGS + CXX_FLAGS).encode())
    h.update(source.name.encode())
    for f in sorted(source.parent.iterdir()):
        if f.suffix in (".dsp", ".lib") and f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    lib = cache_dir() / "faust" / f"{source.stem}-{h.hexdigest()[:20]}.so"
    if lib.is_file():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rlimpro-faust-") as tmp:
        cpp = Path(tmp) / "synth.cpp"
        res = run_program(
            [faust, *FAUST_FLAGS, "-a", str(ARCHITECTURE), "-I", str(source.parent), "-o", str(cpp), str(source)],
            what=f"compiling {source}", timeout=timeout_seconds(COMPILE_TIMEOUT), cwd=source.parent, install_hint=INSTALL_HINT,
        )
        if res.returncode != 0 or not cpp.is_file():
            raise SynthError(f"Faust could not compile {source}; faust said:\n{tail(res.stderr + res.stdout)}")
        so = Path(tmp) / "synth.so"
        res = run_program(
            [cxx, *CXX_FLAGS, "-o", str(so), str(cpp)],
            what=f"building {source}", timeout=timeout_seconds(COMPILE_TIMEOUT), install_hint=INSTALL_HINT,
        )
        if res.returncode != 0:
            raise SynthError(f"g++ could not build the C++ that faust made of {source}:\n{tail(res.stderr)}")
        part = lib.with_name(f".{lib.name}.{os.getpid()}.tmp")
        part.write_bytes(so.read_bytes())
        os.replace(part, lib)
    return lib


class FaustProgram:
    """One instance of a compiled Faust program at one sample rate (a ctypes handle).

    Parameters
    ----------
    library : Path
        From :func:`build_library`.
    sample_rate : int
        Hz.
    """

    def __init__(self, library: Path, *, sample_rate: int):
        self.lib = _load(str(library))
        self.handle = ctypes.c_void_p(self.lib.rl_new(int(sample_rate)))
        if self.lib.rl_outputs(self.handle) < 1:
            self.close()
            raise SynthError(f"the Faust program {library.stem} has no output channel (process = ...; needs one)")
        self.controls = []
        rng = (ctypes.c_float * 4)()
        for i in range(self.lib.rl_count(self.handle)):
            self.lib.rl_range(self.handle, i, rng)
            label = self.lib.rl_label(self.handle, i).decode("utf-8", "replace")
            self.controls.append((label, float(rng[0]), float(rng[1]), float(rng[2]), bool(rng[3])))

    def reset(self) -> None:
        self.lib.rl_reset(self.handle)

    def set(self, index: np.ndarray, values: np.ndarray) -> None:
        v = np.ascontiguousarray(values, dtype=np.float32)
        self.lib.rl_set(self.handle, len(index), index.ctypes.data_as(_INT_P), v.ctypes.data_as(_FLOAT_P))

    def render(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        self.lib.rl_render(self.handle, n, out.ctypes.data_as(_FLOAT_P))
        return out

    def render_ramp(self, index: np.ndarray, v0: np.ndarray, v1: np.ndarray, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        a = np.ascontiguousarray(v0, dtype=np.float32)
        b = np.ascontiguousarray(v1, dtype=np.float32)
        self.lib.rl_render_ramp(self.handle, n, len(index), index.ctypes.data_as(_INT_P), a.ctypes.data_as(_FLOAT_P),
                                b.ctypes.data_as(_FLOAT_P), RAMP_BLOCK, out.ctypes.data_as(_FLOAT_P))
        return out

    def close(self) -> None:
        if self.handle:
            self.lib.rl_delete(self.handle)
            self.handle = None


_INT_P = ctypes.POINTER(ctypes.c_int)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


@functools.lru_cache(maxsize=32)
def _load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    vp = ctypes.c_void_p
    lib.rl_new.restype = vp
    lib.rl_new.argtypes = [ctypes.c_int]
    for name in ("rl_delete", "rl_reset"):
        getattr(lib, name).argtypes = [vp]
    lib.rl_outputs.argtypes = lib.rl_count.argtypes = [vp]
    lib.rl_label.argtypes = [vp, ctypes.c_int]
    lib.rl_label.restype = ctypes.c_char_p
    lib.rl_range.argtypes = [vp, ctypes.c_int, _FLOAT_P]
    lib.rl_set.argtypes = [vp, ctypes.c_int, _INT_P, _FLOAT_P]
    lib.rl_render.argtypes = [vp, ctypes.c_int, _FLOAT_P]
    lib.rl_render_ramp.argtypes = [vp, ctypes.c_int, ctypes.c_int, _INT_P, _FLOAT_P, _FLOAT_P, ctypes.c_int, _FLOAT_P]
    return lib


def control_params(controls: list[tuple[str, float, float, float, bool]]) -> list[ParamSpec]:
    """ParamSpecs for Faust controls ``(label, init, min, max, log)``: each control's own range."""
    out = []
    for label, init, lo, hi, log in controls:
        exp = log and lo > 0 and hi > lo
        if hi > lo:
            d = (np.log(init / lo) / np.log(hi / lo)) if exp and init > 0 else (init - lo) / (hi - lo)
        else:
            d = 0.0
        out.append(ParamSpec(name=label, min=lo, max=hi, scale="exp" if exp else "lin", default=float(np.clip(d, 0, 1))))
    return out


class FaustEngine(Engine):
    """A Faust synth (``synth.dsp``) rendered in this process by its compiled library.

    Batch rows each start from the program's load state (``instanceInit``); a voice keeps its state
    and ramps its controls linearly across each block, updating them every :data:`RAMP_BLOCK` samples.

    Raises
    ------
    SynthError
        As :func:`build_library`; more synth.yaml parameters than the program has controls.
    """

    name = "faust"
    source_key = "faust"
    source_names = ("synth.dsp",)
    install_hint = INSTALL_HINT

    def __init__(self, spec: SynthSpec):
        super().__init__(spec)
        self.source = spec.source_file()
        self.library = build_library(self.source)
        probe = FaustProgram(self.library, sample_rate=44100)
        controls = probe.controls
        probe.close()
        labels = [c[0] for c in controls]
        names = [p.name for p in spec.params]
        # parameters left out by --params N stay at their synth.yaml defaults
        held = [p for p in spec.held if p.name in labels]
        self.held_index = np.array([labels.index(p.name) for p in held], dtype=np.int32)
        self.held_values = np.array([p.to_physical(p.default) for p in held], dtype=np.float32)
        if all(n in labels for n in names):
            self.index = np.array([labels.index(n) for n in names], dtype=np.int32)
        elif len(names) <= len(labels):
            self.index = np.arange(len(names), dtype=np.int32)
        else:
            raise SynthError(
                f"synth '{spec.name}': synth.yaml lists {len(names)} parameters but {self.source.name} has "
                f"{len(labels)} hslider/vslider/nentry controls ({', '.join(labels) or 'none'})"
            )
        self._programs: dict[int, FaustProgram] = {}

    @classmethod
    def discover_params(cls, source: Path, *, n_params: int | None) -> list[ParamSpec]:
        """The controls of a bare ``synth.dsp`` (compiles it); ``n_params`` may not exceed their count."""
        lib = build_library(source)
        prog = FaustProgram(lib, sample_rate=44100)
        params = control_params(prog.controls)
        prog.close()
        if not params:
            raise SynthError(f"{source}: the Faust program has no hslider/vslider/nentry control to steer")
        if n_params is not None and n_params > len(params):
            raise ParameterError(f"--params {n_params}: {source} has {len(params)} controls")
        return params

    def _program(self, sample_rate: int) -> FaustProgram:
        prog = self._programs.get(sample_rate)
        if prog is None:
            prog = self._programs[sample_rate] = FaustProgram(self.library, sample_rate=sample_rate)
        return prog

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        p = check_params(params, self.n_params, self.spec.name)
        n = n_samples(duration, sample_rate)
        values = self.physical_matrix(p).astype(np.float32)
        prog = self._program(sample_rate)
        out = np.empty((p.shape[0], n), dtype=np.float32)
        for b in range(p.shape[0]):
            prog.reset()
            prog.set(self.held_index, self.held_values)
            prog.set(self.index, values[b])
            out[b] = prog.render(n)
        if not np.isfinite(out).all():
            np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        return out

    def voice(self, *, sample_rate: int) -> BlockVoice:
        prog = FaustProgram(self.library, sample_rate=sample_rate)
        started = False

        def block(p0: np.ndarray, p1: np.ndarray, n: int) -> np.ndarray:
            nonlocal started
            v0, v1 = self.physical_matrix(p0), self.physical_matrix(p1)
            if not started:  # the first block starts from the load state at the first parameters
                prog.set(self.held_index, self.held_values)
                prog.set(self.index, v0)
                started = True
            return np.nan_to_num(prog.render_ramp(self.index, v0, v1, n), nan=0.0, posinf=1.0, neginf=-1.0)

        return BlockVoice(self.spec, block, close=prog.close)

    def close(self) -> None:
        for prog in self._programs.values():
            prog.close()
        self._programs.clear()
