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
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
