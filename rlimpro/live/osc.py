"""OSC for live use: a plain UDP socket, python-osc's parser and builder, and a single-slot mailbox.

Addresses (DESIGN.md "Live"): ``/rlimpro/target f…`` (input: one descriptor frame, every descriptor in
canonical order), ``/rlimpro/params f…`` (output: synth parameters in [0, 1]) and
``/rlimpro/features f…`` (output, optional: the agent's own descriptor frame).

The receiver is not a threaded server with a queue: :meth:`OscTargetReceiver.poll` blocks on the
socket until a datagram arrives (no polling interval, so no added latency), then drains whatever
else is already waiting without blocking and keeps only the newest valid frame. Under a flood the
newest frame wins; older valid frames are counted as ``superseded``. Memory is bounded by the
kernel's socket receive buffer; nothing grows in Python. Messages that are not a valid target frame
(malformed datagram, unknown address, wrong length, a non-float argument, NaN or infinity) are
counted by reason and ignored.
"""

from __future__ import annotations

import dataclasses
import math
import select
import socket
from typing import Any

import numpy as np

from rlimpro.errors import ParameterError

TARGET_ADDRESS = "/rlimpro/target"
PARAMS_ADDRESS = "/rlimpro/params"
FEATURES_ADDRESS = "/rlimpro/features"
DEFAULT_PORT = 9000
MAX_DATAGRAM = 65535
MAX_DRAIN = 4096  # datagrams read per poll before the newest valid frame is handed out


def build_message(address: str, values: np.ndarray) -> bytes:
    """An OSC message ``address f f …`` as bytes (python-osc's builder; floats as ``f``)."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for v in np.asarray(values, dtype=np.float64).ravel():
        builder.add_arg(float(v), OscMessageBuilder.ARG_TYPE_FLOAT)
    return builder.build().dgram


def parse_endpoint(text: str, *, what: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` -> (host, port).

    Raises
    ------
    ParameterError
        Not a port number in 0..65535 (names ``what``).
    """
    host, _, port_text = text.rpartition(":")
    host = host or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ParameterError(f"{what} '{text}': expected PORT or HOST:PORT with a numeric port") from None
    if not (0 <= port <= 65535):
        raise ParameterError(f"{what} '{text}': port {port} is outside 0..65535")
    return host, port


@dataclasses.dataclass
class OscCounters:
    """What the receiver saw, by kind."""

    valid: int = 0  #: valid target frames received
    used: int = 0  #: valid frames handed to the agent (the newest of each poll)
    superseded: int = 0  #: valid frames replaced by a newer one before the agent took them
    malformed: int = 0  #: datagrams python-osc cannot parse
    unknown_address: int = 0
    wrong_length: int = 0
    wrong_type: int = 0  #: an argument that is not a float (int, string, blob …)
    not_finite: int = 0  #: NaN or infinity among the values

    @property
    def ignored(self) -> int:
        """Messages ignored as invalid."""
        return self.malformed + self.unknown_address + self.wrong_length + self.wrong_type + self.not_finite

    def as_dict(self) -> dict[str, int]:
        return {**dataclasses.asdict(self), "ignored": self.ignored}


