"""Csound synths (``synth.csd``): one instrument reading ``chnget`` channels, rendered offline and live.

The contract: ``synth.csd`` holds an orchestra whose first instrument is the synth; it reads its N
parameters as control channels ``p0 … p{N-1}`` (or, when every synth.yaml parameter name appears in a
``chnget "name"`` of the orchestra, channels named after the parameters) with ``chnget``, in physical
units (synth.yaml's mapping; a bare synth.csd gets values in [0, 1]), and writes audio with ``out``/
``outs`` (first channel taken, scaled by ``0dbfs``). rlimpro uses the orchestra only: the CSD's
``<CsOptions>`` and ``<CsScore>`` are replaced by its own, and ``ksmps`` is set to :data:`KSMPS`.

- Offline (:meth:`CsoundEngine.render`): one Csound instance renders a whole batch of rows. rlimpro
  writes a score in which a small setter instrument writes row ``b``'s values to the channels one
  control period before a note of the synth starts, ``duration`` long, rows one slot apart; the
  ``csound`` command of the same libcsound64 renders it into a float WAV file which is cut into rows.
  It runs as a child process with a timeout: a hung Csound (an endless loop inside one control period)
  can only be stopped by killing its process. Its messages are shown on every failure.
- Live (:meth:`CsoundEngine.voice`): ctcsound in this process, one ``performKsmps`` per control period,
  channels ramped linearly across each block (set every period), one endless note of the synth.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rlimpro.errors import SynthError
from rlimpro.synths.engine import BlockVoice, Engine, check_params, n_samples
from rlimpro.synths.process import find_program, run_program, tail, timeout_seconds
from rlimpro.synths.spec import SynthSpec

KSMPS = 32  # samples per control period, offline and live
INSTALL_HINT = ("install Csound with `apt-get install csound libcsound64-dev libcsnd-dev` (make system-deps does; "
                "the -dev packages hold the libcsound64.so and libcsnd6.so names ctcsound loads)")
GAP_SECONDS = 0.01  # silence between rows in the offline score (a note of the synth ends at its duration)
MIN_TIMEOUT = 30.0
SETTER = "rlimpro_set"
HELD_SETTER = "rlimpro_hold"
_INSTR = re.compile(r"^\s*instr\s+([A-Za-z_][A-Za-z_0-9]*|\d+)", re.MULTILINE)
_CHNGET = re.compile(r"chnget\s*:?\w*\s*\(?\s*\"([^\"]+)\"")


#: Plugin libraries the offline renders do not load: Faust-in-Csound (30 ms of LLVM start-up on every
#: run), FLTK widgets, the virtual keyboard, websockets, real-time audio and MIDI drivers and joysticks,
#: none of which an offline render into a file can use. Loading the other plugins only cuts Csound's
#: start-up from about 60 to 40 ms per chunk of rows (lookup of fm: about 170 -> 215 points/s).
#: A user who sets ``OPCODE6DIR64`` gets exactly that folder.
SKIPPED_PLUGINS = re.compile(r"^lib(rt\w*|pmidi|ipmidi|joystick|faustcsound|widgets|virtual|websocketIO)\.so$")
PLUGIN_GLOBS = ("/usr/lib/*/csound/plugins64-6.0", "/usr/lib/csound/plugins64-6.0", "/usr/local/lib/csound/plugins64-6.0")


def offline_environment() -> dict[str, str] | None:
    """The environment of offline ``csound`` runs: ``OPCODE6DIR64`` naming a folder of links to the system's
    plugins without :data:`SKIPPED_PLUGINS` (made once in the cache); None to leave Csound's default."""
    if os.environ.get("OPCODE6DIR64"):
        return None
    found = next((d for pattern in PLUGIN_GLOBS for d in sorted(glob.glob(pattern))), None)
    if found is None:
        return None
    keep = sorted(f for f in os.listdir(found) if f.endswith(".so") and not SKIPPED_PLUGINS.match(f))
    from rlimpro.faust.engine import cache_dir

    key = hashlib.sha256(("\n".join([found, *keep])).encode()).hexdigest()[:16]
    folder = cache_dir() / f"csound-plugins-{key}"
    if not folder.is_dir():
        part = None
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            part = Path(tempfile.mkdtemp(prefix=".csound-plugins-", dir=folder.parent))
            for f in keep:
                (part / f).symlink_to(Path(found) / f)
            os.replace(part, folder)
        except OSError:  # another process made it first, or no writable cache: Csound's own default then
            if part is not None:
                shutil.rmtree(part, ignore_errors=True)
            if not folder.is_dir():
                return None
    return {**os.environ, "OPCODE6DIR64": str(folder)}


