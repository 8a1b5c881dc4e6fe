"""Workspace layout: where synths, corpora and runs live.

Paths resolve against a workspace root: the current directory by default, ``RLIMPRO_ROOT`` or the
CLI's ``--root`` to change it. Built-in synths ship inside the package, so ``rlimpro lookup --synth fm``
works in an empty directory; their outputs (lookup table, models, maps) still go to the workspace.

One name rule for synths, corpora and runs (:func:`check_name`, :func:`inside_workspace`): a plain
name, or a path that stays inside the workspace. ``..``, absolute paths outside the workspace and
symlinks that lead out of it are refused with one line, so nothing is read from or written outside it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from rlimpro.errors import NotFoundError, ParameterError

BUILTIN_SYNTHS_DIR = Path(__file__).parent / "builtin_synths"


def root(explicit: Path | str | None = None) -> Path:
    """Return the workspace root: ``explicit``, else ``$RLIMPRO_ROOT``, else the current directory."""
    if explicit is not None:
        return Path(explicit).resolve()
    env = os.environ.get("RLIMPRO_ROOT")
    return Path(env).resolve() if env else Path.cwd().resolve()


def builtin_synth_names() -> list[str]:
    """Names of the synths that ship inside the package."""
    return sorted(p.name for p in BUILTIN_SYNTHS_DIR.iterdir() if (p / "synth.yaml").is_file())


#: Files that make a folder a synth definition: synth.yaml, or one engine's source file alone.
DEFINITION_FILES = ("synth.yaml", "synth.pd", "synth.dsp", "synth.csd", "synth.scsyndef", "synth.scd")


def _is_definition(folder: Path) -> bool:
    return any((folder / f).is_file() for f in DEFINITION_FILES)


def user_synth_names(*, workspace: Path) -> list[str]:
    """Names of the synth folders under ``<workspace>/synths`` that hold a synth.yaml or a source file."""
    base = workspace / "synths"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if _is_definition(p))


def check_name(name: str, *, option: str) -> None:
    """Refuse a synth, corpus or run name that could lead out of the workspace.

    Parameters
    ----------
    name : str
        The name as given.
    option : str
        How messages name it (``"--synth"``, ``"synth"`` in a config ...).

    Raises
    ------
    ParameterError
        Empty or blank-padded, a NUL byte, or a ``..`` component.
    """
    if not isinstance(name, str) or not name or name != name.strip() or "\0" in name:
        raise ParameterError(f"{option} {name!r}: give a plain name (letters, digits, - and _)")
    if ".." in Path(name).parts or ".." in name.replace("\\", "/").split("/"):
        raise ParameterError(
            f"{option} {name!r}: '..' is not allowed; names stay inside the workspace (give a plain name)"
        )


def inside_workspace(path: Path, *, workspace: Path, option: str, name: str) -> Path:
    """``path`` when it stays inside ``workspace`` with every symlink followed, else an error.

    Raises
    ------
    ParameterError
        The path (or a symlink on it) leads outside the workspace.
    """
    ws = Path(workspace).resolve()
    real = Path(path).resolve()
    if real != ws and not real.is_relative_to(ws):
        via = " through a symlink" if Path(os.path.abspath(path)).is_relative_to(ws) else ""
        raise ParameterError(
            f"{option} {name!r}: {path} leads outside the workspace {ws}{via} (to {real}); "
            "synths, corpora and runs stay inside it"
        )
    return Path(path)


def synth_dir(name: str, *, workspace: Path) -> Path:
    """Output folder of synth ``name`` in the workspace: ``<workspace>/synths/<name>``.

    Tables, models and maps of every synth, built-in or not, are written here.

    Raises
    ------
    ParameterError
        ``name`` leads outside the workspace (:func:`check_name`, :func:`inside_workspace`).
    """
    check_name(name, option="synth name")
    return inside_workspace(Path(workspace) / "synths" / name, workspace=workspace, option="synth name", name=name)


def synth_source_dir(name: str, *, workspace: Path) -> Path:
    """Folder holding the definition (synth.yaml and/or synth.pd) of synth ``name``.

    A user folder ``<workspace>/synths/<name>`` with a definition wins over a built-in of that name.

    Raises
    ------
    NotFoundError
        No such synth; the message suggests close matches.
    """
    user = synth_dir(name, workspace=workspace)
    if _is_definition(user):
        return user
    builtin = BUILTIN_SYNTHS_DIR / name
    if (builtin / "synth.yaml").is_file():
        return builtin
    known = sorted(set(builtin_synth_names()) | set(user_synth_names(workspace=workspace)))
    raise NotFoundError(
        f"unknown synth '{name}'{did_you_mean(name, known)} "
        f"(built-in: {', '.join(builtin_synth_names())}; a user synth is a folder {user}/ "
        f"with synth.yaml or a source file: {', '.join(DEFINITION_FILES[1:])})"
    )


def corpus_dir(name: str, *, workspace: Path) -> Path:
    """Folder of corpus ``name``: ``<workspace>/corpora/<name>``.

    Raises
    ------
    ParameterError
        ``name`` leads outside the workspace.
    """
    check_name(name, option="corpus name")
    return inside_workspace(Path(workspace) / "corpora" / name, workspace=workspace, option="corpus name", name=name)


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """A ``"; did you mean 'x'?"`` suffix for error messages, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""
