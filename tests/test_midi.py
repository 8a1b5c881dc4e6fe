"""MIDI out: control changes per hop (rlimpro.midi.cc) and a live rehearsal delivering them to a real JACK MIDI client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlimpro.errors import ParameterError
from rlimpro.live.outputs import parse_output
from rlimpro.midi.cc import CcEncoder, parse_ccs, to_7bit

from .jack_support import dummy_jack, require_jack
from .live_support import HELD_OUT, trained_run


def test_cc_encoder_sends_only_parameters_that_moved_a_step():
    enc = CcEncoder([74, 71, 1], channel=3)
    assert enc.changes(np.array([0.0, 0.5, 1.0])) == [[0xB2, 74, 0], [0xB2, 71, 64], [0xB2, 1, 127]]
    assert enc.changes(np.array([0.003, 0.5, 1.0])) == []  # less than half a step: same 7-bit value
    assert enc.changes(np.array([0.004, 0.5, 0.99])) == [[0xB2, 74, 1], [0xB2, 1, 126]]
    assert to_7bit(np.array([-1.0, 2.0])).tolist() == [0, 127]


@pytest.mark.parametrize("text", ["74,71", "74,x,1", "74,74,1", "74,71,128", ""])
def test_bad_cc_lists_are_refused(text):
    with pytest.raises(ParameterError, match="--midi-cc"):
        parse_ccs(text, n_params=3)


def test_midi_output_parses():
    assert parse_output("midi").kind == "midi" and parse_output("midi").target == ""
    assert parse_output("midi:checker").target == "checker"
    assert parse_output("supercollider").kind == "supercollider"


def expected_messages(log: Path, ccs: list[int], channel: int) -> list[list[int]]:
    """The messages a session with this log must have sent: each hop's changed 7-bit values, in order."""
    table = pd.read_csv(log)
    enc = CcEncoder(ccs, channel=channel)
    params = table[[f"param-{i}" for i in range(len(ccs))]].to_numpy()
    out = []
    for row in params:
        out += enc.changes(row)
    return out


