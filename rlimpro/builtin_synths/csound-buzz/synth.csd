<CsoundSynthesizer>
<CsOptions>
</CsOptions>
<CsInstruments>
; rlimpro csound-buzz: nine controls that all change the sound.
; A band-limited pulse train (gbuzz: number of harmonics, lowest harmonic, brightness), vibrato,
; noise, a low-pass, amplitude. Channels are named after the synth.yaml parameters.
sr = 44100
ksmps = 32
nchnls = 1
0dbfs = 1

giCos ftgen 0, 0, 65536, 11, 1

instr 1
  kpitch chnget "pitch"
  kharm chnget "harmonics"
  klow chnget "lowest"
  kbright chnget "brightness"
  kvrate chnget "vibrato_rate"
  kvdepth chnget "vibrato_depth"
  knoise chnget "noise"
  kcut chnget "cutoff"
  kamp chnget "amplitude"
  kvib = 1 + kvdepth * oscili(1, kvrate)
  abuzz gbuzz 0.5, kpitch * kvib, int(kharm), int(klow), kbright, giCos
  anoise noise knoise, 0
  afilt butterlp abuzz + anoise, kcut
  out tanh(afilt * kamp * 1.5) * 0.7
endin
</CsInstruments>
<CsScore>
i 1 0 1
</CsScore>
</CsoundSynthesizer>
