"""MIDI: parameters as control changes to a hardware or DAW synth (``live --output midi``), and recording
such a synth's lookup table through an audio input (``lookup --engine midi``).

Ports go through python-rtmidi on JACK or ALSA (:mod:`rlimpro.midi.ports`); each parameter in [0, 1]
is one 7-bit control change (:class:`rlimpro.midi.cc.CcEncoder`).
"""
