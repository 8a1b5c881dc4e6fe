"""Audio devices through PortAudio (sounddevice): the musician in, the native synth out.

One :class:`DeviceIO` opens one stream: input only, output only, or duplex when both are used. The
musician is the device's first input channel (a second, unused channel would halve the level if mixed
in, and loudness is a descriptor); the synth, mono, goes to the first two output channels. The
PortAudio callback does as little as possible: it copies the input block into a
bounded queue for the main thread, and renders the output block from the newest parameters with the
synth's :class:`~rlimpro.synths.native.Voice`, which ramps the parameters linearly across the block
(no clicks). The main thread analyzes, decides and publishes new parameters with :meth:`set_params`.

The device runs at its own rate (a JACK server's rate, say 48 kHz); input is resampled to the analysis
rate with a streaming soxr resampler, and the voice renders at the device rate.
"""

from __future__ import annotations

import queue
from typing import Any

import numpy as np

from rlimpro.errors import AudioError, ParameterError

QUEUE_BLOCKS = 256  # input blocks held for the main thread (seconds of audio at small block sizes)
#: soxr quality of the input resampler when the device cannot run at the analysis rate: "LQ" delays
#: by about 6 ms (HQ would add 14 ms, more than a hop).
RESAMPLE_QUALITY = "LQ"


def _sd() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio missing
        raise AudioError(
            f"PortAudio is not available ({exc}): apt-get install libportaudio2, or use --input FILE / --output FILE.wav"
        ) from exc
    return sd


def resolve_device(spec: str | None, *, kind: str) -> Any:
    """A sounddevice device id from ``None`` (default), an index or a name fragment.

    Raises
    ------
    AudioError
        No such device, or no default device of that kind (names the devices seen).
    """
    sd = _sd()
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudioError
        raise AudioError(f"cannot list audio devices ({exc})") from exc
    channels_key = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [i for i, d in enumerate(devices) if d[channels_key] > 0]
    names = ", ".join(f"{i}: {devices[i]['name']}" for i in usable) or "none"
    if spec is None or spec == "":
        default = sd.default.device[0 if kind == "input" else 1]
        if default is None or default < 0:
            raise AudioError(
                f"no default audio {kind} device (devices with {kind} channels: {names}); "
                + ("use --input FILE or --input osc" if kind == "input" else "use --output FILE.wav or osc://HOST:PORT")
            )
        return default
    if spec.isdigit():
        idx = int(spec)
        if idx not in usable:
            raise AudioError(f"audio device {idx} has no {kind} channels (devices with {kind} channels: {names})")
        return idx
    matches = [i for i in usable if spec.lower() in devices[i]["name"].lower()]
    if not matches:
        raise AudioError(f"no audio {kind} device named like '{spec}' (devices with {kind} channels: {names})")
    return matches[0]


def choose_rate(input_device: Any, output_device: Any, *, preferred: int) -> int:
    """The analysis rate if the device(s) accept it (no resampling), else the device's default rate.

    A JACK server, for one, runs at its own fixed rate.
    """
    sd = _sd()
    try:
        if input_device is not None:
            sd.check_input_settings(device=input_device, samplerate=preferred, channels=1, dtype="float32")
        if output_device is not None:
            sd.check_output_settings(device=output_device, samplerate=preferred, channels=1, dtype="float32")
        return int(preferred)
    except Exception:  # PortAudioError: invalid sample rate
        dev = input_device if input_device is not None else output_device
        info = sd.query_devices(dev, "input" if input_device is not None else "output")
        return int(round(info["default_samplerate"]))