def orchestra_of(csd: Path) -> str:
    """The text between ``<CsInstruments>`` and ``</CsInstruments>``, or the whole file for a bare .orc.

    Raises
    ------
    SynthError
        Unreadable file, or no instrument section.
    """
    try:
        text = csd.read_text(errors="replace")
    except OSError as exc:
        raise SynthError(f"cannot read {csd}: {exc.strerror or exc}") from exc
    m = re.search(r"<CsInstruments>(.*?)</CsInstruments>", text, re.DOTALL | re.IGNORECASE)
    if m is None:
        raise SynthError(f"{csd}: no <CsInstruments> ... </CsInstruments> section: a synth.csd needs an orchestra")
    return m.group(1)


def first_instrument(orc: str, csd: Path) -> str:
    """The score name of the orchestra's first instrument: ``1`` or ``"Name"``."""
    m = _INSTR.search(orc)
    if m is None:
        raise SynthError(f"{csd}: the orchestra defines no instrument (instr 1 ... endin)")
    name = m.group(1)
    return name if name.isdigit() else f'"{name}"'


def channel_names(spec: SynthSpec, orc: str) -> list[str]:
    """Channels the synth reads: the parameter names if the orchestra chngets all of them, else ``p0…``."""
    used = set(_CHNGET.findall(orc))
    names = [p.name for p in spec.params]
    return names if all(n in used for n in names) else [f"p{i}" for i in range(len(names))]


def _setter(channels: list[str], *, name: str = SETTER) -> str:
    body = "\n".join(f'  chnset p{4 + i}, "{c}"' for i, c in enumerate(channels))
    return f"\ninstr {name}\n{body}\nendin\n"


def _csd(orc: str, score: str) -> str:
    return (f"<CsoundSynthesizer>\n<CsOptions>\n</CsOptions>\n<CsInstruments>\n{orc}\n</CsInstruments>\n"
            f"<CsScore>\n{score}\n</CsScore>\n</CsoundSynthesizer>\n")


