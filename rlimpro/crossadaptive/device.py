"""Two musicians on two channels of one audio device, the processed source on the output.

The shared :class:`~rlimpro.live.device.DeviceIO` opens one PortAudio stream (sounddevice) that
carries both inputs, so every block holds the same stretch of time of both musicians: the two
channels are on one clock by construction. Its output plays the processed audio the main thread
writes a hop at a time; the output therefore runs one hop plus
:data:`~rlimpro.live.device.PREFILL_HOPS` hops behind the input (23 ms at 44.1 kHz and a 512-sample
hop, plus the device's own buffers); before the first processed hop the output is silent, and later
an empty FIFO plays silence and is counted as an underrun.

When the device cannot run at the analysis rate (a JACK server at 48 kHz, say), input is resampled
to the analysis rate and the processed hops back to the device rate with streaming soxr resamplers.
This module adds what is cross-adaptive: ``--channels`` and the check that the device has them.
"""

from __future__ import annotations

from typing import Any

from rlimpro.errors import AudioError, ParameterError
from rlimpro.live.device import DeviceIO, _sd


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
            raise ParameterError(
                f"--channels {text!r}: give the source and target input channels, e.g. --channels 1,2"
            ) from None
    if len(parts) != 2 or min(parts) < 1 or parts[0] == parts[1]:
        raise ParameterError(
            f"--channels {text!r}: give two different input channels (1-based), e.g. --channels 1,2"
        )
    return int(parts[0]), int(parts[1])


def open_duo_device(
    *, input_device: Any, output_device: Any, channels: tuple[int, int], analysis_rate: int, hop: int
) -> DeviceIO:
    """The device stream of a cross-adaptive session: source and target in, processed hops out.

    Parameters
    ----------
    input_device : device id or None
        Input side (see :func:`rlimpro.live.device.resolve_device`); None for output only (file
        rehearsal through the speakers).
    output_device : device id or None
        Output side; None for input only.
    channels : (int, int)
        1-based input channels of the source and the target.
    analysis_rate : int
        Hz.
    hop : int
        Samples per hop at the analysis rate (the processed audio is written a hop at a time).

    Returns
    -------
    DeviceIO
        Reads blocks of shape (k, 2) (source, target); plays what :meth:`~DeviceIO.write` queues.

    Raises
    ------
    AudioError
        The device lacks the channels or cannot be opened.
    """
    if input_device is not None:
        available = int(_sd().query_devices(input_device)["max_input_channels"])
        if max(channels) > available:
            raise AudioError(
                f"--channels {channels[0]},{channels[1]}: the input device has {available} input channel(s); "
                "the source and the target need two (or rehearse with --input SRC.wav --target TGT.wav)"
            )
    return DeviceIO(
        input_device=input_device,
        input_channels=channels,
        output_device=output_device,
        output_hop=hop if output_device is not None else None,
        analysis_rate=analysis_rate,
    )