@pytest.mark.slow
def test_live_rehearsal_delivers_ccs_to_a_jack_midi_client(tmp_path_factory, tmp_path):
    require_jack()
    pytest.importorskip("rtmidi", reason="pip install python-rtmidi")
    ws, run_dir = trained_run(tmp_path_factory)
    audio = ws / "corpora" / "demo" / "audio" / f"{HELD_OUT}.wav"
    log = tmp_path / "midi.csv"
    got_file = tmp_path / "got.json"
    ready = tmp_path / "ready"
    with dummy_jack(tmp_path, prefix="rlimpro-midi") as jack:
        checker = jack.start([sys.executable, str(Path(__file__).with_name("midi_checker.py")), "checker",
                              str(got_file), str(ready)], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert checker.poll() is None, checker.stderr.read()
            assert time.monotonic() < deadline, "the MIDI checker never opened its port"
            time.sleep(0.05)
        live = jack.rlimpro(ws, "live", "--synth", "fm", "--model", "latest", "--input", str(audio),
                            "--output", "midi:checker", "--midi-cc", "74,71,1", "--midi-channel", "3",
                            "--duration", "3", "--log", str(log))
        stdout, stderr = live.communicate(timeout=180)
        assert live.returncode == 0, stderr
        checker.send_signal(signal.SIGTERM)
        checker.wait(timeout=30)
    got = json.loads(got_file.read_text())
    meta = json.loads(log.with_suffix(".json").read_text())
    midi = next(o for o in meta["outputs"] if o["kind"] == "midi")
    assert midi["api"] == "jack" and "checker" in midi["port"]
    expected = expected_messages(log, [74, 71, 1], 3)
    assert meta["rows"] == int(np.ceil(3 * 44100 / 512))
    assert len(expected) >= 3 and midi["messages"] == len(expected)
    assert got == expected  # every changed parameter once per hop, in order, with the logged values


SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")


@pytest.mark.slow
def test_lookup_records_a_midi_synth_through_an_audio_input(tmp_path):
    """fluidsynth on JACK plays the hardware synth: CC 7 (volume) is the parameter, note 60 is struck per row."""
    require_jack()
    pytest.importorskip("rtmidi", reason="pip install python-rtmidi")
    from .conftest import require_program

    require_program("fluidsynth", "fluidsynth fluid-soundfont-gm")
    sf2 = next((s for s in SOUNDFONTS if Path(s).is_file()), None)
    if sf2 is None:
        pytest.skip("no General MIDI soundfont: apt-get install fluid-soundfont-gm")
    ws = tmp_path / "ws"
    synth = ws / "synths" / "hw"
    synth.mkdir(parents=True)
    (synth / "synth.yaml").write_text(
        "engine: midi\n"
        "midi: {ccs: [7], channel: 1, note: 60, velocity: 110, settle: 0.05, port: hwsynth}\n"
        "params:\n  - {name: volume}\n"
    )
    with dummy_jack(tmp_path, prefix="rlimpro-midilookup") as jack:
        jack.start(["fluidsynth", "-a", "jack", "-m", "jack", "-i", "-s", "-o", "midi.jack.id=hwsynth",
                    "-o", "audio.jack.id=hwsynth", "-g", "1.0", sf2],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert jack.wait_for_ports(lambda p: p == "hwsynth:left", count=1, timeout=30), "fluidsynth never started"
        proc = jack.rlimpro(ws, "lookup", "--synth", "hw", "--engine", "midi", "--subdiv", "3", "--duration", "0.5",
                            "--input", "device")
        ins = jack.wait_for_ports(lambda p: p.startswith("PortAudio") and ":in_" in p, count=1, timeout=60)
        assert ins, "the lookup never opened its audio input"
        jack.connect("hwsynth:left", ins[0])
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    assert "recording 3 points in real time: about 0.0 min (0.55 s per point)" in stdout + stderr
    table = pd.read_csv(ws / "synths" / "hw" / "lookup.csv")
    loud = table.sort_values("param-0")["loudness-dBFS"].to_numpy()
    assert loud[0] < loud[1] - 3 < loud[2] - 6, loud  # CC 7 = 0, 64, 127: louder each time
    meta = json.loads((ws / "synths" / "hw" / "lookup.json").read_text())
    assert meta["engine"] == "midi" and meta["rows"] == 3


def test_midi_output_without_cc_numbers_is_refused(tmp_path):
    from rlimpro.midi.sink import session_ccs
    from rlimpro.synths import load_spec

    spec = load_spec("fm", workspace=tmp_path)
    with pytest.raises(ParameterError, match="give the CC number of each of synth 'fm''s 3 parameters with --midi-cc"):
        session_ccs(spec, None, None)
    with pytest.raises(ParameterError, match="the synth has 3 parameters, so give 3 CC numbers"):
        session_ccs(spec, [74, 71], None)
    assert session_ccs(spec, [74, 71, 1], 5) == ([74, 71, 1], 5)


def test_midi_lookup_needs_cc_numbers(tmp_path):
    from typer.testing import CliRunner

    from rlimpro.cli import app

    synth = tmp_path / "synths" / "hw"
    synth.mkdir(parents=True)
    (synth / "synth.yaml").write_text("engine: midi\nmidi: {channel: 2}\nparams: [{name: cutoff}]\n")
    res = CliRunner().invoke(app, ["--root", str(tmp_path), "lookup", "--synth", "hw", "--subdiv", "2"])
    assert res.exit_code == 1 and "needs midi: {ccs: [...]}" in " ".join(res.output.split()), res.output


@pytest.mark.slow
def test_midi_port_that_does_not_exist_is_named_with_the_ports_seen(tmp_path):
    require_jack()
    pytest.importorskip("rtmidi", reason="pip install python-rtmidi")
    with dummy_jack(tmp_path, prefix="rlimpro-midiport") as jack:
        code = ("from rlimpro.midi.ports import open_output\n"
                "try:\n    open_output('nosuchsynth')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
        res = jack.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "AudioError --output midi:nosuchsynth: no MIDI destination named like 'nosuchsynth'" in res.stdout, res.stdout + res.stderr
