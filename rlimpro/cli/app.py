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
from typer.core import TyperGroup

from rlimpro import __version__


class _Group(TyperGroup):
    """The command group: a Ctrl-C outside a stage's own handling still ends in one line and status 130
    (click would print "Aborted!" and exit 1)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            said = str(exc) if exc.args else f"rlimpro {ctx.invoked_subcommand or ''} interrupted".replace("  ", " ")
            err_console.print(f"[yellow]{escape(said)}[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="rlimpro",
    cls=_Group,
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
    """Turn rlimpro errors and I/O errors into a one-line message and a non-zero exit; Ctrl-C into exit 130.

    A Ctrl-C prints what the stage said it kept (a :class:`KeyboardInterrupt` raised with a message,
    e.g. by an interrupted lookup), else only that the stage was interrupted: "run the same command to
    resume" is said only where it is true.
    """
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
    except OSError as exc:  # a full disk, permissions, a read-only folder: one line, no traceback
        err_console.print(f"[red]error:[/] {escape(describe_os_error(exc))}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt as exc:
        said = str(exc) if exc.args else f"{what} interrupted"
        err_console.print(f"[yellow]{escape(said)}[/]")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def describe_os_error(exc: OSError) -> str:
    """``cannot access PATH: reason`` (or the error itself when it names no file)."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"cannot access {exc.filename}{other}: {reason}"
    return reason


def warn(message: str) -> None:
    """Print a warning on stderr."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}")


RAY_SOCKETS_WARNING = (
    "Ray's own servers listen on every network interface (Ray's choice, even for a local instance); "
    "use --ray on a trusted network or behind a firewall"
)


def info(message: str) -> None:
    """Print a result line on stdout."""
    out_console.print(message)


def die(message: str, code: int = EXIT_ERROR) -> None:
    """Print an error and exit (for checks the CLI makes itself)."""
    err_console.print(f"[red]error:[/] {escape(message)}")
    sys.exit(code)
