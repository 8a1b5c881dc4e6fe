"""Bad synths and missing programs for the Faust, Csound and SuperCollider engines, through `rlimpro lookup`.

Every failure is one message naming the synth with the engine's own words (or the install line), exit
code 1, no table written, and no process left behind.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.supercollider.synthdef import SynthDefBuilder

from .engine_support import processes_mentioning, require_engine


def lookup(ws, *args):
    return CliRunner().invoke(app, ["--root", str(ws), "lookup", *args])


def user_synth(ws, name, files: dict[str, str | bytes], yaml: str | None = None):
    folder = ws / "synths" / name
    folder.mkdir(parents=True)
    for fname, content in files.items():
        (folder / fname).write_bytes(content if isinstance(content, bytes) else content.encode())
    if yaml is not None:
        (folder / "synth.yaml").write_text(yaml)
    return folder


def assert_failed(res, ws, name, *needles):
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    for needle in needles:
        assert needle in text, res.output
    assert not (ws / "synths" / name / "lookup.csv").exists()


def fake_program(tmp_path, name):
    """A program that answers --version and then hangs on any real work."""
    path = tmp_path / f"hang-{name}"
    path.write_text("#!/bin/sh\nif [ \"$1\" = --version ] || [ \"$1\" = -v ]; then echo fake 1.0; exit 0; fi\nexec sleep 600\n")
    path.chmod(0o755)
    return path


CSD = """<CsoundSynthesizer>
<CsInstruments>
sr = 44100
ksmps = 32
nchnls = 1
0dbfs = 1
instr 1
{body}
endin
</CsInstruments>
</CsoundSynthesizer>
"""


# ---------------------------------------------------------------- Faust
def test_faust_that_does_not_compile_shows_fausts_error(tmp_path):
    require_engine("faust")
    user_synth(tmp_path, "bad", {"synth.dsp": 'process = os.osc(hslider("f", 440, 20, 2000, 1));\n'})
    res = lookup(tmp_path, "--synth", "bad", "--subdiv", "2")
    assert_failed(res, tmp_path, "bad", "Faust could not compile", "synth.dsp", "undefined symbol : os")


def test_bare_faust_synth_takes_its_controls_and_their_ranges(tmp_path):
    require_engine("faust")
    user_synth(tmp_path, "bare", {"synth.dsp": 'import("stdfaust.lib");\nprocess = os.osc(hslider("freq", 440, 100, 1000, 0.01)) * nentry("gain", 0.5, 0, 1, 0.01);\n'})
    res = lookup(tmp_path, "--synth", "bare", "--subdiv", "2", "--duration", "0.2")
    assert res.exit_code == 0, res.output
    meta = pd.read_json(tmp_path / "synths" / "bare" / "lookup.json", typ="series")
    assert meta["param_names"] == ["freq", "gain"] and meta["engine"] == "faust"
    assert [(p["min"], p["max"]) for p in meta["params"]] == [(100.0, 1000.0), (0.0, 1.0)]


def test_silent_faust_synth_is_warned(tmp_path):
    require_engine("faust")
    user_synth(tmp_path, "quiet", {"synth.dsp": 'import("stdfaust.lib");\nprocess = os.osc(hslider("freq", 440, 100, 1000, 0.01)) * 1e-9;\n'})
    res = lookup(tmp_path, "--synth", "quiet", "--subdiv", "2", "--duration", "0.2")
    assert res.exit_code == 0, res.output
    assert "produced no sound at any grid point" in " ".join(res.output.split())


def test_faust_missing_gives_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RLIMPRO_FAUST", str(tmp_path / "no-faust"))
    res = lookup(tmp_path, "--synth", "fm", "--engine", "faust", "--subdiv", "2")
    assert_failed(res, tmp_path, "fm", "the Faust compiler not found", "apt-get install faust g++")


def test_hanging_faust_compiler_is_killed(tmp_path, monkeypatch):
    require_engine("faust")
    fake = fake_program(tmp_path, "faust")
    monkeypatch.setenv("RLIMPRO_FAUST", str(fake))
    monkeypatch.setenv("RLIMPRO_SYNTH_TIMEOUT", "2")
    monkeypatch.setenv("RLIMPRO_CACHE", str(tmp_path / "cache"))
    res = lookup(tmp_path, "--synth", "fm", "--engine", "faust", "--subdiv", "2")
    assert_failed(res, tmp_path, "fm", "hung compiling", "killed after 2 s")
    assert processes_mentioning(str(fake)) == []


# ---------------------------------------------------------------- Csound
def test_csound_that_does_not_compile_shows_csounds_messages(tmp_path):
    require_engine("csound")
    user_synth(tmp_path, "bad", {"synth.csd": CSD.format(body='  kf chnget "p0"\n  aout oscilz 0.5, kf\n  out aout')})
    res = lookup(tmp_path, "--synth", "bad", "--params", "1", "--subdiv", "2")
    assert_failed(res, tmp_path, "bad", "Csound could not compile or run", "oscilz")


def test_hanging_csound_is_killed_with_its_messages(tmp_path, monkeypatch):
    require_engine("csound")
    body = '  kf chnget "p0"\n  kn = 0\nspin:\n  kn += 1\n  kgoto spin\n  out oscili(0.5, kf)'
    folder = user_synth(tmp_path, "spin", {"synth.csd": CSD.format(body=body)})
    monkeypatch.setenv("RLIMPRO_SYNTH_TIMEOUT", "3")
    res = lookup(tmp_path, "--synth", "spin", "--params", "1", "--subdiv", "2")
    assert_failed(res, tmp_path, "spin", "csound hung", "killed after 3 s")
    assert processes_mentioning("rlimpro-csound-") == [] and processes_mentioning(str(folder)) == []


def test_silent_csound_synth_is_warned(tmp_path):
    require_engine("csound")
    user_synth(tmp_path, "quiet", {"synth.csd": CSD.format(body='  kf chnget "p0"\n  out oscili(0, 100 + kf)')})
    res = lookup(tmp_path, "--synth", "quiet", "--params", "1", "--subdiv", "2", "--duration", "0.2")
    assert res.exit_code == 0, res.output
    assert "produced no sound at any grid point" in " ".join(res.output.split())


def test_csound_missing_gives_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RLIMPRO_CSOUND", str(tmp_path / "no-csound"))
    res = lookup(tmp_path, "--synth", "fm", "--engine", "csound", "--subdiv", "2")
    assert_failed(res, tmp_path, "fm", "Csound not found", "apt-get install csound")


def test_bare_csound_synth_needs_its_parameter_count(tmp_path):
    user_synth(tmp_path, "bare", {"synth.csd": CSD.format(body="  out oscili(0.5, 440)")})
    res = lookup(tmp_path, "--synth", "bare", "--subdiv", "2")
    assert_failed(res, tmp_path, "bare", "synth 'bare' has a synth.csd but no synth.yaml", "--params N")


# ---------------------------------------------------------------- SuperCollider
def synthdef_with(ugen: str) -> bytes:
    b = SynthDefBuilder("odd", [("freq", 440.0)])
    (freq,) = b.controls
    b.ugen("Out", "ar", 0, b.binop("*", b.ugen(ugen, "ar", freq, math.pi / 2), 0.5), outputs=0)
    return b.encode()


def test_synthdef_with_a_ugen_scsynth_lacks_shows_scsynths_error(tmp_path):
    require_engine("supercollider")
    user_synth(tmp_path, "odd", {"synth.scsyndef": synthdef_with("NoSuchOsc")})
    res = lookup(tmp_path, "--synth", "odd", "--subdiv", "2")
    assert_failed(res, tmp_path, "odd", "scsynth failed", "NoSuchOsc")


def test_file_that_is_not_a_synthdef(tmp_path):
    user_synth(tmp_path, "junk", {"synth.scsyndef": b"hello"}, yaml="engine: supercollider\nsupercollider: synth.scsyndef\nparams: [{name: a}]\n")
    res = lookup(tmp_path, "--synth", "junk", "--subdiv", "2")
    assert_failed(res, tmp_path, "junk", "is not a compiled SynthDef")


def test_scd_source_asks_for_the_compiled_synthdef(tmp_path):
    user_synth(tmp_path, "src", {"synth.scd": "SynthDef(\\a, { Out.ar(0, SinOsc.ar) }).add;\n"})
    res = lookup(tmp_path, "--synth", "src", "--subdiv", "2")
    assert_failed(res, tmp_path, "src", "writeDefFile", "does not run sclang")


def test_silent_synthdef_is_warned(tmp_path):
    require_engine("supercollider")
    b = SynthDefBuilder("quiet", [("freq", 440.0)])
    (freq,) = b.controls
    b.ugen("Out", "ar", 0, b.binop("*", b.ugen("SinOsc", "ar", freq, 0.0), 0.0), outputs=0)
    user_synth(tmp_path, "quiet", {"synth.scsyndef": b.encode()})
    res = lookup(tmp_path, "--synth", "quiet", "--subdiv", "2", "--duration", "0.2")
    assert res.exit_code == 0, res.output
    assert "produced no sound at any grid point" in " ".join(res.output.split())


def test_scsynth_missing_gives_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RLIMPRO_SCSYNTH", str(tmp_path / "no-scsynth"))
    res = lookup(tmp_path, "--synth", "fm", "--engine", "supercollider", "--subdiv", "2")
    assert_failed(res, tmp_path, "fm", "scsynth (SuperCollider's server) not found", "apt-get install supercollider-server")


def test_hanging_scsynth_is_killed(tmp_path, monkeypatch):
    fake = fake_program(tmp_path, "scsynth")
    monkeypatch.setenv("RLIMPRO_SCSYNTH", str(fake))
    monkeypatch.setenv("RLIMPRO_SYNTH_TIMEOUT", "2")
    res = lookup(tmp_path, "--synth", "fm", "--engine", "supercollider", "--subdiv", "2")
    assert_failed(res, tmp_path, "fm", "hung rendering synth 'fm'", "killed after 2 s")
    assert processes_mentioning(str(fake)) == []


def test_synth_yaml_engine_without_its_source_or_unknown(tmp_path):
    user_synth(tmp_path, "half", {}, yaml="engine: csound\nparams: [{name: a}]\n")
    assert_failed(lookup(tmp_path, "--synth", "half", "--subdiv", "2"), tmp_path, "half",
                  "engine is 'csound' but no 'csound: synth.csd' is given")
    user_synth(tmp_path, "typo", {}, yaml="engine: faustt\nfaust: synth.dsp\nparams: [{name: a}]\n")
    assert_failed(lookup(tmp_path, "--synth", "typo", "--subdiv", "2"), tmp_path, "typo",
                  "engine 'faustt' is unknown; did you mean 'faust'?")


def test_live_scsynth_without_an_audio_server_fails_with_its_words(tmp_path, monkeypatch):
    """scsynth's only Linux driver is JACK: without a server it exits, and the player says so and leaves nothing."""
    require_engine("supercollider")
    from rlimpro.errors import SynthError
    from rlimpro.supercollider.live import ScsynthPlayer
    from rlimpro.synths import load_spec, make_engine

    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"rlimpro-absent-{os.getpid()}")
    player = ScsynthPlayer(make_engine(load_spec("sine", workspace=tmp_path, engine="supercollider")), sample_rate=44100)
    with pytest.raises(SynthError, match="scsynth exited .* before it was ready .*JACK") as err:
        player.start(np.array([0.5, 0.5]))
    assert "scsynth said" in str(err.value)
    assert player.pid is not None and not (Path("/proc") / str(player.pid)).exists()
