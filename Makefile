# rlimpro: `make demo` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps test lint bench demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: this version's CPU wheel is local; anything else pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,ray,umap]'   # the optional extras too: the tests cover them
	touch $(STAMP)

install: $(STAMP)

# Debian packages the real parts need: Pure Data, PortAudio, JACK (dummy driver for tests), Chromium,
# Csound (the csound command; the -dev packages hold the libcsound64.so/libcsnd6.so names ctcsound loads),
# SuperCollider's scsynth, Faust with g++ (rlimpro compiles synth.dsp), fluidsynth + the FluidR3 GM SoundFont
# (the real-instrument recordings of the quality benchmark and its tests; the "hardware" synth of the MIDI lookup test).
system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for p in puredata-core libportaudio2 jackd2 libsndfile1 chromium csound libcsound64-6.0 libcsound64-dev \
	           libcsnd-dev supercollider-server faust g++ fluidsynth fluid-soundfont-gm; do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	else echo "not root or no apt-get: install puredata-core libportaudio2 jackd2 chromium csound libcsound64-dev libcsnd-dev supercollider-server faust g++ fluidsynth fluid-soundfont-gm yourself"; fi

test: install system-deps
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check rlimpro tests bench

bench: install system-deps
	$(BIN)/python -m bench

demo: install
	$(BIN)/python -m rlimpro.demo

clean:
	rm -rf $(VENV) .pytest_cache