class DeviceIO:
    """One PortAudio stream for the musician's input and/or the synth's output.

    Parameters
    ----------
    input_device : device id or None
        Open an input side (see :func:`resolve_device`); None for no input.
    output_voice : callable or None
        ``output_voice(sample_rate) -> Voice``: open an output side rendering that voice; None for no output.
    analysis_rate : int
        Hz; input blocks are resampled to it.
    output_device : device id or None
        Device of the output side (default device when None and ``output_voice`` is given).
    sample_rate : int, optional
        Stream rate, Hz (default: :func:`choose_rate`).
    blocksize : int
        Frames per callback; 0 lets PortAudio choose (lowest latency on JACK: the server's period).
    initial_params : ndarray, shape (N,)
        Parameters the output plays until :meth:`set_params` is called.
    """

    def __init__(
        self,
        *,
        input_device: Any = None,
        output_voice: Any = None,
        analysis_rate: int,
        output_device: Any = None,
        sample_rate: int | None = None,
        blocksize: int = 0,
        initial_params: np.ndarray | None = None,
    ):
        sd = _sd()
        self._sd = sd
        self.has_input = input_device is not None
        self.has_output = output_voice is not None
        if not (self.has_input or self.has_output):
            raise ParameterError("DeviceIO needs an input or an output")
        if sample_rate is None:
            sample_rate = choose_rate(input_device if self.has_input else None,
                                      output_device if self.has_output else None, preferred=analysis_rate)
        self.sample_rate = int(sample_rate)
        self.analysis_rate = int(analysis_rate)
        self.queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self.input_overflows = 0  # blocks dropped because the main thread fell behind
        self.status_flags = 0  # PortAudio xruns reported to the callback
        self.output_blocks = 0
        self.input_blocks = 0
        self.error: BaseException | None = None
        self._params = None if initial_params is None else np.asarray(initial_params, dtype=np.float64).copy()
        self._voice = output_voice(self.sample_rate) if self.has_output else None
        self._resampler = None
        if self.has_input and self.sample_rate != self.analysis_rate:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.sample_rate, self.analysis_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )
        self._started = False
        kwargs: dict[str, Any] = dict(samplerate=self.sample_rate, blocksize=blocksize, dtype="float32", latency="low")
        try:
            if self.has_input and self.has_output:
                in_ch = 1
                out_ch = max(1, min(2, sd.query_devices(output_device)["max_output_channels"]))
                self.stream = sd.Stream(
                    device=(input_device, output_device), channels=(in_ch, out_ch), callback=self._duplex, **kwargs
                )
            elif self.has_input:
                in_ch = 1
                self.stream = sd.InputStream(device=input_device, channels=in_ch, callback=self._input, **kwargs)
            else:
                out_ch = max(1, min(2, sd.query_devices(output_device)["max_output_channels"]))
                self.stream = sd.OutputStream(device=output_device, channels=out_ch, callback=self._output, **kwargs)
        except Exception as exc:  # sounddevice.PortAudioError, ValueError
            raise AudioError(f"cannot open the audio device at {self.sample_rate} Hz ({exc})") from exc

    # ------------------------------------------------------------------ callbacks (PortAudio thread)
    def _take_input(self, indata: np.ndarray) -> None:
        self.input_blocks += 1
        mono = indata[:, 0].copy()  # the first input channel: where the musician's microphone is
        try:
            self.queue.put_nowait(mono)
        except queue.Full:
            self.input_overflows += 1

    def _render(self, outdata: np.ndarray, frames: int) -> None:
        self.output_blocks += 1
        params = self._params
        if params is None:
            outdata.fill(0.0)
            return
        block = self._voice.render_block(params, frames)
        outdata[:] = block[:, None]

    def _guard(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # keep the first error for the main thread; stop the stream
            if self.error is None:
                self.error = exc
            raise self._sd.CallbackAbort from exc

    def _input(self, indata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            self.status_flags += 1
        self._guard(self._take_input, indata)

    def _output(self, outdata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            self.status_flags += 1
        self._guard(self._render, outdata, frames)

    def _duplex(self, indata, outdata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            self.status_flags += 1
        self._guard(self._take_input, indata)
        self._guard(self._render, outdata, frames)

    # ------------------------------------------------------------------ main thread
    def set_params(self, params: np.ndarray) -> None:
        """Publish new synth parameters (shape (N,)); the next output block ramps to them."""
        self._params = np.array(params, dtype=np.float64)  # a fresh array: the swap is atomic

    def start(self) -> None:
        try:
            self.stream.start()
        except Exception as exc:
            raise AudioError(f"cannot start the audio stream ({exc})") from exc
        self._started = True

    def read(self, timeout: float) -> np.ndarray | None:
        """The next input block at the analysis rate (may be empty while the resampler fills), or None on timeout.

        Raises
        ------
        AudioError
            The audio callback failed or the stream stopped.
        """
        self.check()
        try:
            block = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block.astype(np.float32))
        return block

    def check(self) -> None:
        """Raise if the audio callback failed or the stream is no longer running."""
        if self.error is not None:
            raise AudioError(f"the audio callback failed: {self.error!r}") from self.error
        if self._started and not self.stream.active:
            raise AudioError("the audio stream stopped (device removed or audio server gone)")

    def close(self) -> None:
        """Stop and close the stream (idempotent)."""
        try:
            if not self.stream.closed:
                self.stream.stop(ignore_errors=True)
                self.stream.close(ignore_errors=True)
        except Exception:
            pass
