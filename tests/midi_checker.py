"""A second JACK MIDI client for the MIDI tests: receives on ``<name>:in`` and writes what it got as JSON.

Usage: ``python tests/midi_checker.py NAME OUT.json READY_FILE``. It creates READY_FILE once its port
exists, and on SIGTERM writes every message received (``[[status, data1, data2], ...]`` in arrival
order) to OUT.json and exits.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path


def main(name: str, out: str, ready: str) -> int:
    import rtmidi

    got: list[list[int]] = []
    stop = False

    def on_term(signum, frame):  # noqa: ANN001
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=name)
    midi_in.open_virtual_port("in")
    midi_in.set_callback(lambda event, data=None: got.append(list(event[0])))
    Path(ready).write_text("ready")
    while not stop:
        time.sleep(0.02)
    time.sleep(0.1)
    midi_in.cancel_callback()
    midi_in.close_port()
    tmp = Path(out + ".tmp")
    tmp.write_text(json.dumps(got))
    tmp.rename(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
