"""Audio devices through PortAudio (sounddevice): musicians in, the agent's audio out.

One :class:`DeviceIO` opens one stream: input only, output only, or duplex when both are used; the
imitation session and the cross-adaptive session both use it. The input side reads chosen channels
of the device: the imitation musician is the first input channel (a second, unused channel would
halve the level if mixed in, and loudness is a descriptor); the cross-adaptive source and target are
two channels of one stream, so every block holds the same instant of both. The output, mono, goes to
the first two output channels, in one of two modes:

- a native synth :class:`~rlimpro.synths.native.Voice` rendered in the callback from the newest
  parameters published with :meth:`DeviceIO.set_params`, ramped linearly across the block (no clicks);
- audio the main thread queues a hop at a time with :meth:`DeviceIO.write` (the cross-adaptive
  processed source), played from a FIFO :data:`PREFILL_HOPS` hops behind; an empty FIFO plays
  silence and counts as an underrun.

The PortAudio callback does as little as possible: it copies the input block into a bounded queue for
the main thread and fills the output block. The device runs at its own rate (a JACK server's rate,
say 48 kHz); input is resampled to the analysis rate and written audio back to the device rate with
streaming soxr resamplers.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from rlimpro.errors import AudioError, ParameterError

QUEUE_BLOCKS = 256  # input blocks held for the main thread (seconds of audio at small block sizes)
#: soxr quality of the resamplers when the device cannot run at the analysis rate: "LQ" delays
#: by about 6 ms (HQ would add 14 ms, more than a hop).
RESAMPLE_QUALITY = "LQ"
#: Hops of silence queued before the first written hop (absorbs the main thread's scheduling jitter).
PREFILL_HOPS = 1
#: Seconds without any block from a running input stream before reading it fails.
INPUT_SILENCE_TIMEOUT = 3.0


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
                + (
                    "use --input FILE or --input osc"
                    if kind == "input"
                    else "use --output FILE.wav or osc://HOST:PORT"
                )
            )
        return default
    if spec.isdigit():
        idx = int(spec)
        if idx not in usable:
            raise AudioError(
                f"audio device {idx} has no {kind} channels (devices with {kind} channels: {names})"
            )
        return idx
    matches = [i for i in usable if spec.lower() in devices[i]["name"].lower()]
    if not matches:
        raise AudioError(
            f"no audio {kind} device named like '{spec}' (devices with {kind} channels: {names})"
        )
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
    """One PortAudio stream: chosen input channels in and/or one output out.

    Parameters
    ----------
    input_device : device id or None
        Open an input side (see :func:`resolve_device`); None for no input.
    input_channels : tuple of int
        1-based input channels read, in order: ``(1,)`` (the imitation musician) gives blocks of shape
        (k,); several, e.g. ``(source, target)`` of a cross-adaptive session, give blocks of shape
        (k, len(input_channels)), the channels of one row sampled at the same instant.
    output_device : device id or None
        Device of the output side (the default output device when None and an output mode is given).
    output_voice : callable or None
        Output mode "synth": ``output_voice(sample_rate) -> Voice``, rendered in the callback from the
        parameters of :meth:`set_params`.
    output_hop : int or None
        Output mode "written audio": the output plays what :meth:`write` queues, hops of this many
        samples at the analysis rate, after :data:`PREFILL_HOPS` hops of silence.
    analysis_rate : int
        Hz; input blocks are resampled to it, written audio from it.
    sample_rate : int, optional
        Stream rate, Hz (default: :func:`choose_rate`).
    blocksize : int
        Frames per callback; 0 lets PortAudio choose (lowest latency on JACK: the server's period).
    initial_params : ndarray, shape (N,)
        Parameters the synth plays until :meth:`set_params` is called.
    silence : str
        Output mode "synth": what the voice does while the musician rests (``hold``, ``fade``, ``gate``;
        :mod:`rlimpro.synths.silence`), following the ``active`` flag of :meth:`set_params`.
    hop : int
        Analysis hop (samples at the analysis rate), the time unit of the silence ramps.

    Raises
    ------
    ParameterError
        Neither an input nor an output, or both output modes.
    AudioError
        PortAudio is missing or the stream cannot be opened.
    """

    def __init__(
        self,
        *,
        input_device: Any = None,
        input_channels: tuple[int, ...] = (1,),
        output_device: Any = None,
        output_voice: Callable[[int], Any] | None = None,
        output_hop: int | None = None,
        analysis_rate: int,
        sample_rate: int | None = None,
        blocksize: int = 0,
        initial_params: np.ndarray | None = None,
        silence: str = "hold",
        hop: int = 512,
    ):
        sd = _sd()
        self._sd = sd
        if output_voice is not None and output_hop is not None:
            raise ParameterError("DeviceIO plays a synth voice or written audio, not both")
        self.has_input = input_device is not None
        self.has_output = output_voice is not None or output_hop is not None
        if not (self.has_input or self.has_output):
            raise ParameterError("DeviceIO needs an input or an output")
        if sample_rate is None:
            sample_rate = choose_rate(
                input_device if self.has_input else None,
                output_device if self.has_output else None,
                preferred=analysis_rate,
            )
        self.sample_rate = int(sample_rate)
        self.analysis_rate = int(analysis_rate)
        self.input_channels = channels = tuple(int(c) for c in input_channels)
        # the columns of the callback's input block: one (blocks of shape (k,)) or several (shape (k, C))
        self._columns: int | list[int] = channels[0] - 1 if len(channels) == 1 else [c - 1 for c in channels]
        self.queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self.input_overflows = 0  # blocks dropped because the main thread fell behind
        self.output_underruns = 0  # written-audio blocks that found the FIFO short
        self.status_flags = 0  # PortAudio xruns reported to the callback
        self.output_blocks = 0
        self.input_blocks = 0
        self.error: BaseException | None = None
        self._started = False
        # output mode "synth"
        self._params = None if initial_params is None else np.asarray(initial_params, dtype=np.float64).copy()
        self._active = True
        self._voice = output_voice(self.sample_rate) if output_voice is not None else None
        from rlimpro.synths.silence import SilenceGain

        device_hop = max(1, int(round(hop * self.sample_rate / self.analysis_rate)))
        self._silence = SilenceGain(silence, hop=device_hop, sample_rate=self.sample_rate)
        # output mode "written audio"
        self._fifo: collections.deque[np.ndarray] = collections.deque()
        self._fifo_lock = threading.Lock()
        self._writing = False  # set by the first written hop; underruns count from then on
        ahead = 0 if output_hop is None else PREFILL_HOPS * output_hop  # samples at the analysis rate
        self._prefill = int(round(ahead * self.sample_rate / self.analysis_rate))
        self._fill = self._render if output_voice is not None else self._play
        self._in_rs = self._out_rs = None
        if self.sample_rate != self.analysis_rate:
            import soxr

            if self.has_input:
                self._in_rs = soxr.ResampleStream(
                    self.sample_rate,
                    self.analysis_rate,
                    len(channels),
                    dtype="float32",
                    quality=RESAMPLE_QUALITY,
                )
            if output_hop is not None:
                self._out_rs = soxr.ResampleStream(
                    self.analysis_rate, self.sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
                )
        kwargs: dict[str, Any] = dict(
            samplerate=self.sample_rate, blocksize=blocksize, dtype="float32", latency="low"
        )
        in_ch = max(channels)
        try:
            if self.has_output:
                out_ch = max(1, min(2, int(sd.query_devices(output_device)["max_output_channels"])))
            if self.has_input and self.has_output:
                self.stream = sd.Stream(
                    device=(input_device, output_device),
                    channels=(in_ch, out_ch),
                    callback=self._duplex,
                    **kwargs,
                )
            elif self.has_input:
                self.stream = sd.InputStream(
                    device=input_device, channels=in_ch, callback=self._input, **kwargs
                )
            else:
                self.stream = sd.OutputStream(
                    device=output_device, channels=out_ch, callback=self._output, **kwargs
                )
        except Exception as exc:  # sounddevice.PortAudioError, ValueError
            raise AudioError(f"cannot open the audio device at {self.sample_rate} Hz ({exc})") from exc

    # ------------------------------------------------------------------ callbacks (PortAudio thread)
    def _take_input(self, indata: np.ndarray) -> None:
        self.input_blocks += 1
        try:
            self.queue.put_nowait(indata[:, self._columns].copy())
        except queue.Full:
            self.input_overflows += 1

    def _render(self, outdata: np.ndarray, frames: int) -> None:
        """Output mode "synth": the voice ramps to the newest parameters across the block."""
        self.output_blocks += 1
        params, active = self._params, self._active
        if params is None:
            outdata.fill(0.0)
            return
        block = self._silence.apply(self._voice.render_block(params, frames), active)
        outdata[:] = block[:, None]

    def _play(self, outdata: np.ndarray, frames: int) -> None:
        """Output mode "written audio": the next ``frames`` samples of the FIFO, silence where it runs short."""
        self.output_blocks += 1
        out = np.zeros(frames, np.float32)
        filled = 0
        with self._fifo_lock:
            while filled < frames and self._fifo:
                chunk = self._fifo[0]
                take = min(frames - filled, chunk.size)
                out[filled : filled + take] = chunk[:take]
                filled += take
                if take == chunk.size:
                    self._fifo.popleft()
                else:
                    self._fifo[0] = chunk[take:]
        if filled < frames and self._writing:
            self.output_underruns += 1
        outdata[:] = out[:, None]

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
        self._guard(self._fill, outdata, frames)

    def _duplex(self, indata, outdata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            self.status_flags += 1
        self._guard(self._take_input, indata)
        self._guard(self._fill, outdata, frames)

    # ------------------------------------------------------------------ main thread
    def set_params(self, params: np.ndarray, *, active: bool = True) -> None:
        """Output mode "synth": publish new parameters (shape (N,)) and whether the musician plays; the
        next output block ramps to them (and its gain toward silence while the musician rests)."""
        self._params = np.array(params, dtype=np.float64)  # a fresh array: the swap is atomic
        self._active = bool(active)

    def write(self, processed: np.ndarray) -> None:
        """Output mode "written audio": queue one hop (analysis rate, shape (hop,)) for the output."""
        x = np.asarray(processed, dtype=np.float32)
        if self._out_rs is not None:
            x = self._out_rs.resample_chunk(x)
        with self._fifo_lock:
            if not self._writing:
                self._fifo.append(np.zeros(self._prefill, np.float32))
                self._writing = True
            self._fifo.append(np.clip(x, -1.0, 1.0))

    def queued(self) -> int:
        """Output mode "written audio": samples (device rate) waiting to be played."""
        with self._fifo_lock:
            return int(sum(c.size for c in self._fifo))

    def start(self) -> None:
        try:
            self.stream.start()
        except Exception as exc:
            raise AudioError(f"cannot start the audio stream ({exc})") from exc
        self._started = True

    def read(self, timeout: float) -> np.ndarray | None:
        """The next input block at the analysis rate (may be empty while the resampler fills), or None on timeout.

        Shape (k,) for one input channel, (k, C) for C channels.

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
        if self._in_rs is not None:
            block = self._in_rs.resample_chunk(block.astype(np.float32))
        return block

    def blocks(self, *, stop: threading.Event | None = None) -> Iterator[np.ndarray]:
        """Input blocks as :meth:`read` returns them, until ``stop`` is set.

        Raises
        ------
        AudioError
            No block for :data:`INPUT_SILENCE_TIMEOUT` s (device unplugged, audio server gone), or as :meth:`read`.
        """
        last = time.perf_counter()
        while stop is None or not stop.is_set():
            block = self.read(timeout=0.2)
            now = time.perf_counter()
            if block is None:
                if now - last > INPUT_SILENCE_TIMEOUT:
                    raise AudioError(
                        f"no audio from the input device for {INPUT_SILENCE_TIMEOUT:.0f} s "
                        "(device unplugged, or the audio server, e.g. JACK, stopped)"
                    )
                continue
            last = now
            yield block

    def check(self) -> None:
        """Raise if the audio callback failed or the stream is no longer running."""
        if self.error is not None:
            raise AudioError(f"the audio callback failed: {self.error!r}") from self.error
        if self._started and not self.stream.active:
            raise AudioError("the audio stream stopped (device removed or audio server gone)")

    def close(self) -> None:
        """Stop and close the stream, then the synth voice (idempotent)."""
        try:
            if not self.stream.closed:
                self.stream.stop(ignore_errors=True)
                self.stream.close(ignore_errors=True)
        except Exception:
            pass
        voice, self._voice = self._voice, None
        if voice is not None and hasattr(voice, "close"):  # after the stream: the callback no longer uses it
            voice.close()