class OscTargetReceiver:
    """Receive ``/rlimpro/target`` frames on a UDP port; send ``/rlimpro/params`` replies.

    Parameters
    ----------
    host : str
        Interface to bind (``"0.0.0.0"``: all).
    port : int
        UDP port; 0 picks a free one (see :attr:`port`).
    n_values : int
        Values in a valid target frame (the number of descriptors).
    """

    def __init__(self, *, host: str = "0.0.0.0", port: int = DEFAULT_PORT, n_values: int):
        self.n_values = int(n_values)
        self.counters = OscCounters()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise ParameterError(
                f"--input osc:{port}: cannot listen on udp {host}:{port} ({exc.strerror or exc}); "
                "choose another port"
            ) from exc
        self._sock.setblocking(False)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self._params_header: dict[int, bytes] = {}

    # ------------------------------------------------------------------ receiving
    def _frame(self, message: Any) -> np.ndarray | None:
        """The frame of one parsed message, or None (counted by reason)."""
        if message.address != TARGET_ADDRESS:
            self.counters.unknown_address += 1
            return None
        values = message.params
        if len(values) != self.n_values:
            self.counters.wrong_length += 1
            return None
        for v in values:
            if type(v) is not float:
                self.counters.wrong_type += 1
                return None
        for v in values:
            if not math.isfinite(v):
                self.counters.not_finite += 1
                return None
        self.counters.valid += 1
        return np.asarray(values, dtype=np.float64)

    def _frames_of(self, data: bytes) -> list[np.ndarray]:
        from pythonosc.osc_bundle import OscBundle
        from pythonosc.osc_message import OscMessage

        try:
            if OscBundle.dgram_is_bundle(data):
                out: list[np.ndarray] = []
                stack = [OscBundle(data)]
                while stack:
                    for item in stack.pop():
                        if isinstance(item, OscBundle):
                            stack.append(item)
                        else:
                            f = self._frame(item)
                            if f is not None:
                                out.append(f)
                return out
            f = self._frame(OscMessage(data))
        except Exception:  # python-osc raises ParseError, IndexError, struct.error … on garbage
            self.counters.malformed += 1
            return []
        return [] if f is None else [f]

    def poll(self, timeout: float | None) -> tuple[np.ndarray, tuple[str, int]] | None:
        """Wait for datagrams, drain what is waiting, return the newest valid frame and its sender.

        Parameters
        ----------
        timeout : float or None
            Seconds to wait for the first datagram (None: forever).

        Returns
        -------
        (frame, sender) or None
            ``frame`` shape (n_values,), float64; None if no valid frame arrived in time.
        """
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return None
        newest: tuple[np.ndarray, tuple[str, int]] | None = None
        for _ in range(MAX_DRAIN):
            try:
                data, sender = self._sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionError:  # ICMP port unreachable from an earlier reply; ignore
                continue
            for frame in self._frames_of(data):
                if newest is not None:
                    self.counters.superseded += 1
                newest = (frame, sender)
        if newest is not None:
            self.counters.used += 1
        return newest

    # ------------------------------------------------------------------ sending
    def send_params(self, params: np.ndarray, to: tuple[str, int]) -> None:
        """Send ``/rlimpro/params f…`` to ``to`` (errors such as an unreachable host are ignored)."""
        send_message(self._sock, build_message(PARAMS_ADDRESS, params), to)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> OscTargetReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_message(sock: socket.socket, data: bytes, to: tuple[str, int]) -> bool:
    """Send one datagram; False (never an exception) when the network refuses it."""
    try:
        sock.sendto(data, to)
        return True
    except OSError:
        return False


class OscSender:
    """Send ``/rlimpro/params`` (and optionally ``/rlimpro/features``) to a fixed HOST:PORT.

    Parameters
    ----------
    host, port : str, int
    features : bool
        Also send the agent's descriptor frame as ``/rlimpro/features``.
    """

    def __init__(self, *, host: str, port: int, features: bool = False):
        try:
            self.address = (socket.gethostbyname(host), int(port))
        except OSError as exc:
            raise ParameterError(f"--output osc://{host}:{port}: cannot resolve host '{host}' ({exc})") from exc
        self.features = features
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0
        self.failed = 0

    def send(self, params: np.ndarray, descriptors: np.ndarray | None = None) -> None:
        ok = send_message(self._sock, build_message(PARAMS_ADDRESS, params), self.address)
        if self.features and descriptors is not None:
            ok = send_message(self._sock, build_message(FEATURES_ADDRESS, descriptors), self.address) and ok
        if ok:
            self.sent += 1
        else:
            self.failed += 1

    def close(self) -> None:
        self._sock.close()
