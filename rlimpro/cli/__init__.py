"""The ``rlimpro`` command: one Typer app, one thin subcommand per pipeline stage.

Each stage module (``rlimpro/cli/<stage>.py``) declares typed options and calls one plain function
in a core module. Only this package turns :class:`~rlimpro.errors.RlimproError` into a message and an
exit code. Heavy imports (torch, SB3, librosa) happen inside the stage functions, so ``--help`` is fast.
"""
# ruff: noqa: I001  (the import order is the order of the commands in --help: the pipeline's)

from __future__ import annotations

from rlimpro.cli.app import app

# Stage modules register their commands on import.
from rlimpro.cli import lookup as _lookup  # noqa: F401
from rlimpro.cli import corpus as _corpus  # noqa: F401
from rlimpro.cli import visualize as _visualize  # noqa: F401
from rlimpro.cli import train as _train  # noqa: F401
from rlimpro.cli import evaluate as _evaluate  # noqa: F401
from rlimpro.cli import live as _live  # noqa: F401
from rlimpro.cli import sweep as _sweep  # noqa: F401
import typer.core

from rlimpro.cli.app import FlagsAsFlags

for _info in app.registered_commands:  # every command's --help shows flags as flags (see FlagsAsFlags)
    if _info.cls in (None, typer.core.TyperCommand):
        _info.cls = FlagsAsFlags


def main() -> None:
    """Console-script entry point.

    SIGINT and SIGTERM are handled for the whole command (:class:`rlimpro.interrupts.StopSignals`):
    a first one stops it cleanly, a second within 2 s quits at once leaving only complete files, and
    once the command is over they are ignored while Python shuts down (no traceback from a library's
    clean-up, no death by SIGINT). An interrupted command ends with status 130 through ``os._exit``, once it
    has cleaned up: CPython would otherwise turn the exit into a death by SIGINT when the Ctrl-C
    landed inside code that a C extension ran with ``PyRun_String`` (torch's import does).
    """
    import os
    import sys

    from rlimpro.cli.app import EXIT_INTERRUPTED
    from rlimpro.interrupts import StopSignals, exiting, flush_streams
    from rlimpro.interrupts import installed as stop_signals_installed

    if stop_signals_installed() is None:
        StopSignals().install()
    try:
        app()
    except KeyboardInterrupt:  # while typer builds the command, before a stage runs
        sys.stderr.write("rlimpro interrupted\n")
        flush_streams()
        os._exit(EXIT_INTERRUPTED)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        exiting(code)
        if code == EXIT_INTERRUPTED:
            context = exc.__context__  # typer turns a Ctrl-C while it parses the command line into a silent Exit(130)
            if context is not None and isinstance(context.__cause__, KeyboardInterrupt):
                sys.stderr.write("rlimpro interrupted\n")
            flush_streams()
            os._exit(EXIT_INTERRUPTED)
        raise


__all__ = ["app", "main"]
