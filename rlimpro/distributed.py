"""Run rlimpro jobs on Ray: a private Ray instance on this machine, or an existing cluster.

Ray is an optional extra (``pip install 'rlimpro[ray]'``); nothing here imports it at module level,
and every entry point raises a :class:`~rlimpro.errors.ParameterError` with the install hint when it
is missing.

Addresses (the value of ``--ray``):

- ``local``: start a private Ray instance on this machine for this job and shut it down after.
  It advertises a loopback address, so its processes talk to each other over loopback (Ray still
  listens on every interface; a local instance has Ray's token authentication on by default).
- ``HOST:PORT`` (the head's GCS port, 6379 by default) or ``ray://HOST:PORT`` (Ray Client): an
  existing cluster. Every node needs the same rlimpro version installed; a Pure Data synth also needs
  its ``synths/<name>/`` folder at the same path on every node (a shared file system). Ray's own
  settings apply: a cluster with token authentication needs ``RAY_AUTH_MODE=token`` and the token
  (``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN``) in the environment of the ``rlimpro`` command.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from rlimpro import __version__
from rlimpro.errors import MismatchError, ParameterError, RlimproError, SynthError

INSTALL_HINT = "pip install 'rlimpro[ray]'"
LOCAL = "local"
_AUTH_MODE = "RAY_AUTH_MODE"
CONNECT_TIMEOUT = 5.0  # s: how long to wait for a cluster's head to accept a TCP connection
# Ray rewrites 127.0.0.1 and "localhost" to the machine's routed interface address on Linux; any other
# address in 127.0.0.0/8 is loopback too and is left alone. Elsewhere Ray already uses loopback locally.
_LOCAL_NODE_IP = "127.0.0.2" if sys.platform.startswith("linux") else None


def import_ray(*, tune: bool = False, purpose: str = "--ray") -> Any:
    """Import and return the ``ray`` module (with ``tune``: check that Ray Tune imports too).

    Raises
    ------
    ParameterError
        Ray (or Ray Tune's dependencies) is not installed; the message names ``purpose`` and gives the
        install command.
    """
    try:
        import ray

        if tune:
            import ray.tune  # noqa: F401  (pulls pandas, pyarrow, fsspec: the [tune] extra)
    except ImportError as exc:
        what = "Ray Tune" if tune else "Ray"
        raise ParameterError(f"{purpose} needs {what}, which is not installed: {INSTALL_HINT}") from exc
    return ray


def check_address(address: str) -> None:
    """Check, before any work starts, that Ray is installed and ``address`` can be used.

    ``HOST:PORT`` must accept a TCP connection within a few seconds (Ray itself would retry for
    minutes).

    Raises
    ------
    ParameterError
        Ray is missing, the address is malformed, or nothing answers there (names the address and
        what to do).
    """
    import_ray()
    if address != LOCAL:
        _probe(address)


def _host_port(address: str) -> tuple[str, int]:
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 < int(port) < 65536):
        raise ParameterError(
            f"--ray {address}: expected 'local' (a Ray instance on this machine) or HOST:PORT of a Ray "
            "cluster's head, as printed by `ray start --head` (e.g. 10.0.0.5:6379, or ray://HOST:10001)"
        )
    return host.strip("[]"), int(port)


def _probe(address: str) -> None:
    """Fail fast with a clear message when nothing listens at ``address`` (Ray itself retries for minutes)."""
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ParameterError(
            f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
            "`ray start --head --port PORT` on the head node, or use '--ray local' for this machine only"
        ) from exc


@contextlib.contextmanager
def ray_session(address: str, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to Ray for the duration of a ``with`` block; yields the ``ray`` module.

    Parameters
    ----------
    address : str
        ``local``, ``HOST:PORT`` or ``ray://HOST:PORT`` (see the module docstring).
    num_cpus : int, optional
        CPUs of a ``local`` instance (default: all cores); ignored for a cluster.

    Notes
    -----
    When Ray is already initialized in this process (a notebook, a test), that session is used as it
    is and left running. Otherwise the connection is closed on exit, and a ``local`` instance is shut
    down with all its processes, also after an error or Ctrl-C.

    Raises
    ------
    ParameterError
        Ray is missing, or no cluster answers at ``address``.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    check_address(address)
    auth_mode = os.environ.get(_AUTH_MODE)  # ray.init sets it for a local instance; undone on exit
    try:
        try:
            if address == LOCAL:  # a private instance: its start-up warnings are not the user's business
                ray.init(
                    address="local",
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    _node_ip_address=_LOCAL_NODE_IP,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
            else:  # a cluster's warnings (e.g. no authentication) are worth seeing
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            hint = "" if address == LOCAL else (
                "; if the cluster uses token authentication, set RAY_AUTH_MODE=token here and give its token "
                "in ~/.ray/auth_token or RAY_AUTH_TOKEN"
            )
            raise ParameterError(f"--ray {address}: cannot start or join Ray: {exc}{hint}") from exc
        yield ray
    finally:
        ray.shutdown()
        if auth_mode is None:
            os.environ.pop(_AUTH_MODE, None)
        else:
            os.environ[_AUTH_MODE] = auth_mode


def _run_on_worker(job: Callable[[Any], Any], item: Any) -> tuple[str, Any]:
    """The Ray task: run ``job(item)`` and report this node's rlimpro version beside the result."""
    return __version__, job(item)


def _cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def run_chunks(
    job: Callable[[np.ndarray], np.ndarray],
    chunks: dict[int, np.ndarray],
    *,
    address: str,
    on_result: Callable[[int, np.ndarray], None],
    num_cpus: int | None = None,
) -> None:
    """Run ``job(chunks[i])`` for every ``i`` as Ray tasks; call ``on_result(i, result)`` as each finishes.

    Results arrive in completion order, one at a time, on the calling thread, so ``on_result`` can save
    them to a resumable store (the lookup's chunk files). At most twice the cluster's CPU count of tasks
    are in flight, so a grid of millions of points never sits in Ray's object store at once.

    Parameters
    ----------
    job : callable
        A picklable function (module-level, or a ``functools.partial`` of one) mapping one chunk to its
        result; it runs on the Ray workers, which must have rlimpro installed.
    chunks : dict of int to ndarray
        Chunk index -> input rows, e.g. (CHUNK_ROWS, N) parameter vectors.
    address : str
        ``local``, ``HOST:PORT`` or ``ray://HOST:PORT``.
    on_result : callable
        Called as ``on_result(index, result)`` for every finished chunk.
    num_cpus : int, optional
        CPUs of a ``local`` instance (default: all cores).

    Raises
    ------
    ParameterError
        Ray is missing or the cluster cannot be reached.
    MismatchError
        A worker runs another rlimpro version than this process.
    RlimproError
        The job's own error (e.g. :class:`~rlimpro.errors.SynthError`), re-raised as it was.
    SynthError
        A task failed for another reason (a lost node after Ray's retries, a worker without rlimpro).
    """
    if not chunks:
        return
    with ray_session(address, num_cpus=num_cpus) as ray:
        task = ray.remote(num_cpus=1, max_retries=3)(_run_on_worker)
        job_ref = ray.put(job)
        queue = collections.deque(sorted(chunks))
        pending: dict[Any, int] = {}
        limit = 2 * _cluster_cpus(ray)
        # No ray.cancel() on the way out (error or Ctrl-C): force-cancelling a task that is completing
        # trips a check in Ray's core worker and aborts the process; ray.shutdown() at the end of the
        # session ends this job, and with it its remaining tasks.
        while queue or pending:
            while queue and len(pending) < limit:
                i = queue.popleft()
                pending[task.remote(job_ref, chunks[i])] = i
            first, rest = ray.wait(list(pending), num_returns=1)
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
            for ref in first + more:
                i = pending.pop(ref)
                version, result = _get(ray, ref, index=i)
                if version != __version__:
                    raise MismatchError(
                        f"a Ray worker runs rlimpro {version} but this machine runs {__version__}: "
                        "install the same rlimpro version on every node"
                    )
                on_result(i, result)


def _get(ray: Any, ref: Any, *, index: int) -> Any:
    """``ray.get(ref)``; a task's rlimpro error is re-raised as itself, anything else as a SynthError."""
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, RlimproError):
            raise cause from None
        if isinstance(cause, ModuleNotFoundError) and "rlimpro" in str(cause):
            raise SynthError(
                f"a Ray worker cannot import rlimpro ({cause}): install rlimpro {__version__} on every node"
            ) from None
        raise SynthError(f"chunk {index} failed on a Ray worker: {type(cause).__name__}: {cause}") from None
    except RayError as exc:
        raise SynthError(
            f"chunk {index} was lost on the Ray cluster ({type(exc).__name__}: {exc}); "
            "finished chunks are saved, run the same command again to resume"
        ) from None
