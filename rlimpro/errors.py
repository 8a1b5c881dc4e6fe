"""The one exception hierarchy of rlimpro.

Core modules raise these; only :mod:`rlimpro.cli` turns them into messages and exit codes.
Every message names the input at fault and, where there is one, how to fix it.
"""

from __future__ import annotations


class RlimproError(Exception):
    """Base class of every error rlimpro reports to a user."""


class ParameterError(RlimproError, ValueError):
    """A function or command argument is out of range or of the wrong kind."""


class ConfigError(RlimproError):
    """A YAML file (training config, synth.yaml, sweep) does not match its schema."""


class NotFoundError(RlimproError, FileNotFoundError):
    """A synth, corpus, table, run or file that was asked for does not exist."""


class MismatchError(RlimproError):
    """Tables or models that must agree (analysis settings, parameter counts) do not."""


class AudioError(RlimproError):
    """An audio file cannot be read, or audio data is unusable."""


class SynthError(RlimproError):
    """A synth engine failed to render."""


class PdError(SynthError):
    """Pure Data is missing, failed to load a patch, hung or died."""


class StorageError(RlimproError):
    """A file or folder cannot be written or read: a full disk, permissions, a read-only folder.

    The message names the path and the operating system's reason; what was complete before the
    error stays complete, and partial files are removed.
    """


def storage_error(exc: OSError, path: object, *, action: str = "write", label: str = "") -> StorageError:
    """A :class:`StorageError` for ``exc``: ``[label: ]cannot ACTION PATH: reason``.

    Some libraries report a short write without an errno (numpy: "1800 requested and 1008 written",
    libsndfile: nothing); when the disk holding ``path`` is then (nearly) full, the reason given is
    the system's "No space left on device".
    """
    reason = exc.strerror or str(exc)
    if exc.errno is None and path is not None:
        import errno
        import os
        import shutil
        from pathlib import Path

        folder = Path(str(path)).parent
        try:
            full = shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            full = False
        if full:
            reason = os.strerror(errno.ENOSPC) + (f" ({reason})" if reason else "")
    prefix = f"{label}: " if label else ""
    return StorageError(f"{prefix}cannot {action} {path}: {reason or 'write failed'}")


class LockedError(RlimproError):
    """An output is being written by another rlimpro command (names it)."""


class UnsafeModelError(RlimproError):
    """A model file does not hold what rlimpro writes (it may run code when loaded): refused unread."""


class PartialFailure(RlimproError):
    """A batch job finished its good items but some items failed; ``failures`` maps item -> reason."""

    def __init__(self, message: str, failures: dict[str, str]):
        super().__init__(message)
        self.failures = failures
