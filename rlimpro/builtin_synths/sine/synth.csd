<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; rlimpro built-in sine in Csound: amplitude * cos(2 pi frequency t), as the native engine and synth.pd.
; Channel p0: frequency in Hz, p1: amplitude (synth.yaml maps [0, 1] to these before chnset).
sr = 44100
ksmps = 32
nchnls = 1
0dbfs = 1

instr 1
  kfreq chnget "p0"
  kamp chnget "p1"
  aphase phasor kfreq
  out kamp * cos(2 * $M_PI * aphase)
endin
</CsInstruments>
<CsScore>
i 1 0 1
</CsScore>
</CsoundSynthesizer>
