"""The Pure Data synth engine for offline rendering (lookup tables).

One ``pd -batch`` process renders a whole batch of parameter rows, far faster than real time: the
generated patch (template ``batch-render.pd``) instantiates the user's ``synth.pd`` abstraction
unchanged, afresh for every row (so every row starts from the synth's load state, like the
prototype's one-Pd-per-point recordings, and the result does not depend on how rows are batched),
sends it the row, lets it run for a short pre-roll, records its outlet with ``tabwrite~`` and writes
the recording with ``soundfiler``. Python reads the files back; the caller analyzes them with the
same :class:`~rlimpro.descriptors.analyzer.Analyzer` as every other stage.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from rlimpro.errors import ParameterError, PdError
from rlimpro.pd.patches import fill_template, link_synth, make_workdir, synth_patch
from rlimpro.pd.process import INSTALL_HINT, check_pd, run_batch
from rlimpro.synths.engine import Engine, check_params
from rlimpro.synths.spec import SynthSpec

BLOCK = 64  # Pd's DSP block, samples
PREROLL_SECONDS = 0.0  # default: record from the moment the synth gets its parameters, like the native engines
TIMEOUT_ENV = "RLIMPRO_PD_TIMEOUT"
MIN_STALL_TIMEOUT = 30.0  # seconds without a finished row before Pd counts as hung


def _stall_timeout(duration: float, explicit: float | None) -> float:
    if explicit is not None:
        return float(explicit)
    env = os.environ.get(TIMEOUT_ENV)
    if env:
        try:
            value = float(env)
        except ValueError:
            raise ParameterError(f"{TIMEOUT_ENV}={env!r} is not a number of seconds") from None
        if value <= 0:
            raise ParameterError(f"{TIMEOUT_ENV}={env!r} must be > 0 seconds")
        return value
    return max(MIN_STALL_TIMEOUT, 20.0 * duration)


class PdEngine(Engine):
    """Render a Pd synth (``synth.pd``) offline, many parameter rows per Pd process.

    Parameters
    ----------
    spec : SynthSpec
        A synth with a Pd patch (``spec.pd_patch()``); parameters are sent to it normalised, in [0, 1]
        (the patch maps them to physical values itself, as in the prototype).
    timeout : float, optional
        Seconds Pd may take for one row (including start-up for the first) before it counts as hung
        and is killed. Default: ``$RLIMPRO_PD_TIMEOUT`` or ``max(30, 20 * duration)``.
    preroll : float
        Seconds the synth runs with its parameters before recording starts (lets ``line~`` ramps
        and envelopes in the synth settle). Rounded up to Pd blocks of 64 samples.
    pd : str or PathLike, optional
        The Pd executable (default: ``$RLIMPRO_PD`` or ``pd`` on PATH).

    Raises
    ------
    PdError
        Pd is missing or too old, or the synth has no Pd patch.
    """

    name = "pd"
    source_key = "pd"
    source_names = ("synth.pd",)
    has_voice = False  # Pd plays live in its own process: --output pd (rlimpro.pd.live)
    install_hint = INSTALL_HINT

    def __init__(
        self,
        spec: SynthSpec,
        *,
        timeout: float | None = None,
        preroll: float = PREROLL_SECONDS,
        pd: str | os.PathLike | None = None,
    ):
        if preroll < 0:
            raise ParameterError(f"preroll {preroll} s must be >= 0")
        super().__init__(spec)
        self.patch, self.object = synth_patch(spec)
        self.timeout = timeout
        self.preroll = preroll
        self.pd = check_pd(pd)

    def _check(self, params: np.ndarray) -> np.ndarray:
        return check_params(params, self.n_params, self.spec.name)

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """Render constant-parameter sounds with Pd.

        Parameters
        ----------
        params : ndarray, shape (B, N) or (N,)
            Parameter vectors in [0, 1] (clipped), sent to the synth's inlet as a list of N floats.
        duration : float
            Seconds per sound.
        sample_rate : int
            Hz (Pd runs at this rate, ``-r``).

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32
            Row ``b`` is the synth's outlet for ``params[b]``, starting ``preroll`` s after the synth
            was created and given its parameters.

        Raises
        ------
        PdError
            The synth does not load (Pd's own error is shown), Pd hangs (killed after the timeout),
            crashes, or writes no audio.
        """
        p = self._check(params)
        n = int(round(duration * sample_rate))
        if n <= 0:
            raise ParameterError(f"duration {duration} s gives no samples")
        if p.shape[0] == 0:
            return np.zeros((0, n), dtype=np.float32)
        import soundfile

        preroll = int(np.ceil(self.preroll * sample_rate / BLOCK)) * BLOCK
        record = int(np.ceil(n / BLOCK)) * BLOCK + BLOCK  # whole blocks, plus one: tabwrite~ stops at n
        work = make_workdir("rlimpro-pd-render-")
        try:
            rows_file = work / "rows.txt"
            rows_file.write_text("".join(" ".join(repr(float(v)) for v in row) + ";\n" for row in p))
            fields = {
                "SYNTH_PATH": link_synth(work, self.patch.parent),
                "SYNTH": self.object,
                "ROWS_FILE": rows_file.name,
                "ROWS": p.shape[0],
                "SAMPLES": n,
                "PREROLL": preroll,
                "RECORD": record,
                "OUT_PATTERN": str(work / "row-%d.wav"),
            }
            patch = work / "render.pd"
            patch.write_text(fill_template("batch-render.pd", fields))
            out = np.zeros((p.shape[0], n), dtype=np.float32)
            done = np.zeros(p.shape[0], dtype=bool)

            def collect(line: str) -> None:  # "rlimpro-row: i": row i's file is complete
                i = int(float(line.split(":", 1)[1]))
                f = work / f"row-{i}.wav"
                audio, sr = soundfile.read(f, dtype="float32", always_2d=True)
                if sr != sample_rate or audio.shape[0] != n:
                    raise PdError(
                        f"Pd wrote {audio.shape[0]} samples at {sr} Hz for row {i} of synth '{self.spec.name}', "
                        f"expected {n} at {sample_rate} Hz"
                    )
                out[i] = audio[:, 0]
                done[i] = True
                f.unlink()  # keep the temporary folder small, whatever the batch size

            run_batch(
                patch,
                sample_rate=sample_rate,
                what=f"rendering synth '{self.spec.name}' ({self.patch})",
                stall_timeout=_stall_timeout(duration, self.timeout),
                pd=self.pd,
                on_progress=collect,
            )
            if not done.all():
                raise PdError(
                    f"Pd quit after {int(done.sum())} of {p.shape[0]} rows for synth '{self.spec.name}' "
                    f"without an error message"
                )
            # a synth may blow up at a corner of its range: treat NaN as silence and inf as full scale,
            # as the analyzer does, so one bad grid point does not sink a whole table
            if not np.isfinite(out).all():  # checked first: nan_to_num copies, and is slow on clean audio
                np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
            return out
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def render_trajectory(self, params: np.ndarray, *, hop: int, sample_rate: int) -> np.ndarray:
        """Render a trajectory in one ``pd -batch`` run (template ``trajectory-render.pd``).

        One instance of the synth gets ``params[t]`` (a list of N floats in [0, 1]) at sample
        ``t * hop``, as the live player's ``/rlimpro/params`` would; its outlet is recorded from the first
        row on. Parameters are set at the start of each hop (the synth itself may ramp, as with
        ``line~``). ``hop`` must be a multiple of Pd's 64-sample block.

        Parameters
        ----------
        params : ndarray, shape (T, N)
        hop : int
            Samples per hop, a multiple of 64.
        sample_rate : int
            Hz.

        Returns
        -------
        ndarray, shape (T * hop,), float32

        Raises
        ------
        ParameterError
            ``hop`` is not a positive multiple of 64.
        PdError
            As :meth:`render`.
        """
        p = self._check(params)
        hop = int(hop)
        if hop <= 0 or hop % BLOCK:
            raise ParameterError(f"hop {hop}: Pd renders trajectories in hops that are multiples of {BLOCK} samples")
        total = p.shape[0] * hop
        if total == 0:
            return np.zeros(0, dtype=np.float32)
        import soundfile

        work = make_workdir("rlimpro-pd-trajectory-")
        try:
            rows_file = work / "rows.txt"
            rows_file.write_text("".join(" ".join(repr(float(v)) for v in row) + ";\n" for row in p))
            out_file = work / "trajectory.wav"
            fields = {
                "SYNTH_PATH": link_synth(work, self.patch.parent),
                "SYNTH": self.object,
                "ROWS_FILE": rows_file.name,
                "ROWS": p.shape[0],
                "SAMPLES": total,
                "HOP": hop,
                "OUT_FILE": str(out_file),
            }
            patch = work / "trajectory.pd"
            patch.write_text(fill_template("trajectory-render.pd", fields))
            seconds = total / sample_rate
            run_batch(
                patch,
                sample_rate=sample_rate,
                what=f"rendering a trajectory of synth '{self.spec.name}' ({self.patch})",
                stall_timeout=_stall_timeout(seconds, self.timeout),
                pd=self.pd,
            )
            if not out_file.is_file():
                raise PdError(f"Pd wrote no trajectory audio for synth '{self.spec.name}' and printed no error")
            audio, sr = soundfile.read(out_file, dtype="float32", always_2d=True)
            if sr != sample_rate or audio.shape[0] != total:
                raise PdError(
                    f"Pd wrote {audio.shape[0]} samples at {sr} Hz for a trajectory of synth '{self.spec.name}', "
                    f"expected {total} at {sample_rate} Hz"
                )
            out = np.ascontiguousarray(audio[:, 0])
            if not np.isfinite(out).all():
                np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
            return out
        finally:
            shutil.rmtree(work, ignore_errors=True)
