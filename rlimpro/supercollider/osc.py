"""The bits of OSC scsynth needs: messages, bundles with timetags in seconds, and NRT score files.

A non-real-time score (``scsynth -N``) is a sequence of OSC bundles, each preceded by its size as a
big-endian int32; a bundle's timetag is the time in seconds from the start of the render (NTP-style
32.32 fixed point, without the NTP epoch).
"""

from __future__ import annotations

import struct

Arg = int | float | str | bytes


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def message(address: str, *args: Arg) -> bytes:
    """One OSC message: ints as ``i``, floats as ``f``, str as ``s``, bytes as ``b`` (blob)."""
    tags = ","
    data = []
    for a in args:
        if isinstance(a, bool):
            raise TypeError("OSC booleans are not used here")
        if isinstance(a, int):
            tags += "i"
            data.append(struct.pack(">i", a))
        elif isinstance(a, float):
            tags += "f"
            data.append(struct.pack(">f", a))
        elif isinstance(a, str):
            tags += "s"
            data.append(_pad(a.encode()))
        elif isinstance(a, bytes):
            tags += "b"
            blob = struct.pack(">i", len(a)) + a
            data.append(blob + b"\0" * (-len(blob) % 4))
        else:
            raise TypeError(f"cannot send {type(a).__name__} over OSC")
    return _pad(address.encode()) + _pad(tags.encode()) + b"".join(data)


def timetag(seconds: float) -> bytes:
    """NRT timetag: ``seconds`` as 32.32 fixed point."""
    whole = int(seconds)
    frac = int(round((seconds - whole) * 2**32))
    if frac >= 2**32:
        whole, frac = whole + 1, frac - 2**32
    return struct.pack(">II", whole, frac)


def bundle(seconds: float, messages: list[bytes]) -> bytes:
    """An OSC bundle of ``messages`` at ``seconds``."""
    return b"#bundle\0" + timetag(seconds) + b"".join(struct.pack(">i", len(m)) + m for m in messages)


def score(bundles: list[bytes]) -> bytes:
    """An NRT score file's bytes: each bundle preceded by its size."""
    return b"".join(struct.pack(">i", len(b)) + b for b in bundles)


def parse_message(data: bytes) -> tuple[str, list[Arg]]:
    """Address and arguments of one OSC message (tags i, f, s, b), for replies from scsynth."""
    def string(pos: int) -> tuple[str, int]:
        end = data.index(b"\0", pos)
        return data[pos:end].decode("utf-8", "replace"), (end + 4) & ~3

    address, pos = string(0)
    tags, pos = string(pos)
    args: list[Arg] = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", data[pos : pos + 4])[0])
            pos += 4
        elif t == "f":
            args.append(struct.unpack(">f", data[pos : pos + 4])[0])
            pos += 4
        elif t == "s":
            s, pos = string(pos)
            args.append(s)
        elif t == "b":
            (n,) = struct.unpack(">i", data[pos : pos + 4])
            args.append(data[pos + 4 : pos + 4 + n])
            pos += 4 + n + (-n % 4)
        else:
            break
    return address, args