class CsoundEngine(Engine):
    """A Csound synth (``synth.csd``): offline through the ``csound`` command, live through ctcsound.

    Parameters
    ----------
    spec : SynthSpec
    timeout : float, optional
        Seconds a batch may take before Csound counts as hung (default ``max(30, 10 * audio seconds)``).

    Raises
    ------
    SynthError
        csound missing (install hint); the orchestra does not compile (Csound's messages) or hangs,
        checked by rendering a short probe when the engine is made.
    """

    name = "csound"
    source_key = "csound"
    source_names = ("synth.csd",)
    install_hint = INSTALL_HINT

    def __init__(self, spec: SynthSpec, *, timeout: float | None = None):
        super().__init__(spec)
        self.source = spec.source_file()
        self.csound = find_program("csound", env="RLIMPRO_CSOUND", install_hint=INSTALL_HINT, what="Csound")
        self.orc = orchestra_of(self.source)
        self.instrument = first_instrument(self.orc, self.source)
        self.channels = channel_names(spec, self.orc)
        # parameters left out by --params N: their channels (by name, else p<i> after the steered ones)
        # are set to their synth.yaml defaults
        full = spec.model_copy(update={"params": [*spec.params, *spec.held], "held": []})
        self.held_channels = channel_names(full, self.orc)[spec.n_params :]
        self.held_values = [float(p.to_physical(p.default)) for p in spec.held]
        self.timeout = timeout
        self.env = offline_environment()
        # compile and run a short probe now: a broken or hanging orchestra fails here, with Csound's words
        self.render(np.array([[p.default for p in spec.params]]), duration=0.05, sample_rate=44100, probe=True)

    # ---------------------------------------------------------------- offline
    def render(self, params: np.ndarray, *, duration: float, sample_rate: int, probe: bool = False) -> np.ndarray:
        """Render constant-parameter rows in one Csound run (see the module docstring).

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32

        Raises
        ------
        SynthError
            Csound failed (its messages are shown), hung (killed after the timeout) or wrote too little.
        """
        p = check_params(params, self.n_params, self.spec.name)
        n = n_samples(duration, sample_rate)
        if p.shape[0] == 0:
            return np.zeros((0, n), dtype=np.float32)
        import soundfile

        values = self.physical_matrix(p)
        k = KSMPS
        slot = k * int(np.ceil((n + k + GAP_SECONDS * sample_rate) / k))
        lines = ["t 0 60"]
        if self.held_channels:
            lines.append(f'i "{HELD_SETTER}" 0 {k / sample_rate!r} ' + " ".join(repr(v) for v in self.held_values))
        for b, row in enumerate(values):
            t0 = b * slot / sample_rate
            vals = " ".join(repr(float(v)) for v in row)
            lines.append(f'i "{SETTER}" {t0!r} {k / sample_rate!r} {vals}')
            # the note lasts whole control periods past the row's n samples (its end is rounded down to a period)
            lines.append(f"i {self.instrument} {(b * slot + k) / sample_rate!r} {(n + k) / sample_rate!r}")
        lines.append(f"e {(p.shape[0] * slot + k) / sample_rate!r}")
        work = Path(tempfile.mkdtemp(prefix="rlimpro-csound-"))
        try:
            csd = work / "render.csd"
            setters = _setter(self.channels) + (_setter(self.held_channels, name=HELD_SETTER) if self.held_channels else "")
            csd.write_text(_csd(self.orc + setters, "\n".join(lines)))
            out = work / "out.wav"
            audio_seconds = p.shape[0] * slot / sample_rate
            timeout = self.timeout if self.timeout is not None else timeout_seconds(max(MIN_TIMEOUT, 10.0 * audio_seconds))
            res = run_program(
                [self.csound, "-d", "-m0", "-W", "-f", f"--sample-rate={sample_rate}", f"--ksmps={k}",
                 "-o", str(out), str(csd)],
                what=f"rendering synth '{self.spec.name}' ({self.source})", timeout=timeout,
                cwd=self.source.parent, install_hint=INSTALL_HINT, env=self.env,
            )
            failed = res.returncode != 0 or not out.is_file()
            if not failed:
                audio, sr = soundfile.read(out, dtype="float32", always_2d=True)
                failed = audio.shape[0] < p.shape[0] * slot
            if failed:
                what = "could not compile or run" if probe else "failed rendering"
                raise SynthError(
                    f"Csound {what} {self.source} (exit code {res.returncode}); Csound said:\n"
                    f"{tail(_errors_first(res.stderr + res.stdout))}"
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        idx = np.arange(p.shape[0])[:, None] * slot + k + np.arange(n)[None, :]
        rows = np.ascontiguousarray(audio[:, 0][idx])
        if not np.isfinite(rows).all():
            np.nan_to_num(rows, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        return rows

    # ---------------------------------------------------------------- live
    def voice(self, *, sample_rate: int) -> BlockVoice:
        """One ctcsound instance playing one endless note of the synth; channels ramp per control period.

        Raises
        ------
        SynthError
            ctcsound or libcsound64 missing (install hint), or the orchestra fails to start (Csound's messages).
        """
        try:
            import ctcsound
        except (ImportError, OSError) as exc:
            raise SynthError(f"ctcsound cannot load Csound ({exc}); {INSTALL_HINT}; pip install ctcsound") from exc
        cs = ctcsound.Csound()
        cs.createMessageBuffer(False)
        for opt in ("-n", "-d", "-m0", f"--sample-rate={int(sample_rate)}", f"--ksmps={KSMPS}"):
            cs.setOption(opt)
        text = _csd(self.orc, f"i {self.instrument} 0 -1\nf 0 z")

        def messages() -> str:
            out = []
            while cs.messageCnt():
                out.append(cs.firstMessage())
                cs.popFirstMessage()
            return "".join(out)

        if cs.compileCsdText(text) != 0 or cs.start() != 0:
            said = messages()
            cs.cleanup()
            raise SynthError(f"Csound could not start {self.source}; Csound said:\n{tail(_errors_first(said))}")
        for name, value in zip(self.held_channels, self.held_values, strict=True):
            cs.setControlChannel(name, value)
        scale = 1.0 / cs.get0dBFS()
        spout = cs.spout()  # a view on Csound's output buffer: KSMPS * nchnls samples, channels interleaved
        nchnls = cs.nchnls()
        pending = np.zeros(0, dtype=np.float64)  # samples computed beyond the last block
        channels = self.channels

        def block(p0: np.ndarray, p1: np.ndarray, n: int) -> np.ndarray:
            nonlocal pending
            v0, v1 = self.physical_matrix(p0), self.physical_matrix(p1)
            need = n - pending.size
            cycles = max(0, -(-need // KSMPS))
            out = np.empty(pending.size + cycles * KSMPS)
            out[: pending.size] = pending
            pos = pending.size
            for c in range(cycles):
                v = v0 + (v1 - v0) * ((c + 1) / cycles)
                for name, value in zip(channels, v, strict=True):
                    cs.setControlChannel(name, float(value))
                if cs.performKsmps() != 0:
                    raise SynthError(f"Csound stopped playing {self.source}; Csound said:\n{tail(messages())}")
                out[pos : pos + KSMPS] = spout[::nchnls]
                pos += KSMPS
            pending = out[n:].copy()
            return np.nan_to_num(out[:n] * scale, nan=0.0, posinf=1.0, neginf=-1.0)

        def close() -> None:
            cs.stop()
            cs.cleanup()
            cs.reset()
            messages()  # Csound's closing statistics, not for the terminal
            # a fresh, silent buffer: otherwise csoundDestroy prints its statistics to stdout
            cs.setMessageLevel(0)
            cs.destroyMessageBuffer()
            cs.createMessageBuffer(False)

        return BlockVoice(self.spec, block, close=close)


def _errors_first(text: str) -> str:
    """Csound's output with its error lines (and the lines around them) kept, progress noise dropped."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("\x1b[m", "B "))]
    errs = [i for i, ln in enumerate(lines) if re.search(r"error|not found|failed|unexpected|undefined", ln, re.I)]
    if errs:
        keep = sorted({j for i in errs for j in range(max(0, i - 1), min(len(lines), i + 3))})
        lines = [lines[j] for j in keep]
    return "\n".join(lines)
