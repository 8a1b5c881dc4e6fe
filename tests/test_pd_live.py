"""rlimpro.pd.live: a real Pd plays a synth and takes /rlimpro/params over a real OSC socket."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import time

import numpy as np
import pytest
import soundfile

from rlimpro.errors import ParameterError, PdError
from rlimpro.pd.live import PdLivePlayer
from rlimpro.pd.process import group_alive
from rlimpro.synths import load_spec

from .pd_support import fixture_spec, pd_processes_in, peak_frequency, require_pd

pytestmark = pytest.mark.pd
SR = 44100


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path, monkeypatch):
    """Generated patches go under tmp_path, so leftover Pd processes can be told apart from others'."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_pd_receives_params_over_osc_and_stops_cleanly(tmp_path):
    require_pd()
    spec = load_spec("sine", workspace=tmp_path, engine="pd")
    with PdLivePlayer(spec, audio="none", sample_rate=SR) as player:
        pgid = player.pid
        assert player.alive and group_alive(pgid)
        for p in ([0.5, 0.8], [0.25, 0.4], [0.9, 0.1]):
            player.send(p, wait=2.0)  # Pd's /rlimpro/ack carried exactly these float32 values
        player.send([0.5, 0.8], wait=2.0)
        time.sleep(0.05)
        wav = player.record(tmp_path / "live.wav", seconds=0.3)
        audio, sr = soundfile.read(wav, dtype="float64")
        assert sr == SR and audio.shape == (round(0.3 * SR),)
        expected = float(spec.params[0].to_physical(0.5))
        assert abs(peak_frequency(audio, SR) - expected) / expected < 0.005
        assert np.abs(audio).max() == pytest.approx(float(spec.params[1].to_physical(0.8)), abs=2e-3)
    assert not player.alive
    assert not group_alive(pgid)
    assert pd_processes_in(tmp_path) == []


def test_a_prototype_style_synth_plays_live(tmp_path):
    require_pd()
    with PdLivePlayer(fixture_spec("proto_fm3", 3), audio="none") as player:
        player.send([0.5, 0.0, 0.0], wait=2.0)
        time.sleep(0.05)
        audio, _ = soundfile.read(player.record(tmp_path / "fm3.wav", seconds=0.25))
        assert abs(peak_frequency(audio, SR) - 300.0) < 1.5
    assert pd_processes_in(tmp_path) == []


def test_granular_plays_live(tmp_path):
    require_pd()
    with PdLivePlayer(load_spec("granular", workspace=tmp_path, engine="pd", n_params=3), audio="none") as player:
        player.send([0.5, 0.5, 0.5], wait=2.0)
        audio, _ = soundfile.read(player.record(tmp_path / "g.wav", seconds=0.3))
        assert np.sqrt(np.mean(audio**2)) > 0.01
    assert pd_processes_in(tmp_path) == []


