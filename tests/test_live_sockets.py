"""Every socket ``rlimpro live`` and its Pd open binds loopback unless the user asks for more.

Sockets are read from ``/proc/<pid>/fd`` and ``/proc/net/{udp,udp6,tcp,tcp6}`` (what ``ss -uanp`` shows)
while a real ``rlimpro live`` session runs with OSC input, an OSC output and a real Pd playing the synth.
Opening OSC input to the network is an explicit ``osc:HOST:PORT`` or ``--listen HOST``, with a warning.
Flooding the OSC input with malformed bundles, wrong type tags and oversized datagrams while stderr is
a pipe nobody reads never blocks the decision loop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from rlimpro.live.osc import PARAMS_ADDRESS, TARGET_ADDRESS, build_message

from .live_support import HELD_OUT, trained_run
from .pd_support import require_pd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


def _hex_address(text: str) -> str:
    """``/proc/net`` local address (hex, host byte order per 32-bit word) -> dotted IPv4 or IPv6 text."""
    if len(text) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(text)[::-1])
    words = [bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def sockets_of(pid: int) -> list[tuple[str, str, int]]:
    """``(protocol, local address, local port)`` of every inet socket process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for proto in ("udp", "udp6", "tcp", "tcp6"):
        lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        for line in lines:
            cols = line.split()
            if cols[9] in inodes:
                addr, port = cols[1].split(":")
                found.append((proto, _hex_address(addr), int(port, 16)))
    return found


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                kids.append(int(entry.name))
    return kids


def start_live(ws: Path, tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--log", str(tmp_path / "s.csv"),
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_line(stream, needle: str, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no line with {needle!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_no_wildcard_bindings_by_default(run, tmp_path):
    """OSC input, an OSC output and a real Pd: every socket of rlimpro and of Pd is bound to 127.0.0.1."""
    require_pd()
    ws, _ = run
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.bind(("127.0.0.1", 0))
        proc = start_live(ws, tmp_path, "--input", "osc:0", "--output", f"osc://127.0.0.1:{out.getsockname()[1]}",
                          "--output", "pd:none")
        try:
            line = wait_line(proc.stdout, "listening for /rlimpro/target", proc)
            assert "on 127.0.0.1, udp port" in line
            port = int(line.rsplit(" ", 1)[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:  # one frame: every output sends once
                client.sendto(build_message(TARGET_ADDRESS, np.zeros(36)), ("127.0.0.1", port))
                time.sleep(1.0)
            pds = children_of(proc.pid)
            assert pds, "Pd was not started"
            mine = sockets_of(proc.pid)
            theirs = [s for pid in pds for s in sockets_of(pid)]
        finally:
            stdout, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert "warning: listening on" not in stderr
    print("rlimpro's sockets:", mine, "Pd's sockets:", theirs)
    assert ("udp", "127.0.0.1", port) in mine
    assert len(mine) == 3  # the OSC input, the OSC output, the socket sending to Pd
    assert len(theirs) == 1  # Pd's netreceive: Pd answers on its stderr, it opens no other socket
    wild = [s for s in mine + theirs if s[1] not in ("127.0.0.1", "::1")]
    assert wild == [], f"sockets not bound to loopback: {wild}"


def test_opening_osc_input_to_the_network_is_explicit_and_warned(run, tmp_path):
    ws, _ = run
    for args in (["--input", "osc:0.0.0.0:0"], ["--input", "osc:0", "--listen", "0.0.0.0"]):
        proc = start_live(ws, tmp_path, *args)
        try:
            line = wait_line(proc.stdout, "listening for /rlimpro/target", proc)
            port = int(line.rsplit(" ", 1)[1])
            assert ("udp", "0.0.0.0", port) in sockets_of(proc.pid)
        finally:
            _, stderr = stop(proc)
        assert proc.returncode == 0, stderr
        assert f"warning: listening on udp 0.0.0.0:{port}: anyone who can reach this machine" in stderr


def test_listen_needs_osc_input(run):
    from typer.testing import CliRunner

    from rlimpro.cli import app

    ws, _ = run
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", "--input", "x.wav", "--listen", "0.0.0.0"])
    assert res.exit_code == 1 and "--listen HOST applies to --input osc" in res.output
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", "--input", "osc:1.2.3.4:9000",
                                   "--listen", "0.0.0.0"])
    assert res.exit_code == 1 and "already names the host" in res.output


def _bad_datagrams(frame: np.ndarray) -> list[bytes]:
    good = build_message(TARGET_ADDRESS, frame)
    element = len(good).to_bytes(4, "big") + good
    return [
        # bundles whose elements python-osc logs a warning for ("Could not identify content type")
        b"#bundle\x00" + bytes(8) + (8).to_bytes(4, "big") + b"garbage!",
        b"#bundle\x00" + bytes(8) + element + (4).to_bytes(4, "big") + b"\x00\x00\x00\x00",
        # a type tag python-osc does not know (logged as "Unhandled parameter type")
        b"/rlimpro/target\x00,x\x00\x00" + bytes(4),
        # an oversized datagram: a target message with thousands of values
        build_message(TARGET_ADDRESS, np.ones(12000)),  # 60 KB, near the largest UDP datagram
        b"#bundle\x00" + bytes(8) + (0x7FFFFFF0).to_bytes(4, "big"),  # an element size past the end
    ]


def test_bundle_flood_with_stderr_on_an_unread_pipe_never_blocks_the_loop(run, tmp_path):
    ws, _ = run
    import pandas as pd

    from rlimpro.descriptors import DESCRIPTORS

    table = pd.read_csv(ws / "corpora" / "demo" / "features" / f"{HELD_OUT}.csv")
    frames = table.loc[table["active"] == 1, list(DESCRIPTORS)].to_numpy(np.float64)[:10]
    proc = start_live(ws, tmp_path, "--input", "osc:127.0.0.1:0")  # stderr: a pipe this test never reads
    try:
        line = wait_line(proc.stdout, "listening for /rlimpro/target", proc)
        dest = ("127.0.0.1", int(line.rsplit(" ", 1)[1]))
        bad = _bad_datagrams(frames[0])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5.0)
            sent = 0
            for i in range(5000):
                client.sendto(bad[i % len(bad)], dest)
                sent += 1
                if i % 200 == 199:
                    time.sleep(0.01)  # within the kernel's receive buffer, so the receiver sees them all
            time.sleep(0.5)  # the report of the flood is printed (by a thread that may block on the pipe)
            answered = 0
            for frame in frames:  # every valid frame after the flood is answered
                client.sendto(build_message(TARGET_ADDRESS, frame), dest)
                msg = OscMessage(client.recvfrom(4096)[0])
                assert msg.address == PARAMS_ADDRESS
                answered += 1
        assert answered == len(frames)
    finally:
        stdout, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    lines = stderr.splitlines()
    assert len(lines) < 40, f"{len(lines)} lines on stderr: a report per packet? {lines[:5]}"
    assert not [ln for ln in lines if "Could not identify" in ln or "Unhandled parameter" in ln]
    assert any("invalid messages ignored in the last second" in ln for ln in lines), (lines, stdout)
    assert "osc: 10 valid frames, 10 answered" in stdout, stdout
    ignored = int(stdout.split(" ignored (")[0].rsplit(" ", 1)[1])
    # counted, not printed (the kernel drops some when its receive buffer is full: the 60 KB ones fill it)
    assert 0 < ignored <= sent, stdout
