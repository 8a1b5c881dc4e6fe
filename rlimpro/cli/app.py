"""The Typer app, the global ``--root`` option and the error boundary shared by every stage."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from rlimpro import __version__

app = typer.Typer(
    name="rlimpro",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="A listening agent that steers a synthesizer to imitate a musician (reinforcement learning).\n\n"
    "Pipeline: lookup -> analyze-corpus -> (visualize) -> train -> evaluate -> live.",
)

class FlagsAsFlags(typer.core.TyperCommand):
    """A command whose ``--help`` shows a flag without a value (Typer 0.29 with Click 8.2+ prints
    ``--force <bool>``, and ``--force true`` is then an error) and a repeatable option as
    ``<str>[,…]`` rather than a Python type name (``<list[str]>``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for p in params:  # Typer's own (vendored) Click options: matched by what they are, not their class
            if getattr(p, "param_type_name", "") == "option" and p.metavar is None:
                if p.is_flag:
                    p.metavar = ""
                elif p.multiple:
                    p.metavar = "<str>[,…]"
        return params


err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


class State:
    """Options given before the subcommand."""

    root: Path | None = None


state = State()


def workspace() -> Path:
    """The workspace root chosen by ``--root`` / ``RLIMPRO_ROOT`` / the current directory."""
    from rlimpro.workspace import root

    return root(state.root)


def _version(value: bool) -> None:
    if value:
        out_console.print(f"rlimpro {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    root: Annotated[
        Path | None,
        typer.Option("--root", envvar="RLIMPRO_ROOT", help="Workspace root (default: current directory).", file_okay=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    state.root = root


EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def stage_errors(what: str) -> Iterator[None]:
    """Turn rlimpro errors into a one-line message and a non-zero exit; Ctrl-C into exit 130."""
    from rlimpro.errors import PartialFailure, RlimproError

    try:
        yield
    except PartialFailure as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        for item, reason in exc.failures.items():
            err_console.print(f"  [red]✗[/] {escape(str(item))}: {escape(str(reason))}")
        raise typer.Exit(EXIT_ERROR) from None
    except RlimproError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        err_console.print(f"[yellow]{what} interrupted[/]; progress so far is saved, run the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def warn(message: str) -> None:
    """Print a warning on stderr."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}")


def info(message: str) -> None:
    """Print a result line on stdout."""
    out_console.print(message)


def die(message: str, code: int = EXIT_ERROR) -> None:
    """Print an error and exit (for checks the CLI makes itself)."""
    err_console.print(f"[red]error:[/] {escape(message)}")
    sys.exit(code)
