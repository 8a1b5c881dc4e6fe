"""Pure Data as a synth engine: process control, batch rendering (lookup) and live playback over OSC.

The user writes only ``synth.pd`` (one inlet taking a list of N floats in [0, 1], one signal outlet);
rlimpro fills in the wrapper patches in ``rlimpro/pd_templates/`` around it.
"""
