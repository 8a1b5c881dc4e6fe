"""map.html in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Checks: no console errors and no network requests, every grid point drawn, hover shows parameters,
a click starts playback of the audio element, the page's synthesis equals rlimpro's engines, and a
screenshot is saved (its path is printed; run with -s to see it).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from rlimpro.lookup import compute_lookup, grid
from rlimpro.synths import load_spec, make_renderer
from rlimpro.visualize import visualize
from tests.visualize_data import CORPUS, make_lookup

pytest_plugins = ("tests.visualize_fixtures",)  # fixtures: prepared_workspace, ws

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        pytest.skip("chromium not found: apt-get install chromium (make test installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"), args=ARGS)
        yield b
        b.close()


class Page:
    """A page with its console errors and the non-local requests it made."""

    def __init__(self, browser, html: Path, *, width: int = 1280, height: int = 900):
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.split(":", 1)[0] in ("file", "data", "blob") else self.remote.append(r.url))
        self.page.goto(html.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def js(self, expr: str):
        return self.page.evaluate(expr)

    def isolated_point(self) -> int:
        """A grid point at least 12 px from every other (so the click is unambiguous)."""
        return self.js(
            """(() => { const m = rlimproMap, n = m.rows, pts = [];
            for (let i = 0; i < n; i++) pts.push(m.clientPoint(i));
            let best = -1, bestGap = 0;
            for (let i = 0; i < n; i++) { let gap = Infinity;
              for (let j = 0; j < n; j++) if (j !== i) gap = Math.min(gap, Math.hypot(pts[i].x - pts[j].x, pts[i].y - pts[j].y));
              if (gap > bestGap) { bestGap = gap; best = i; } }
            return bestGap >= 12 ? best : -1; })()"""
        )

    def click_and_wait_for_playback(self, row: int) -> dict:
        pt = self.js(f"rlimproMap.clientPoint({row})")
        self.page.mouse.click(pt["x"], pt["y"])
        deadline = time.monotonic() + 10
        state = {}
        while time.monotonic() < deadline:
            state = self.js(
                "({paused: rlimproMap.player.paused, t: rlimproMap.player.currentTime, src: rlimproMap.player.currentSrc,"
                " error: rlimproMap.player.error && rlimproMap.player.error.message, last: rlimproMap.lastPlayed})"
            )
            if state["t"] > 0.02 or state["error"] or (state["last"] or {}).get("error"):
                break
            time.sleep(0.05)
        return state

    def close(self):
        self.page.close()


def _check_playback(state: dict, row: int):
    assert state["last"]["row"] == row
    assert state["error"] is None and state["last"]["error"] is None, state
    assert not state["paused"] or state["t"] > 0.02, state  # playing now, or already played past its start
    assert state["t"] > 0.02, state


def test_map_page_draws_hovers_plays(browser, ws, tmp_path):
    res = visualize(synth="fm", workspace=ws, corpus=CORPUS, run="latest", show_progress=False)
    page = Page(browser, res.html)
    try:
        assert page.js("rlimproMap.rows") == res.rows == 125
        assert page.js("rlimproMap.drawnPoints") == 125
        assert page.page.get_attribute("#map", "data-drawn-points") == "125"
        assert page.js("rlimproMap.corpusDrawn") == res.corpus_frames
        n_traj = len(pd.read_csv(next((ws / "synths" / "fm" / "models").iterdir()) / "trajectories" / "synthlike.csv"))
        assert page.js("rlimproMap.trajectoryDrawn") == n_traj
        assert "%" in page.page.inner_text("#coverage")

        row = page.isolated_point()
        assert row >= 0
        pt = page.js(f"rlimproMap.clientPoint({row})")
        page.page.mouse.move(pt["x"], pt["y"])
        tip = page.page.inner_text("#tooltip")
        assert page.page.is_visible("#tooltip") and f"grid point {row}" in tip
        spec = load_spec("fm", workspace=ws)
        p = grid(n_params=3, subdiv=5)[row]
        assert f"carrier: {spec.params[0].to_physical(p[0]):.0f} Hz" in tip or f"carrier: {spec.params[0].to_physical(p[0]):.1f} Hz" in tip
        assert "harmonicity" in tip and "index" in tip

        state = page.click_and_wait_for_playback(row)
        _check_playback(state, row)
        assert state["src"].startswith("blob:")
        page.page.mouse.move(pt["x"] + 1, pt["y"])
        shot = tmp_path / "map-fm-corpus-run.png"
        page.page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 20_000
        # the colour control redraws every point
        page.page.select_option("#color-by", "2")
        assert page.js("rlimproMap.drawnPoints") == 125
        # hiding the corpus hides every frame
        page.page.uncheck("#show-corpus")
        assert page.js("rlimproMap.corpusDrawn") == 0
        assert page.errors == [] and page.remote == []
    finally:
        page.close()


@pytest.mark.parametrize(("synth", "n_params", "subdiv"), [("sine", 2, 4), ("fm", 3, 3), ("granular", 3, 3), ("granular", 5, 2)])
def test_page_synthesis_equals_the_engine(browser, tmp_path, synth, n_params, subdiv):
    compute_lookup(synth=synth, workspace=tmp_path, subdiv=subdiv, n_params=n_params, duration=0.05, workers=1, show_progress=False)
    res = visualize(synth=synth, workspace=tmp_path, audio_duration=0.3, show_progress=False)
    page = Page(browser, res.html)
    try:
        spec = load_spec(synth, workspace=tmp_path, n_params=n_params)
        points = grid(n_params=n_params, subdiv=subdiv)
        rows = sorted({0, 1, len(points) // 2, len(points) - 1})
        expected = make_renderer(spec).render(points[rows], duration=0.3, sample_rate=44100)
        for k, row in enumerate(rows):
            got = np.array(page.js(f"rlimproMap.synthesize({row})"), dtype=np.float64)
            assert got.shape == expected[k].shape
            assert_allclose(got, expected[k], rtol=0, atol=1e-5, err_msg=f"{synth} row {row}")
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.parametrize("mode", ["files", "embed"])
def test_rendered_clips_play(browser, ws, mode):
    res = visualize(synth="fm", workspace=ws, audio=mode, audio_duration=0.3, show_progress=False)
    page = Page(browser, res.html)
    try:
        row = page.isolated_point()
        state = page.click_and_wait_for_playback(row)
        _check_playback(state, row)
        if mode == "files":
            assert state["src"].endswith(f"map-audio/{row:06d}.ogg")
        else:
            assert state["src"].startswith("data:audio/ogg;base64,")
        assert page.errors == [] and page.remote == []
    finally:
        page.close()


@pytest.mark.slow
def test_fm_subdiv_20_draws_all_8000_points(browser, tmp_path):
    make_lookup(tmp_path, subdiv=20, duration=0.05)
    res = visualize(synth="fm", workspace=tmp_path, show_progress=False)
    assert res.rows == 8000
    page = Page(browser, res.html)
    try:
        assert page.js("rlimproMap.drawnPoints") == 8000
        assert page.page.get_attribute("#map", "data-drawn-points") == "8000"
        row = page.isolated_point()
        state = page.click_and_wait_for_playback(row)
        _check_playback(state, row)
        shot = tmp_path / "map-fm-8000.png"
        page.page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        assert page.errors == [] and page.remote == []
    finally:
        page.close()
