"""OSC for live use: a plain UDP socket, python-osc's parser and builder, and a single-slot mailbox.

Addresses (DESIGN.md "Live"): ``/rlimpro/target f…`` (input: one descriptor frame, every descriptor in
canonical order), ``/rlimpro/params f…`` (output: synth parameters in [0, 1]) and
``/rlimpro/features f…`` (output, optional: the agent's own descriptor frame).

The receiver is not a threaded server with a queue: :meth:`OscTargetReceiver.poll` blocks on the
socket until a datagram arrives (no polling interval, so no added latency), then drains whatever
else is already waiting without blocking and keeps only the newest valid frame. Under a flood the
newest frame wins; older valid frames are counted as ``superseded``. Memory is bounded by the
kernel's socket receive buffer; nothing grows in Python. Messages that are not a valid target frame
(malformed datagram or bundle, unknown address, wrong length, a non-float argument, NaN or infinity)
are counted by reason and ignored.

Incoming datagrams are parsed by :func:`parse_packet`, a strict OSC 1.0 parser of our own: python-osc's
parser logs a warning through the root logger (to stderr) for every bundle element or type tag it
does not know, and a flood of them on a stderr pipe that nobody reads blocked the decision loop.
Nothing here writes to stderr; the live CLI reports the counters at most once a second.

Sockets bind 127.0.0.1 unless the user names another host; senders are *connected* UDP sockets,
so they take replies from their destination only and never hold a wildcard binding.
"""

from __future__ import annotations

import dataclasses
import select
import socket

import numpy as np

from rlimpro.errors import ParameterError

TARGET_ADDRESS = "/rlimpro/target"
PARAMS_ADDRESS = "/rlimpro/params"
FEATURES_ADDRESS = "/rlimpro/features"
DEFAULT_PORT = 9000
MAX_DATAGRAM = 65535
MAX_DRAIN = 4096  # datagrams read per poll before the newest valid frame is handed out
MAX_BUNDLE_DEPTH = 8  # nested bundles deeper than this are malformed
LOOPBACK = "127.0.0.1"


class OscParseError(ValueError):
    """A datagram that is not a well-formed OSC 1.0 message or bundle."""


#: Bytes taken by each fixed-size OSC 1.0 argument type (strings and blobs are handled apart).
_ARG_BYTES = {"f": 4, "i": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8,
              "T": 0, "F": 0, "N": 0, "I": 0, "[": 0, "]": 0}


