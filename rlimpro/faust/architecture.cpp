// rlimpro's Faust architecture: the compiled synth behind a small C ABI that Python loads with ctypes.
// faust fills in <<includeIntrinsic>> and <<includeclass>> (class mydsp); g++ builds a shared library.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "faust/dsp/dsp.h"
#include "faust/gui/UI.h"
#include "faust/gui/meta.h"

<<includeIntrinsic>>

<<includeclass>>

namespace {

struct Control {
    std::string label;
    FAUSTFLOAT* zone;
    float init, min, max;
    int log_scale;
};

// Collects the sliders and number entries in declaration order; [scale:log] marks a log control.
struct Collector : public UI {
    std::vector<Control> controls;
    FAUSTFLOAT* log_zone = nullptr;
    void add(const char* label, FAUSTFLOAT* zone, FAUSTFLOAT init, FAUSTFLOAT min, FAUSTFLOAT max) {
        controls.push_back({label, zone, float(init), float(min), float(max), zone == log_zone ? 1 : 0});
    }
    void openTabBox(const char*) override {}
    void openHorizontalBox(const char*) override {}
    void openVerticalBox(const char*) override {}
    void closeBox() override {}
    void addButton(const char*, FAUSTFLOAT*) override {}
    void addCheckButton(const char*, FAUSTFLOAT*) override {}
    void addVerticalSlider(const char* l, FAUSTFLOAT* z, FAUSTFLOAT i, FAUSTFLOAT lo, FAUSTFLOAT hi, FAUSTFLOAT) override { add(l, z, i, lo, hi); }
    void addHorizontalSlider(const char* l, FAUSTFLOAT* z, FAUSTFLOAT i, FAUSTFLOAT lo, FAUSTFLOAT hi, FAUSTFLOAT) override { add(l, z, i, lo, hi); }
    void addNumEntry(const char* l, FAUSTFLOAT* z, FAUSTFLOAT i, FAUSTFLOAT lo, FAUSTFLOAT hi, FAUSTFLOAT) override { add(l, z, i, lo, hi); }
    void addHorizontalBargraph(const char*, FAUSTFLOAT*, FAUSTFLOAT, FAUSTFLOAT) override {}
    void addVerticalBargraph(const char*, FAUSTFLOAT*, FAUSTFLOAT, FAUSTFLOAT) override {}
    void addSoundfile(const char*, const char*, Soundfile**) override {}
    void declare(FAUSTFLOAT* zone, const char* key, const char* value) override {
        if (zone && std::strcmp(key, "scale") == 0 && std::strcmp(value, "log") == 0) log_zone = zone;
    }
};

struct Handle {
    mydsp dsp;
    Collector ui;
    int sample_rate;
    std::vector<std::vector<FAUSTFLOAT>> in, out;
    std::vector<FAUSTFLOAT*> in_ptr, out_ptr;
    void buffers(int n) {
        if (!out.empty() && int(out[0].size()) >= n) return;
        in.assign(dsp.getNumInputs(), std::vector<FAUSTFLOAT>(n, 0));
        out.assign(dsp.getNumOutputs(), std::vector<FAUSTFLOAT>(n, 0));
        in_ptr.clear(); out_ptr.clear();
        for (auto& b : in) in_ptr.push_back(b.data());
        for (auto& b : out) out_ptr.push_back(b.data());
    }
};

const int CHUNK = 4096;  // samples per compute() call in rl_render

}  // namespace

extern "C" {

void* rl_new(int sample_rate) {
    Handle* h = new Handle();
    h->sample_rate = sample_rate;
    h->dsp.init(sample_rate);
    h->dsp.buildUserInterface(&h->ui);
    h->buffers(CHUNK);
    return h;
}

void rl_delete(void* p) { delete static_cast<Handle*>(p); }
int rl_outputs(void* p) { return static_cast<Handle*>(p)->dsp.getNumOutputs(); }
int rl_count(void* p) { return int(static_cast<Handle*>(p)->ui.controls.size()); }
const char* rl_label(void* p, int i) { return static_cast<Handle*>(p)->ui.controls[i].label.c_str(); }

// init, min, max, log (1 for [scale:log])
void rl_range(void* p, int i, float* out) {
    const Control& c = static_cast<Handle*>(p)->ui.controls[i];
    out[0] = c.init; out[1] = c.min; out[2] = c.max; out[3] = float(c.log_scale);
}

// Back to the load state: controls at their init values, delay lines and oscillators cleared.
void rl_reset(void* p) {
    Handle* h = static_cast<Handle*>(p);
    h->dsp.instanceInit(h->sample_rate);
}

void rl_set(void* p, int count, const int* index, const float* values) {
    Handle* h = static_cast<Handle*>(p);
    for (int k = 0; k < count; ++k) *h->ui.controls[index[k]].zone = values[k];
}

// n samples of output channel 0 with the current controls.
void rl_render(void* p, int n, float* out) {
    Handle* h = static_cast<Handle*>(p);
    for (int done = 0; done < n; done += CHUNK) {
        int k = std::min(CHUNK, n - done);
        h->dsp.compute(k, h->in_ptr.data(), h->out_ptr.data());
        std::copy(h->out[0].begin(), h->out[0].begin() + k, out + done);
    }
}

// n samples with the controls ramped from v0 to v1 (count values for the controls in index), set
// anew every `sub` samples (the last sub-block ends exactly at v1).
void rl_render_ramp(void* p, int n, int count, const int* index, const float* v0, const float* v1, int sub, float* out) {
    Handle* h = static_cast<Handle*>(p);
    int blocks = std::max(1, (n + sub - 1) / sub);
    for (int b = 0, done = 0; b < blocks; ++b) {
        int k = std::min(sub, n - done);
        if (k <= 0) break;
        float frac = float(b + 1) / float(blocks);
        for (int c = 0; c < count; ++c) *h->ui.controls[index[c]].zone = v0[c] + (v1[c] - v0[c]) * frac;
        h->dsp.compute(k, h->in_ptr.data(), h->out_ptr.data());
        std::copy(h->out[0].begin(), h->out[0].begin() + k, out + done);
        done += k;
    }
}

}  // extern "C"
