"""Two musicians on two channels of one audio device, the processed source on the output.

One PortAudio stream (sounddevice) carries both inputs, so every block holds the same stretch of time
of both musicians: the two channels are on one clock by construction. The callback copies the two
chosen input channels into a queue and plays the processed audio from an output FIFO; the main thread
analyzes, decides and processes a hop at a time and appends the processed hop to the FIFO. The
output therefore runs one hop plus :data:`PREFILL_HOPS` hops behind the input (23 ms at 44.1 kHz
and a 512-sample hop, plus the device's own buffers); before the first processed hop the output is
silent, and later an empty FIFO plays silence and is counted as an underrun.

When the device cannot run at the analysis rate (a JACK server at 48 kHz, say), input is resampled
to the analysis rate and the processed hops back to the device rate with streaming soxr resamplers.
"""

from __future__ import annotations

import collections
import queue
import threading
from typing import Any

import numpy as np

from rlimpro.errors import AudioError, ParameterError

QUEUE_BLOCKS = 256
#: Hops of silence queued before the first processed hop (absorbs the main thread's scheduling jitter).
PREFILL_HOPS = 1
RESAMPLE_QUALITY = "LQ"


def parse_channels(text: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"1,2"`` -> ``(1, 2)``: the device's input channels (1-based) of the source and of the target.

    Raises
    ------
    ParameterError
        Not two different positive channel numbers.
    """
    if text is None:
        return (1, 2)
    if isinstance(text, tuple):
        parts = list(text)
    else:
        try:
            parts = [int(p) for p in str(text).replace(" ", "").split(",")]
        except ValueError:
            raise ParameterError(f"--channels {text!r}: give the source and target input channels, e.g. --channels 1,2") from None
    if len(parts) != 2 or min(parts) < 1 or parts[0] == parts[1]:
        raise ParameterError(f"--channels {text!r}: give two different input channels (1-based), e.g. --channels 1,2")
    return int(parts[0]), int(parts[1])


class DuoDeviceIO:
    """One PortAudio stream: two input channels (source, target) and/or the processed output.

    Parameters
    ----------
    input_device : device id or None
        Input side (see :func:`rlimpro.live.device.resolve_device`); None for output only (file rehearsal
        through the speakers).
    output_device : device id or None
        Output side; None for input only.
    channels : (int, int)
        1-based input channels of the source and the target.
    analysis_rate : int
        Hz.
    hop : int
        Samples per hop at the analysis rate.
    sample_rate : int, optional
        Stream rate (default: the analysis rate if the device takes it, else its default rate).
    blocksize : int
        Frames per callback (0: PortAudio's choice).

    Raises
    ------
    AudioError
        The device lacks the channels or cannot be opened.
    """

    def __init__(self, *, input_device: Any, output_device: Any, channels: tuple[int, int], analysis_rate: int, hop: int,
                 sample_rate: int | None = None, blocksize: int = 0):
        from rlimpro.live.device import _sd, choose_rate

        sd = _sd()
        self._sd = sd
        self.has_input = input_device is not None
        self.has_output = output_device is not None
        if not (self.has_input or self.has_output):
            raise ParameterError("DuoDeviceIO needs an input or an output")
        self.channels = channels
        if self.has_input:
            available = int(sd.query_devices(input_device)["max_input_channels"])
            if max(channels) > available:
                raise AudioError(f"--channels {channels[0]},{channels[1]}: the input device has {available} input channel(s); "
                                 "the source and the target need two (or rehearse with --input SRC.wav --target TGT.wav)")
        if sample_rate is None:
            sample_rate = choose_rate(input_device if self.has_input else None,
                                      output_device if self.has_output else None, preferred=analysis_rate)
        self.sample_rate = int(sample_rate)
        self.analysis_rate = int(analysis_rate)
        self.hop = int(hop)
        self.queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self.input_overflows = 0
        self.output_underruns = 0
        self.status_flags = 0
        self.input_blocks = 0
        self.output_blocks = 0
        self.error: BaseException | None = None
        self._fifo: collections.deque[np.ndarray] = collections.deque()
        self._fifo_lock = threading.Lock()
        self._started = False
        self._in_rs = self._out_rs = None
        if self.sample_rate != self.analysis_rate:
            import soxr

            if self.has_input:
                self._in_rs = soxr.ResampleStream(self.sample_rate, self.analysis_rate, 2, dtype="float32", quality=RESAMPLE_QUALITY)
            if self.has_output:
                self._out_rs = soxr.ResampleStream(self.analysis_rate, self.sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        self._prefill = int(round(PREFILL_HOPS * self.hop * self.sample_rate / self.analysis_rate))
        self._writing = False  # set by the first processed hop; underruns count from then on
        self._out_ch = 1
        kwargs: dict[str, Any] = dict(samplerate=self.sample_rate, blocksize=blocksize, dtype="float32", latency="low")
        in_ch = max(channels)
        try:
            if self.has_input and self.has_output:
                self._out_ch = max(1, min(2, int(sd.query_devices(output_device)["max_output_channels"])))
                self.stream = sd.Stream(device=(input_device, output_device), channels=(in_ch, self._out_ch),
                                        callback=self._duplex, **kwargs)
            elif self.has_input:
                self.stream = sd.InputStream(device=input_device, channels=in_ch, callback=self._input, **kwargs)
            else:
                self._out_ch = max(1, min(2, int(sd.query_devices(output_device)["max_output_channels"])))
                self.stream = sd.OutputStream(device=output_device, channels=self._out_ch, callback=self._output, **kwargs)
        except Exception as exc:  # sounddevice.PortAudioError, ValueError
            raise AudioError(f"cannot open the audio device at {self.sample_rate} Hz ({exc})") from exc

    # ------------------------------------------------------------------ callbacks (PortAudio thread)
    def _take_input(self, indata: np.ndarray) -> None:
        self.input_blocks += 1
        s, t = self.channels
        try:
            self.queue.put_nowait(np.stack([indata[:, s - 1], indata[:, t - 1]], axis=1).copy())
        except queue.Full:
            self.input_overflows += 1

    def _play(self, outdata: np.ndarray, frames: int) -> None:
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
        except BaseException as exc:
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
        self._guard(self._play, outdata, frames)

    def _duplex(self, indata, outdata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            self.status_flags += 1
        self._guard(self._take_input, indata)
        self._guard(self._play, outdata, frames)

    # ------------------------------------------------------------------ main thread
    def start(self) -> None:
        try:
            self.stream.start()
        except Exception as exc:
            raise AudioError(f"cannot start the audio stream ({exc})") from exc
        self._started = True

    def read(self, timeout: float) -> np.ndarray | None:
        """The next input block at the analysis rate, shape (k, 2) (source, target), or None on timeout.

        Raises
        ------
        AudioError
            The callback failed or the stream stopped.
        """
        self.check()
        try:
            block = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if self._in_rs is not None:
            block = self._in_rs.resample_chunk(block.astype(np.float32))
        return block

    def write(self, processed: np.ndarray) -> None:
        """Queue one processed hop (analysis rate) for the output."""
        x = np.asarray(processed, dtype=np.float32)
        if self._out_rs is not None:
            x = self._out_rs.resample_chunk(x)
        with self._fifo_lock:
            if not self._writing:
                self._fifo.append(np.zeros(self._prefill, np.float32))
                self._writing = True
            self._fifo.append(np.clip(x, -1.0, 1.0))

    def queued(self) -> int:
        """Output samples (device rate) waiting to be played."""
        with self._fifo_lock:
            return int(sum(c.size for c in self._fifo))

    def check(self) -> None:
        """Raise if the callback failed or the stream is no longer running."""
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
