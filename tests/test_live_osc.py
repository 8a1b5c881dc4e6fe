"""The OSC receiver and senders over real loopback UDP sockets."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError
from rlimpro.live.osc import (
    PARAMS_ADDRESS,
    TARGET_ADDRESS,
    OscSender,
    OscTargetReceiver,
    build_message,
    parse_endpoint,
)

D = len(DESCRIPTORS)


def message(address: str, *args, types: str | None = None) -> bytes:
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, types[i] if types else None)
    return b.build().dgram


@pytest.fixture
def receiver():
    r = OscTargetReceiver(host="127.0.0.1", port=0, n_values=D)
    yield r
    r.close()


@pytest.fixture
def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    yield s
    s.close()


def test_valid_frame_round_trip(receiver, client):
    frame = np.linspace(-3, 3, D)
    client.sendto(build_message(TARGET_ADDRESS, frame), ("127.0.0.1", receiver.port))
    got = receiver.poll(2.0)
    assert got is not None
    values, sender = got
    np.testing.assert_allclose(values, frame.astype(np.float32), rtol=0, atol=0)
    assert sender == client.getsockname()
    receiver.send_params(np.array([0.25, 0.5, 1.0]), sender)
    data, _ = client.recvfrom(4096)
    msg = OscMessage(data)
    assert msg.address == PARAMS_ADDRESS
    assert msg.params == [0.25, 0.5, 1.0]
    assert data[len(PARAMS_ADDRESS) :].count(b"f") == 3  # floats as 'f'
    assert receiver.counters.valid == 1 and receiver.counters.ignored == 0


def test_invalid_messages_are_counted_and_ignored(receiver, client):
    dest = ("127.0.0.1", receiver.port)
    good = np.arange(D, dtype=float)
    bad = [
        message(TARGET_ADDRESS, *good[:-1].tolist(), types="f" * (D - 1)),  # too short
        message(TARGET_ADDRESS, *(good.tolist() + [1.0]), types="f" * (D + 1)),  # too long
        message(TARGET_ADDRESS, *([1] * D), types="i" * D),  # ints
        message(TARGET_ADDRESS, *(["x"] + [1.0] * (D - 1)), types="s" + "f" * (D - 1)),  # a string
        message(TARGET_ADDRESS, *([float("nan")] + [1.0] * (D - 1)), types="f" * D),
        message(TARGET_ADDRESS, *([float("inf")] + [1.0] * (D - 1)), types="f" * D),
        message("/rlimpro/unknown", *good.tolist(), types="f" * D),
        b"\x00\x01garbage",
        b"/rlimpro/target\x00,ff\x00\x00",  # truncated arguments
        b"",
    ]
    for data in bad:
        client.sendto(data, dest)
    assert receiver.poll(1.0) is None
    c = receiver.counters
    assert (c.wrong_length, c.wrong_type, c.not_finite, c.unknown_address) == (2, 2, 2, 1)
    assert c.malformed == 3 and c.ignored == len(bad) and c.valid == 0
    client.sendto(build_message(TARGET_ADDRESS, good), dest)
    got = receiver.poll(1.0)
    assert got is not None and np.array_equal(got[0], good)


def test_bad_bundles_tags_and_oversized_datagrams_are_counted_without_logging(receiver, client, capfd):
    """python-osc logged a warning to stderr per bad bundle element or unknown type tag and counted nothing."""
    import logging

    dest = ("127.0.0.1", receiver.port)
    good = build_message(TARGET_ADDRESS, np.arange(D, dtype=float))
    element = len(good).to_bytes(4, "big") + good
    bad = [
        b"#bundle\x00" + bytes(8) + (8).to_bytes(4, "big") + b"garbage!",  # an element that is no message
        b"#bundle\x00" + bytes(8) + element + (4).to_bytes(4, "big") + b"\x00\x00\x00\x00",  # a good one, a bad one
        b"#bundle\x00" + bytes(8) + (0x7FFFFFF0).to_bytes(4, "big"),  # an element size past the end
        b"#bundle\x00" + bytes(4),  # no time tag
        b"/rlimpro/target\x00,x\x00\x00" + bytes(4),  # a type tag OSC 1.0 does not have
        good + b"\x00\x00\x00\x00",  # bytes left over after the arguments
    ]
    nested = good
    for _ in range(12):  # bundles nested deeper than any sender needs
        nested = b"#bundle\x00" + bytes(8) + len(nested).to_bytes(4, "big") + nested
    bad.append(nested)
    oversized = build_message(TARGET_ADDRESS, np.ones(12000))  # 60 KB: a well-formed message of the wrong length
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    try:
        for data in bad:
            client.sendto(data, dest)
        client.sendto(oversized, dest)
        assert receiver.poll(1.0) is None
    finally:
        logging.getLogger().removeHandler(handler)
    c = receiver.counters
    assert c.malformed == len(bad) and c.wrong_length == 1 and c.valid == 0, c
    assert records == [] and capfd.readouterr().err == ""
    client.sendto(b"#bundle\x00" + bytes(8) + element + element, dest)  # a good bundle still works
    frame, _ = receiver.poll(1.0)
    assert np.array_equal(frame, np.arange(D)) and receiver.counters.superseded == 1


def test_newest_frame_wins(receiver, client):
    dest = ("127.0.0.1", receiver.port)
    for k in range(50):
        client.sendto(build_message(TARGET_ADDRESS, np.full(D, float(k))), dest)
    import time

    time.sleep(0.05)  # all 50 are waiting in the socket
    frame, _ = receiver.poll(1.0)
    assert frame[0] == 49.0
    assert receiver.counters.superseded == 49 and receiver.counters.used == 1


def test_bundles_are_unpacked(receiver, client):
    bb = OscBundleBuilder(IMMEDIATELY)
    bb.add_content(OscMessageBuilder("/other").build())
    m = OscMessageBuilder(TARGET_ADDRESS)
    for v in range(D):
        m.add_arg(float(v), "f")
    bb.add_content(m.build())
    client.sendto(bb.build().dgram, ("127.0.0.1", receiver.port))
    frame, _ = receiver.poll(1.0)
    assert frame[3] == 3.0 and receiver.counters.unknown_address == 1


def test_osc_sender_sends_params_and_features(client):
    host, port = client.getsockname()
    sender = OscSender(host=host, port=port, features=True)
    sender.send(np.array([0.1, 0.9]), np.arange(D, dtype=float))
    first = OscMessage(client.recvfrom(4096)[0])
    second = OscMessage(client.recvfrom(4096)[0])
    sender.close()
    assert first.address == PARAMS_ADDRESS and np.allclose(first.params, [0.1, 0.9])
    assert second.address == "/rlimpro/features" and len(second.params) == D
    assert sender.sent == 1


def test_build_message_matches_the_osc_spec():
    data = build_message(PARAMS_ADDRESS, np.array([0.5]))
    assert data == b"/rlimpro/params\x00,f\x00\x00" + struct.pack(">f", 0.5)


def test_endpoints_and_busy_ports(receiver):
    assert parse_endpoint("9001", what="x") == ("127.0.0.1", 9001)
    assert parse_endpoint("10.0.0.2:57120", what="x") == ("10.0.0.2", 57120)
    with pytest.raises(ParameterError, match="numeric port"):
        parse_endpoint("host:abc", what="--output")
    with pytest.raises(ParameterError, match="outside"):
        parse_endpoint("70000", what="--input")
    with pytest.raises(ParameterError, match="cannot listen"):
        OscTargetReceiver(host="127.0.0.1", port=receiver.port, n_values=D)
    with pytest.raises(ParameterError, match="cannot resolve"):
        OscSender(host="no-such-host.invalid", port=9)


# ---------------------------------------------------------------------- the live session over OSC
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from .live_support import trained_run

    return trained_run(tmp_path_factory)


def _active_frames(ws, n: int) -> np.ndarray:
    import pandas as pd

    from .live_support import HELD_OUT

    table = pd.read_csv(ws / "corpora" / "demo" / "features" / f"{HELD_OUT}.csv")
    frames = table.loc[table["active"] == 1, list(DESCRIPTORS)].to_numpy(np.float64)[:n]
    return frames.astype(np.float32).astype(np.float64)  # what arrives as OSC floats


def _start_session(ws, log, **kwargs):
    import threading

    from rlimpro.live.session import run_live

    ready, stop, state, result = threading.Event(), threading.Event(), {}, {}

    def body():
        try:
            result["r"] = run_live(synth="fm", model="latest", workspace=ws, input="osc:127.0.0.1:0", log=log,
                                   stop=stop, on_ready=lambda s: (state.update(s), ready.set()), **kwargs)
        except BaseException as exc:  # reported by the test
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    assert ready.wait(120), "the live session did not start"
    assert "error" not in result, result.get("error")
    return thread, stop, state["osc_port"], result


def _replies(sock, *, quiet: float) -> list:
    """Every /rlimpro/params reply until ``quiet`` s pass without one."""
    out = []
    sock.settimeout(quiet)
    while True:
        try:
            out.append(OscMessage(sock.recvfrom(4096)[0]).params)
        except TimeoutError:
            return out


@pytest.mark.slow
def test_osc_loopback_answers_every_frame_like_the_agent(trained, tmp_path, client):
    from rlimpro.live.agent import load_agent

    ws, _ = trained
    frames = _active_frames(ws, 60)
    thread, stop, port, result = _start_session(ws, tmp_path / "osc.csv")
    reference = load_agent(synth="fm", model="latest", workspace=ws)
    try:
        for frame in frames:
            client.sendto(build_message(TARGET_ADDRESS, frame), ("127.0.0.1", port))
            data, _ = client.recvfrom(4096)  # one /rlimpro/params per valid frame
            msg = OscMessage(data)
            assert msg.address == PARAMS_ADDRESS and len(msg.params) == 3
            expected, _ = reference.decide(frame)
            np.testing.assert_allclose(msg.params, expected, atol=1e-6, rtol=0)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and "error" not in result
    meta = result["r"].meta
    assert meta["input"]["osc"]["used"] == len(frames) and meta["input"]["osc"]["ignored"] == 0
    assert result["r"].rows == len(frames) and meta["latency"]["n"] == len(frames)


@pytest.mark.slow
def test_osc_flood_of_bad_and_newer_messages(trained, tmp_path, client):
    import tracemalloc

    ws, _ = trained
    frames = _active_frames(ws, 200)
    thread, stop, port, result = _start_session(ws, tmp_path / "flood.csv")
    dest = ("127.0.0.1", port)
    good = build_message(TARGET_ADDRESS, frames[0])
    bad = [
        build_message(TARGET_ADDRESS, frames[0][:-1]),
        build_message(TARGET_ADDRESS, np.concatenate([frames[0], [1.0]])),
        message(TARGET_ADDRESS, *([3] * D), types="i" * D),
        message(TARGET_ADDRESS, *(["loud"] + [1.0] * (D - 1)), types="s" + "f" * (D - 1)),
        build_message(TARGET_ADDRESS, np.where(np.arange(D) == 5, np.nan, frames[0])),
        build_message(TARGET_ADDRESS, np.where(np.arange(D) == 7, -np.inf, frames[0])),
        build_message("/rlimpro/targets", frames[0]),
        b"\xff" * 64,
        b"/rlimpro/target\x00,ffff",
    ]
    try:
        client.sendto(good, dest)
        assert len(_replies(client, quiet=1.0)) == 1
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        t0 = time.monotonic()
        sent_bad = sent_good = 0
        for i in range(10_000):
            if i % 5 < 2:  # 40 % a flood of valid frames, 60 % garbage of every kind
                client.sendto(build_message(TARGET_ADDRESS, frames[i % len(frames)]), dest)
                sent_good += 1
            else:
                client.sendto(bad[i % len(bad)], dest)
                sent_bad += 1
            if i % 500 == 499:
                time.sleep(0.02)  # let the kernel buffer breathe; still far faster than one frame per hop
        assert time.monotonic() - t0 < 5.0
        flood_replies = _replies(client, quiet=1.0)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert thread.is_alive(), result.get("error")
        assert peak - base < 4_000_000, f"memory grew by {(peak - base) / 1e6:.1f} MB during the flood"
        assert 0 < len(flood_replies) < sent_good  # newest frame wins: fewer answers than valid frames
        # the next valid frame is still answered
        client.sendto(build_message(TARGET_ADDRESS, frames[1]), dest)
        after = _replies(client, quiet=1.0)
        assert len(after) == 1 and len(after[0]) == 3
    finally:
        stop.set()
        thread.join(30)
    assert "error" not in result
    osc = result["r"].meta["input"]["osc"]
    assert osc["ignored"] > 0 and osc["ignored"] <= sent_bad
    assert osc["superseded"] > 0 and osc["valid"] <= sent_good + 2
    # every frame the agent took was answered and logged (the client's own socket may drop replies it
    # had no time to read while it was flooding)
    assert osc["used"] == result["r"].rows >= len(flood_replies) + 2


@pytest.mark.slow
def test_cli_osc_input_prints_its_port_and_counts(trained, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    ws, _ = trained
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--input", "osc:127.0.0.1:0",
         "--log", str(tmp_path / "cli.csv")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job ignores SIGINT
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "udp port" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        port = int(line.rsplit(" ", 1)[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for frame in _active_frames(ws, 5):
            s.sendto(build_message(TARGET_ADDRESS, frame), ("127.0.0.1", port))
            assert OscMessage(s.recvfrom(4096)[0]).address == PARAMS_ADDRESS
        s.sendto(b"junk", ("127.0.0.1", port))
        time.sleep(0.2)
        s.close()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "osc: 5 valid frames, 5 answered" in stdout and "malformed 1" in stdout