def test_dead_pd_is_reported_with_its_last_words(tmp_path):
    require_pd()
    with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none") as player:
        player.send([0.1, 0.1], wait=2.0)
        os.killpg(player.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while player.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(PdError, match=r"Pd stopped: Pd was killed by SIGKILL.*last Pd output:\n.*rlimpro-live-ready"):
            player.send([0.2, 0.2])
    assert pd_processes_in(tmp_path) == []


def test_stopped_on_an_exception_inside_the_block(tmp_path):
    require_pd()
    with pytest.raises(RuntimeError, match="boom"):
        with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none") as player:
            pid = player.pid
            raise RuntimeError("boom")
    assert not group_alive(pid)
    assert pd_processes_in(tmp_path) == []


def test_synth_that_does_not_load_shows_pds_error(tmp_path):
    require_pd()
    with pytest.raises(PdError, match=r"(?s)could not load synth 'missing_object'.*zexy_noise_that_does_not_exist~.*couldn't create"):
        PdLivePlayer(fixture_spec("missing_object", 2), audio="none").start()
    assert pd_processes_in(tmp_path) == []


def test_synth_without_outlet_is_refused(tmp_path):
    require_pd()
    with pytest.raises(PdError, match="no signal outlet"):
        PdLivePlayer(fixture_spec("no_outlet", 2), audio="none").start()
    assert pd_processes_in(tmp_path) == []


def test_hanging_synth_times_out_and_is_killed(tmp_path):
    require_pd()
    t0 = time.monotonic()
    with pytest.raises(PdError, match="Pd hung: it did not report ready within 1 s and was killed"):
        PdLivePlayer(fixture_spec("hang", 2), audio="none", startup_timeout=1.0).start()
    assert time.monotonic() - t0 < 10
    assert pd_processes_in(tmp_path) == []


def test_port_in_use_is_a_clear_error(tmp_path):
    require_pd()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        with pytest.raises(PdError, match=f"(?s)could not listen on UDP port {port}.*Address already in use"):
            PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none", port=port).start()
    assert pd_processes_in(tmp_path) == []


def test_bad_arguments(tmp_path):
    require_pd()
    spec = load_spec("sine", workspace=tmp_path, engine="pd")
    with pytest.raises(ParameterError, match="audio 'oss'"):
        PdLivePlayer(spec, audio="oss")
    with PdLivePlayer(spec, audio="none") as player:
        with pytest.raises(ParameterError, match="takes 2 parameters, got 3"):
            player.send([0.1, 0.2, 0.3])
        with pytest.raises(ParameterError, match="finite"):
            player.send([np.inf, 0.2])
        player.send([0.3, 0.3], wait=2.0)  # still fine after bad input
    with pytest.raises(PdError, match="not running"):
        player.send([0.1, 0.2])


def test_plays_through_a_jack_server(tmp_path, monkeypatch):
    """Real audio path: Pd's dac~ on a JACK server (dummy driver, no sound card), clocked by JACK."""
    import shutil
    import subprocess

    require_pd()
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd not found: apt-get install jackd2")
    name = f"rlimpro-pdtest-{os.getpid()}"
    server = subprocess.Popen(
        [jackd, "-n", name, "--no-realtime", "-d", "dummy", "-r", str(SR), "-p", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
        monkeypatch.setenv("JACK_NO_START_SERVER", "1")
        spec = load_spec("sine", workspace=tmp_path, engine="pd")
        deadline = time.monotonic() + 10
        while True:  # the server needs a moment to come up
            try:
                player = PdLivePlayer(spec, audio="jack").start()
                break
            except PdError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with player:
            player.send([0.5, 0.5], wait=2.0)
            time.sleep(0.05)
            audio, sr = soundfile.read(player.record(tmp_path / "jack.wav", seconds=0.3))
            expected = float(spec.params[0].to_physical(0.5))
            assert abs(peak_frequency(audio, sr) - expected) / expected < 0.005
        assert pd_processes_in(tmp_path) == []
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_missing_jack_server_is_a_clear_error(tmp_path, monkeypatch):
    require_pd()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"rlimpro-no-such-server-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    with pytest.raises(PdError, match="(?s)could not open its audio output.*start a JACK server.*JACK: couldn't connect"):
        PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="jack").start()
    assert pd_processes_in(tmp_path) == []


# ---------------------------------------------------------------- nobody let in
def _pd_sockets(pid: int) -> list[tuple[str, str, int]]:
    from .test_live_sockets import sockets_of

    return sockets_of(pid)


def _other_local_address() -> str | None:
    """An address of this machine that is not loopback (the network side), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent: this only asks for the route's source address
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def test_pd_listens_on_loopback_only_and_opens_no_other_socket(tmp_path):
    """[netreceive -u -b PORT 127.0.0.1]: Pd 0.53 binds the address given after the port."""
    require_pd()
    with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none") as player:
        player.send([0.5, 0.5], wait=2.0)
        assert _pd_sockets(player.pid) == [("udp", "127.0.0.1", player.port)]
        ours = _pd_sockets(os.getpid())
        assert all(addr == "127.0.0.1" for proto, addr, port in ours if proto.startswith("udp")), ours


def test_pd_cannot_be_reached_from_the_network(tmp_path):
    require_pd()
    addr = _other_local_address()
    if addr is None:
        pytest.skip("this machine has no network address other than loopback to send from")
    with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none") as player:
        player.send([0.5, 0.5], wait=2.0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(build_params([0.125, 0.25]), (addr, player.port))  # the port Pd listens on, other interface
        with pytest.raises(PdError, match="no /rlimpro/ack"):
            player.wait_reply("/rlimpro/ack", timeout=1.0)
        player.send([0.75, 0.75], wait=2.0)  # loopback still works


def build_params(values: list[float]) -> bytes:
    from rlimpro.live.osc import PARAMS_ADDRESS, build_message

    return build_message(PARAMS_ADDRESS, np.asarray(values))


def _rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_the_network_cannot_name_a_file_or_grow_pd(tmp_path):
    """The old /rlimpro/record s PATH f SECONDS replaced any file; 1e6 s crashed Pd, 200 s grew it to 76 MB."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    require_pd()
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"precious")
    with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none") as player:
        player.send([0.5, 0.5], wait=2.0)
        before = _rss_kb(player.pid)
        dest = ("127.0.0.1", player.port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            old = OscMessageBuilder("/rlimpro/record")
            old.add_arg(str(victim), "s")
            old.add_arg(0.2, "f")
            s.sendto(old.build().dgram, dest)
            huge = OscMessageBuilder("/rlimpro/record")
            huge.add_arg(1e6, "f")
            s.sendto(huge.build().dgram, dest)
            for seconds in (200.0, 600.0):
                m = OscMessageBuilder("/rlimpro/record")
                m.add_arg(seconds, "f")
                s.sendto(m.build().dgram, dest)
        time.sleep(1.0)
        assert victim.read_bytes() == b"precious"
        assert player.alive, player.process.tail()
        grown_mb = (_rss_kb(player.pid) - before) / 1024
        print(f"Pd grew by {grown_mb:.1f} MB after record requests of 1e6, 200 and 600 s")
        assert grown_mb < 2 * player.max_record_seconds * SR * 4 / 2**20 + 5  # at most the fixed table
        player.send([0.25, 0.5], wait=2.0)  # still playing
    assert victim.read_bytes() == b"precious"
    assert not list(tmp_path.rglob("*.wav")) or sorted(p.name for p in tmp_path.rglob("*.wav")) == ["victim.wav"]


def test_record_is_bounded_and_goes_through_rlimpro(tmp_path):
    require_pd()
    with PdLivePlayer(load_spec("sine", workspace=tmp_path, engine="pd"), audio="none", max_record_seconds=1.0) as player:
        with pytest.raises(ParameterError, match=r"must be in \(0, 1\]"):
            player.record(tmp_path / "long.wav", seconds=2.0)
        player.send([0.5, 0.8], wait=2.0)
        audio, sr = soundfile.read(player.record(tmp_path / "short.wav", seconds=0.5))
        assert sr == SR and audio.shape == (round(0.5 * SR),)


def test_the_gain_stage_silences_the_player(tmp_path):
    """The silence behaviour reaches Pd: /rlimpro/gain ramps the patch's output (line~ before dac~ and the recorder)."""
    require_pd()
    spec = load_spec("sine", workspace=tmp_path, engine="pd")
    with PdLivePlayer(spec, audio="none", sample_rate=SR) as player:
        player.send([0.5, 1.0], wait=2.0)
        time.sleep(0.05)
        loud, _ = soundfile.read(player.record(tmp_path / "on.wav", seconds=0.2), dtype="float64")
        assert np.abs(loud).max() > 0.9  # the gain starts at 1
        player.send_gain(0.0, ramp_ms=11.6)
        time.sleep(0.1)
        quiet, _ = soundfile.read(player.record(tmp_path / "off.wav", seconds=0.2), dtype="float64")
        assert np.abs(quiet).max() == 0.0
        player.send_gain(1.0, ramp_ms=11.6)
        time.sleep(0.1)
        back, _ = soundfile.read(player.record(tmp_path / "back.wav", seconds=0.2), dtype="float64")
        assert np.abs(back).max() > 0.9
