<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; rlimpro built-in fm in Csound: 0.5 * cos(2 pi fc t + I sin(2 pi h fc t)), as the native engine and synth.pd.
; Channels p0: carrier (Hz), p1: harmonicity (ratio), p2: index (rad).
sr = 44100
ksmps = 32
nchnls = 1
0dbfs = 1

instr 1
  kfc chnget "p0"
  kh chnget "p1"
  kindex chnget "p2"
  acar phasor kfc
  amod phasor kfc * kh
  out 0.5 * cos(2 * $M_PI * acar + kindex * sin(2 * $M_PI * amod))
endin
</CsInstruments>
<CsScore>
i 1 0 1
</CsScore>
</CsoundSynthesizer>
