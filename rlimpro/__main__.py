"""``python -m rlimpro``: the ``rlimpro`` command.

Ctrl-C / SIGTERM handling is installed before the command-line interface is imported, so an
interrupt while Python loads it ends as one line too (:mod:`rlimpro.interrupts`).
"""

import os
import sys

from rlimpro.interrupts import EXIT_INTERRUPTED, StopSignals

StopSignals().install()
try:
    from rlimpro.cli import main
except KeyboardInterrupt:
    sys.stderr.write("rlimpro interrupted\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)

main()
