"""MIDI output ports through python-rtmidi, on JACK or ALSA.

``--output midi`` opens a port of its own named ``rlimpro`` that a synth or DAW connects to;
``--output midi:NAME`` connects to the first destination whose name contains NAME. The API is JACK when
a JACK server answers (``$JACK_DEFAULT_SERVER`` is honoured), else ALSA; ``RLIMPRO_MIDI_API=jack|alsa``
forces one.
"""

from __future__ import annotations

import os
from typing import Any

from rlimpro.errors import AudioError, ParameterError

API_ENV = "RLIMPRO_MIDI_API"
CLIENT = "rlimpro"
INSTALL_HINT = "pip install python-rtmidi (rlimpro's dependencies include it)"


def _rtmidi() -> Any:
    try:
        import rtmidi
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise AudioError(f"python-rtmidi is not available ({exc}); {INSTALL_HINT}") from exc
    return rtmidi


def _apis(rtmidi: Any) -> list[tuple[str, int]]:
    compiled = set(rtmidi.get_compiled_api())
    apis = [(n, a) for n, a in (("jack", rtmidi.API_UNIX_JACK), ("alsa", rtmidi.API_LINUX_ALSA)) if a in compiled]
    forced = os.environ.get(API_ENV)
    if forced:
        apis = [x for x in apis if x[0] == forced.lower()]
        if not apis:
            raise ParameterError(f"{API_ENV}={forced}: choose jack or alsa (this python-rtmidi has {', '.join(n for n, _ in _apis_all(rtmidi))})")
    return apis


def _apis_all(rtmidi: Any) -> list[tuple[str, int]]:
    return [(rtmidi.get_api_name(a), a) for a in rtmidi.get_compiled_api()]


def open_output(port: str | None, *, client: str = CLIENT) -> tuple[Any, str, str]:
    """An open rtmidi ``MidiOut``: connected to the destination named like ``port``, or a port of its own.

    Returns
    -------
    (MidiOut, port name, api name)

    Raises
    ------
    AudioError
        No MIDI system answers, or no destination is named like ``port`` (the destinations seen are listed).
    """
    rtmidi = _rtmidi()
    errors = []
    seen: list[str] = []
    answered = []
    for api_name, api in _apis(rtmidi):
        if api_name == "jack" and not _jack_running():
            errors.append("jack: no JACK server")
            continue
        try:
            out = rtmidi.MidiOut(api, name=client)
        except Exception as exc:  # rtmidi.SystemError and friends
            errors.append(f"{api_name}: {exc}")
            continue
        answered.append(api_name)
        if not port:
            out.open_virtual_port("out")
            return out, f"{client}:out", api_name
        names = out.get_ports()
        seen += [f"{api_name}: {n}" for n in names]
        match = next((i for i, n in enumerate(names) if port.lower() in n.lower()), None)
        if match is not None:
            out.open_port(match, "out")
            return out, names[match], api_name
        out.delete()
    if answered:
        raise AudioError(f"--output midi:{port}: no MIDI destination named like '{port}' "
                         f"(seen on {', '.join(answered)}: {'; '.join(seen) or 'none'})")
    raise AudioError(f"--output midi: no MIDI system answered ({'; '.join(errors) or 'no API compiled in'})")


def _jack_running() -> bool:
    """True when a JACK server answers (without starting one)."""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("jack")
        if name is None:
            return False
        lib = ctypes.CDLL(name)
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        status = ctypes.c_int(0)
        JackNoStartServer = 0x01
        client = lib.jack_client_open(b"rlimpro-probe", JackNoStartServer, ctypes.byref(status))
        if not client:
            return False
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        lib.jack_client_close(client)
        return True
    except OSError:
        return False
