"""Fill in the Pd patch templates shipped in ``rlimpro/pd_templates/``.

Templates are ordinary Pd files with ``@NAME@`` fields. Pd symbols cannot hold spaces safely, so
the generated patch lives in a fresh temporary folder with a plain name, and the synth's folder is
reached through a symlink ``synth`` beside it (``[declare -path synth]``), whatever its real path.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from rlimpro.errors import PdError

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "pd_templates"
SYNTH_LINK = "synth"
_FIELD = re.compile(r"@([A-Z_]+)@")
_UNSAFE = re.compile(r"[\s;,$\\{}]")


def fill_template(name: str, fields: dict[str, object]) -> str:
    """The text of template ``name`` with every ``@FIELD@`` replaced.

    Raises
    ------
    PdError
        A field is missing from ``fields`` or a value would break the Pd file.
    """
    path = TEMPLATES_DIR / name
    try:
        text = path.read_text()
    except OSError as exc:  # pragma: no cover - a broken installation
        raise PdError(f"Pd template {path} is missing from the rlimpro installation: {exc}") from exc
    for key, value in fields.items():
        if _UNSAFE.search(str(value)):
            raise PdError(f"cannot put {value!r} into a Pd patch ({key}): spaces and ; , $ \\ {{ }} are not allowed")

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in fields:
            raise PdError(f"Pd template {name}: no value for @{m.group(1)}@")
        return str(fields[m.group(1)])

    return _FIELD.sub(sub, text)


def make_workdir(prefix: str) -> Path:
    """A new temporary folder whose path is safe inside a Pd patch (no spaces or special characters)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if _UNSAFE.search(str(folder)):
        shutil.rmtree(folder, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    return folder


def link_synth(workdir: Path, synth_folder: Path) -> str:
    """Symlink ``workdir/synth`` to the synth's folder; return the name to use in ``[declare -path]``."""
    link = workdir / SYNTH_LINK
    link.symlink_to(Path(synth_folder).resolve(), target_is_directory=True)
    return SYNTH_LINK


def synth_patch(spec) -> tuple[Path, str]:  # spec: rlimpro.synths.SynthSpec
    """``(path of the synth's synth.pd, the Pd object name that instantiates it)``.

    Raises
    ------
    PdError
        The patch does not exist or its name cannot be a Pd object name.
    """
    patch = spec.pd_patch()
    if not patch.is_file():
        raise PdError(f"synth '{spec.name}': {patch} does not exist")
    return patch, synth_object(patch)


def synth_object(patch: Path) -> str:
    """The Pd object name that instantiates abstraction ``patch`` (``synth.pd`` -> ``synth``).

    Raises
    ------
    PdError
        The file name cannot be used as a Pd object name.
    """
    name = Path(patch).name
    if not name.endswith(".pd"):
        raise PdError(f"{patch}: a Pd synth must be a .pd file")
    obj = name[:-3]
    if not obj or _UNSAFE.search(obj):
        raise PdError(f"{patch}: rename it without spaces or ; , $ \\ {{ }} so Pd can load it as an abstraction")
    return obj
