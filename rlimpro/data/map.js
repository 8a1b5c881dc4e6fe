// rlimpro timbre map: draws the lookup table's 2-D map on a canvas, shows a grid point's parameters on
// hover and plays its sound on click. Works from file:// with no network: everything it needs is in the
// JSON block #map-data (and, in "files" audio mode, in the map-audio/ folder beside the page).
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("map-data").textContent);
  const canvas = document.getElementById("map");
  const ctx = canvas.getContext("2d");
  const tooltip = document.getElementById("tooltip");
  const player = document.getElementById("player");
  const status = document.getElementById("now-playing");
  const colorSelect = document.getElementById("color-by");
  const corpusToggle = document.getElementById("show-corpus");
  const trajSelect = document.getElementById("trajectory");
  const N = D.rows;
  const P = D.params.length;
  const MARGIN = { left: 56, right: 16, top: 16, bottom: 48 };

  // ------------------------------------------------------------------ parameters
  function physical(spec, p) {
    p = Math.min(Math.max(p, 0), 1);
    if (spec.scale === "exp") return spec.min * Math.pow(spec.max / spec.min, p);
    return spec.min + p * (spec.max - spec.min);
  }
  function fmt(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a < 0.01 || a >= 1e5)) return v.toExponential(2);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  // Row i is grid point np.unravel_index(i, (subdiv,) * P) (param-0 slowest), values linspace(0, 1, subdiv).
  const strides = D.params.map((_, k) => Math.pow(D.subdiv, P - 1 - k));
  function paramOf(i, k) { return D.grid[Math.floor(i / strides[k]) % D.subdiv]; }

  // ------------------------------------------------------------------ geometry
  // The view is the synth's map (the grid points) with a margin; corpus frames and trajectory points
  // beyond it are drawn on its edge (hollow), so a far-away frame cannot shrink the map to a dot.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < N; i++) {
    x0 = Math.min(x0, D.x[i]); x1 = Math.max(x1, D.x[i]); y0 = Math.min(y0, D.y[i]); y1 = Math.max(y1, D.y[i]);
  }
  if (x1 - x0 < 1e-12) { x0 -= 1; x1 += 1; }
  if (y1 - y0 < 1e-12) { y0 -= 1; y1 += 1; }
  const padX = D.view_margin * (x1 - x0), padY = D.view_margin * (y1 - y0);
  x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
  let W = 0, H = 0;
  function sx(x) { return MARGIN.left + (Math.min(Math.max(x, x0), x1) - x0) / (x1 - x0) * (W - MARGIN.left - MARGIN.right); }
  function sy(y) { return H - MARGIN.bottom - (Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0) * (H - MARGIN.top - MARGIN.bottom); }
  function inView(x, y) { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }

  // ------------------------------------------------------------------ colour
  const CMAP = D.colormap;
  function colour(v) { return CMAP[Math.max(0, Math.min(CMAP.length - 1, Math.round(v * (CMAP.length - 1))))]; }
  let colorBy = Math.min(D.color_by || 0, P - 1);

  // ------------------------------------------------------------------ drawing
  const state = { drawnPoints: 0, corpusDrawn: 0, corpusOffMap: 0, trajectoryDrawn: 0, selected: -1, hover: -1, lastPlayed: null };
  function resize() {
    const box = canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    W = Math.max(320, Math.floor(box.width));
    H = Math.max(280, Math.floor(Math.min(box.width * 0.72, window.innerHeight - 40)));
    canvas.width = Math.floor(W * dpr); canvas.height = Math.floor(H * dpr);
    canvas.style.width = W + "px"; canvas.style.height = H + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw();
  }
  const radius = N > 20000 ? 1.4 : N > 4000 ? 2.2 : N > 500 ? 3.2 : 5;

  function draw() {
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    ctx.strokeRect(MARGIN.left, MARGIN.top, W - MARGIN.left - MARGIN.right, H - MARGIN.top - MARGIN.bottom);
    ctx.fillStyle = "#333"; ctx.font = "13px sans-serif"; ctx.textAlign = "center";
    ctx.fillText(D.axis_labels[0], (MARGIN.left + W - MARGIN.right) / 2, H - 16);
    ctx.save(); ctx.translate(18, (MARGIN.top + H - MARGIN.bottom) / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText(D.axis_labels[1], 0, 0); ctx.restore();

    // lookup points, batched by colour
    const bins = new Map();
    for (let i = 0; i < N; i++) {
      const c = colour(paramOf(i, colorBy));
      let b = bins.get(c); if (!b) { b = []; bins.set(c, b); } b.push(i);
    }
    let drawn = 0;
    for (const [c, idx] of bins) {
      ctx.fillStyle = c; ctx.beginPath();
      for (const i of idx) {
        const px = sx(D.x[i]), py = sy(D.y[i]);
        ctx.moveTo(px + radius, py); ctx.arc(px, py, radius, 0, 2 * Math.PI); drawn++;
      }
      ctx.fill();
    }
    state.drawnPoints = drawn;

    // corpus frames
    state.corpusDrawn = 0;
    if (D.corpus && corpusToggle.checked) {
      const cr = Math.max(1.2, radius * 0.7), edge = [];
      ctx.fillStyle = "rgba(200, 30, 30, 0.35)"; ctx.beginPath();
      for (let j = 0; j < D.corpus.x.length; j++) {
        if (!inView(D.corpus.x[j], D.corpus.y[j])) { edge.push(j); continue; }
        const px = sx(D.corpus.x[j]), py = sy(D.corpus.y[j]);
        ctx.moveTo(px + cr, py); ctx.arc(px, py, cr, 0, 2 * Math.PI); state.corpusDrawn++;
      }
      ctx.fill();
      ctx.strokeStyle = "rgba(200, 30, 30, 0.6)"; ctx.lineWidth = 1; ctx.beginPath();
      for (const j of edge) {
        const px = sx(D.corpus.x[j]), py = sy(D.corpus.y[j]);
        ctx.moveTo(px + cr + 1, py); ctx.arc(px, py, cr + 1, 0, 2 * Math.PI); state.corpusDrawn++;
      }
      ctx.stroke();
      state.corpusOffMap = edge.length;
    }

    // trajectory
    state.trajectoryDrawn = 0;
    const t = currentTrajectory();
    if (t) {
      if (t.tx) polyline(t.tx, t.ty, "rgba(90, 90, 90, 0.8)", [4, 3], 1.2, true);
      polyline(t.x, t.y, "rgba(255, 120, 0, 0.95)", [], 1.8);
      ctx.fillStyle = "rgba(255, 120, 0, 0.95)";
      for (let j = 0; j < t.x.length; j++) { ctx.beginPath(); ctx.arc(sx(t.x[j]), sy(t.y[j]), 2, 0, 2 * Math.PI); ctx.fill(); }
      state.trajectoryDrawn = t.x.length;
    }

    for (const [i, col] of [[state.hover, "#000"], [state.selected, "#e0007a"]]) {
      if (i < 0) continue;
      ctx.strokeStyle = col; ctx.lineWidth = 2; ctx.beginPath();
      ctx.arc(sx(D.x[i]), sy(D.y[i]), radius + 4, 0, 2 * Math.PI); ctx.stroke();
    }
    canvas.dataset.drawnPoints = String(state.drawnPoints);
    canvas.dataset.corpusDrawn = String(state.corpusDrawn);
    canvas.dataset.trajectoryDrawn = String(state.trajectoryDrawn);
  }
  // A path through the points; with breakOffMap, points beyond the view are left out and the line breaks there.
  function polyline(ax, ay, colourStr, dash, width, breakOffMap) {
    ctx.strokeStyle = colourStr; ctx.setLineDash(dash); ctx.lineWidth = width; ctx.beginPath();
    let pen = false;
    for (let j = 0; j < ax.length; j++) {
      if (breakOffMap && !inView(ax[j], ay[j])) { pen = false; continue; }
      const px = sx(ax[j]), py = sy(ay[j]);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke(); ctx.setLineDash([]);
  }
  function currentTrajectory() {
    if (!D.trajectories || !D.trajectories.length || !trajSelect) return null;
    const k = parseInt(trajSelect.value, 10);
    return k >= 0 ? D.trajectories[k] : null;
  }

  // ------------------------------------------------------------------ hit testing
  function nearest(mx, my, maxDist) {
    let best = -1, bestD = maxDist * maxDist, kind = "row";
    for (let i = 0; i < N; i++) {
      const dx = sx(D.x[i]) - mx, dy = sy(D.y[i]) - my, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (D.corpus && corpusToggle.checked) {
      for (let j = 0; j < D.corpus.x.length; j++) {
        const dx = sx(D.corpus.x[j]) - mx, dy = sy(D.corpus.y[j]) - my, d = dx * dx + dy * dy;
        if (d < bestD * 0.5) { bestD = d * 2; best = j; kind = "corpus"; }
      }
    }
    return best < 0 ? null : { kind, index: best };
  }
  function eventPos(ev) { const r = canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; }

  function rowText(i) {
    let same = 0;
    for (let j = 0; j < N; j++) if (j !== i && D.x[j] === D.x[i] && D.y[j] === D.y[i]) same++;
    const lines = [`<b>grid point ${i}</b>` + (same ? ` <span class="dim">(+${same} with the same descriptors here)</span>` : "")];
    for (let k = 0; k < P; k++) {
      const s = D.params[k], p = paramOf(i, k);
      lines.push(`${s.name}: ${fmt(physical(s, p))}${s.unit ? " " + s.unit : ""} <span class="dim">(p=${p.toFixed(3)})</span>`);
    }
    for (const [name, values] of Object.entries(D.desc)) {
      const unit = D.desc_units[name] ? " " + D.desc_units[name] : "";
      lines.push(`<span class="dim">${name}: ${fmt(values[i])}${unit}</span>`);
    }
    return lines.join("<br>");
  }
  function corpusText(j) {
    const c = D.corpus, row = c.nearest[j];
    return `<b>${D.corpus.name}: ${c.files[c.file[j]]}</b> at ${c.time[j].toFixed(2)} s<br>` +
      `nearest grid point ${row}, distance ${c.distance[j].toFixed(2)}` +
      (c.distance[j] <= D.coverage.threshold ? " (within reach)" : " (out of reach)") +
      `<br><span class="dim">click to hear grid point ${row}</span>`;
  }
  canvas.addEventListener("mousemove", (ev) => {
    const [mx, my] = eventPos(ev);
    const hit = nearest(mx, my, 12);
    const before = state.hover;
    state.hover = hit && hit.kind === "row" ? hit.index : -1;
    if (hit) {
      tooltip.innerHTML = hit.kind === "row" ? rowText(hit.index) : corpusText(hit.index);
      tooltip.hidden = false;
      const left = Math.min(mx + 14, W - tooltip.offsetWidth - 4);
      tooltip.style.left = Math.max(0, left) + "px";
      tooltip.style.top = Math.max(0, my + 14) + "px";
    } else tooltip.hidden = true;
    if (before !== state.hover) draw();
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; if (state.hover >= 0) { state.hover = -1; draw(); } });
  canvas.addEventListener("click", (ev) => {
    const [mx, my] = eventPos(ev);
    const hit = nearest(mx, my, 14);
    if (!hit) return;
    play(hit.kind === "row" ? hit.index : D.corpus.nearest[hit.index]);
  });

  // ------------------------------------------------------------------ sound
  const A = D.audio;
  function roundHalfEven(x) {
    const r = Math.round(x);
    return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
  }
  let grainSource = null;
  function decodeF32(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }
  // The native engines of rlimpro/synths/native.py, formula for formula.
  const ENGINES = {
    sine(v, n, sr) {
      const [f, amp] = v, out = new Float64Array(n), w = 2 * Math.PI * f;
      for (let i = 0; i < n; i++) out[i] = amp * Math.cos(w * (i / sr));
      return out;
    },
    fm(v, n, sr) {
      const [fc, h, index] = v, out = new Float64Array(n);
      const wc = 2 * Math.PI * fc, wm = 2 * Math.PI * (fc * h);
      for (let i = 0; i < n; i++) { const t = i / sr; out[i] = 0.5 * Math.cos(wc * t + index * Math.sin(wm * t)); }
      return out;
    },
    granular(v, n, sr) {
      if (!grainSource) grainSource = decodeF32(A.granular.source);
      const src = grainSource, jit = A.granular.jitter;
      const [pos, dur, pitch] = v;
      const density = v.length > 3 ? v[3] : A.granular.default_density, jitter = v.length > 4 ? v[4] : A.granular.default_jitter;
      const out = new Float64Array(n);
      const period = 1.0 / density, gain = 1.0 / Math.sqrt(Math.max(1.0, density * dur));
      const length = Math.max(roundHalfEven(dur * sr), 4), ratio = Math.pow(2.0, pitch / 12.0);
      const span = length * ratio, M = length + 2;
      const win = new Float64Array(length);
      for (let j = 0; j < length; j++) win[j] = 0.5 + 0.5 * Math.cos(Math.PI * (1 - M + 2 * (j + 1)) / (M - 1));
      let t = 0.0, k = 0;
      while (t < n / sr) {
        if (2 * k + 1 >= jit.length) throw new Error("granular: jitter sequence exhausted");
        const onsetJit = jit[2 * k], posJit = jit[2 * k + 1]; k++;
        const onset = t > 0 ? roundHalfEven((t + onsetJit * jitter * period) * sr) : 0;
        let start = pos * Math.max(src.length - span - 2, 0) + posJit * jitter * 0.05 * sr;
        start = Math.min(Math.max(start, 0.0), src.length - span - 2);
        const end = Math.min(onset + length, n);
        if (onset >= 0 && onset < n) {
          for (let j = 0; j < end - onset; j++) {
            const idx = start + j * ratio, i0 = Math.trunc(idx), frac = idx - i0;
            out[onset + j] += gain * ((src[i0] * (1 - frac) + src[i0 + 1] * frac) * win[j]);
          }
        }
        t += period;
      }
      return out;
    },
  };
  function synthesize(i) {
    const v = D.params.map((s, k) => physical(s, paramOf(i, k)));
    const n = Math.round(A.duration * A.sample_rate);
    return Float32Array.from(ENGINES[A.engine](v, n, A.sample_rate));
  }
  function wavURL(samples, sr) {
    const nf = Math.min(Math.round(A.fade * sr), Math.floor(samples.length / 2));
    const buf = new ArrayBuffer(44 + 2 * samples.length), dv = new DataView(buf);
    const tag = (o, s) => { for (let k = 0; k < 4; k++) dv.setUint8(o + k, s.charCodeAt(k)); };
    tag(0, "RIFF"); dv.setUint32(4, 36 + 2 * samples.length, true); tag(8, "WAVE"); tag(12, "fmt ");
    dv.setUint32(16, 16, true); dv.setUint16(20, 1, true); dv.setUint16(22, 1, true);
    dv.setUint32(24, sr, true); dv.setUint32(28, 2 * sr, true); dv.setUint16(32, 2, true); dv.setUint16(34, 16, true);
    tag(36, "data"); dv.setUint32(40, 2 * samples.length, true);
    for (let j = 0; j < samples.length; j++) {
      let g = 1;
      if (j < nf) g = j / nf; else if (j >= samples.length - nf) g = (samples.length - 1 - j) / nf;
      const s = Math.max(-1, Math.min(1, samples[j] * g));
      dv.setInt16(44 + 2 * j, Math.round(s * 32767), true);
    }
    return URL.createObjectURL(new Blob([buf], { type: "audio/wav" }));
  }
  let lastURL = null;
  function clipURL(i) {
    if (A.mode === "browser") {
      if (lastURL) URL.revokeObjectURL(lastURL);
      lastURL = wavURL(synthesize(i), A.sample_rate);
      return lastURL;
    }
    if (A.mode === "embed") return A.clips[i];
    return `${A.folder}/${String(i).padStart(A.digits, "0")}.ogg`;
  }
  function play(i) {
    state.selected = i; draw();
    player.src = clipURL(i);
    state.lastPlayed = { row: i, started: false, error: null };
    const params = D.params.map((s, k) => `${s.name} ${fmt(physical(s, paramOf(i, k)))}${s.unit ? " " + s.unit : ""}`).join(", ");
    status.textContent = `grid point ${i}: ${params}`;
    const pending = player.play();
    if (pending) pending.then(() => { state.lastPlayed.started = true; })
      .catch((e) => { state.lastPlayed.error = String(e); status.textContent += ` (cannot play: ${e.message || e})`; });
  }

  // ------------------------------------------------------------------ controls
  D.params.forEach((s, k) => {
    const o = document.createElement("option"); o.value = String(k);
    o.textContent = `${s.name}${s.unit ? " (" + s.unit + ")" : ""}`; colorSelect.appendChild(o);
  });
  colorSelect.value = String(colorBy);
  function legend() {
    const s = D.params[colorBy];
    document.getElementById("colorbar").style.background =
      `linear-gradient(to right, ${CMAP.filter((_, k) => k % 4 === 0 || k === CMAP.length - 1).join(", ")})`;
    for (const [id, p] of [["cb-lo", 0], ["cb-mid", 0.5], ["cb-hi", 1]])
      document.getElementById(id).textContent = fmt(physical(s, p)) + (s.unit ? " " + s.unit : "");
    document.getElementById("cb-name").textContent = s.name + (s.scale === "exp" ? " (log scale)" : "");
  }
  colorSelect.addEventListener("change", () => { colorBy = parseInt(colorSelect.value, 10); legend(); draw(); });
  if (corpusToggle) corpusToggle.addEventListener("change", draw);
  if (trajSelect) {
    (D.trajectories || []).forEach((t, k) => {
      const o = document.createElement("option"); o.value = String(k); o.textContent = t.file; trajSelect.appendChild(o);
    });
    if (D.trajectories && D.trajectories.length) trajSelect.value = "0";
    trajSelect.addEventListener("change", draw);
  }
  legend();
  window.addEventListener("resize", resize);
  resize();

  // for tests and for the curious: window.rlimproMap
  window.rlimproMap = {
    data: D,
    get rows() { return N; },
    get drawnPoints() { return state.drawnPoints; },
    get corpusDrawn() { return state.corpusDrawn; },
    get corpusOffMap() { return state.corpusOffMap; },
    get trajectoryDrawn() { return state.trajectoryDrawn; },
    get lastPlayed() { return state.lastPlayed; },
    clientPoint(i) { const r = canvas.getBoundingClientRect(); return { x: r.left + sx(D.x[i]), y: r.top + sy(D.y[i]) }; },
    play,
    synthesize: (i) => Array.from(synthesize(i)),
    player,
  };
  document.body.dataset.ready = "1";
})();