def _string_end(data: bytes, start: int) -> int:
    """Index after the 4-byte padded, NUL-terminated OSC string that starts at ``start``."""
    nul = data.find(b"\0", start)
    if nul < 0:
        raise OscParseError("unterminated string")
    end = (nul // 4 + 1) * 4
    if end > len(data):
        raise OscParseError("string padding runs past the end")
    return end


def parse_packet(data: bytes, *, depth: int = 0) -> list[tuple[str, str, bytes, int]]:
    """The messages of one OSC datagram (a message or a bundle, bundles nested), checked strictly.

    Parameters
    ----------
    data : bytes
        One UDP datagram.

    Returns
    -------
    list of (address, type tags, message bytes, offset of the first argument)
        Type tags without the leading comma. Every argument has been checked to fit the message
        exactly (none missing, nothing left over); nothing is decoded.

    Raises
    ------
    OscParseError
        Anything malformed, including any element of a bundle.
    """
    if data.startswith(b"#bundle\0"):
        if depth >= MAX_BUNDLE_DEPTH:
            raise OscParseError("bundles nested too deep")
        if len(data) < 16:
            raise OscParseError("bundle without a time tag")
        out: list[tuple[str, str, bytes, int]] = []
        i = 16
        while i < len(data):
            if i + 4 > len(data):
                raise OscParseError("bundle element without a size")
            size = int.from_bytes(data[i : i + 4], "big", signed=True)
            i += 4
            if size <= 0 or size % 4 or i + size > len(data):
                raise OscParseError(f"bundle element of size {size}")
            out.extend(parse_packet(data[i : i + size], depth=depth + 1))
            i += size
        return out
    if not data.startswith(b"/"):
        raise OscParseError("not an OSC message (no '/' address)")
    i = _string_end(data, 0)
    try:
        address = data[: data.index(b"\0")].decode("ascii")
    except UnicodeDecodeError:
        raise OscParseError("address is not ASCII") from None
    if i == len(data):
        return [(address, "", data, i)]
    if data[i : i + 1] != b",":
        raise OscParseError("no type tag string")
    end = _string_end(data, i)
    try:
        tags = data[i + 1 : data.index(b"\0", i)].decode("ascii")
    except UnicodeDecodeError:
        raise OscParseError("type tags are not ASCII") from None
    first = j = end
    for tag in tags:
        if tag in _ARG_BYTES:
            j += _ARG_BYTES[tag]
        elif tag in "sS":
            j = _string_end(data, j)
        elif tag == "b":
            if j + 4 > len(data):
                raise OscParseError("blob without a size")
            size = int.from_bytes(data[j : j + 4], "big", signed=True)
            if size < 0:
                raise OscParseError("negative blob size")
            j += 4 + -(-size // 4) * 4
        else:
            raise OscParseError(f"unknown type tag {tag!r}")
        if j > len(data):
            raise OscParseError("arguments run past the end")
    if j != len(data):
        raise OscParseError("bytes left over after the arguments")
    return [(address, tags, data, first)]


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
        Interface to bind: ``"127.0.0.1"`` (default: this machine only); ``"0.0.0.0"`` opens it to
        every network the machine is on.
    port : int
        UDP port; 0 picks a free one (see :attr:`port`).
    n_values : int
        Values in a valid target frame (the number of descriptors).
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = DEFAULT_PORT, n_values: int):
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
    def _frame(self, address: str, tags: str, data: bytes, offset: int) -> np.ndarray | None:
        """The frame of one parsed message, or None (counted by reason)."""
        if address != TARGET_ADDRESS:
            self.counters.unknown_address += 1
            return None
        if len(tags) != self.n_values:
            self.counters.wrong_length += 1
            return None
        if tags.count("f") != len(tags):
            self.counters.wrong_type += 1
            return None
        values = np.frombuffer(data, dtype=">f4", count=self.n_values, offset=offset).astype(np.float64)
        if not np.isfinite(values).all():
            self.counters.not_finite += 1
            return None
        self.counters.valid += 1
        return values

    def _frames_of(self, data: bytes) -> list[np.ndarray]:
        try:
            messages = parse_packet(data)
        except OscParseError:  # a bundle with one bad element is malformed as a whole
            self.counters.malformed += 1
            return []
        out = []
        for message in messages:
            f = self._frame(*message)
            if f is not None:
                out.append(f)
        return out

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


def send_message(sock: socket.socket, data: bytes, to: tuple[str, int] | None) -> bool:
    """Send one datagram (``to`` None: to a connected socket's peer); False (never an exception) when
    the network refuses it."""
    try:
        if to is None:
            sock.send(data)
        else:
            sock.sendto(data, to)
        return True
    except OSError:
        return False


def connected_udp_socket(address: tuple[str, int], *, what: str) -> socket.socket:
    """A UDP socket connected to ``address``: it sends there and accepts datagrams from there only.

    Its local address is the one the route to ``address`` uses (127.0.0.1 for a loopback
    destination), never the wildcard an unconnected ``sendto`` would bind.

    Raises
    ------
    ParameterError
        No route to ``address`` (names ``what``).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if ipaddress_is_loopback(address[0]):
            sock.bind((LOOPBACK, 0))
        sock.connect(address)
    except OSError as exc:
        sock.close()
        raise ParameterError(f"{what}: cannot send to {address[0]}:{address[1]} ({exc.strerror or exc})") from exc
    return sock


def ipaddress_is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) names this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
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
        self._sock = connected_udp_socket(self.address, what=f"--output osc://{host}:{port}")
        self.sent = 0
        self.failed = 0

    def send(self, params: np.ndarray, descriptors: np.ndarray | None = None) -> None:
        ok = send_message(self._sock, build_message(PARAMS_ADDRESS, params), None)
        if self.features and descriptors is not None:
            ok = send_message(self._sock, build_message(FEATURES_ADDRESS, descriptors), None) and ok
        if ok:
            self.sent += 1
        else:
            self.failed += 1

    def close(self) -> None:
        self._sock.close()
