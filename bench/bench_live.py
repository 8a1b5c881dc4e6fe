"""Live latency: the decision per hop, and the OSC round trip on loopback.

Setup (in a temporary workspace, not timed): fm lookup at subdiv 10, the demo corpus analyzed, PPO with
the default MLP (64 x 64) trained briefly through the train API. Latencies do not depend on how well
the agent plays, only on the work per hop.

1. Decision latency per hop: the streaming analysis of one hop (44.1 kHz, window 1024, hop 512, every
   descriptor group) + observation + policy + parameter update + synth-model lookup, for every hop of
   the 60 s demo corpus, with the numpy policy and, in the same run on the same hops, with SB3's
   ``predict`` (torch). Median and p99 of wall-clock time (what the musician waits) and of thread CPU
   time (which leaves out time the process was not running because another program had the core, so
   a busy machine does not pass for a slow decision). Target: numpy p99 <= 0.5 ms.
2. OSC round trip on loopback: a client sends ``/rlimpro/target`` (36 floats) and waits for the
   ``/rlimpro/params`` answer from ``rlimpro live --input osc`` running as its own process; beside it a
   bare UDP echo process (plain socket, no parsing, no agent) answering datagrams of the same size, the
   floor any OSC server on this machine can reach. Target: p99 <= 1 ms.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_ROUND_TRIPS = 2000
DECISION_TARGET_MS = 0.5
OSC_TARGET_MS = 1.0

CONFIG = """\
synth: fm
corpus: demo
features: [mfcc, specshape]
algorithm: PPO
action_type: discrete
timesteps: 1024
n_envs: 1
eval_freq: 0
checkpoint_freq: 0
algorithm_kwargs: {n_steps: 256, batch_size: 64}
"""

ECHO_SERVER = """\
import os, socket
try:  # the same scheduling rlimpro live asks for, so the floor is comparable
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
except (OSError, AttributeError):
    pass
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data[:32], addr)
"""


def _workspace(root: Path) -> Path:
    from rlimpro.corpus import analyze_corpus
    from rlimpro.demo_corpus import make_demo_corpus
    from rlimpro.lookup import compute_lookup
    from rlimpro.train import train

    compute_lookup(synth="fm", workspace=root, subdiv=10, duration=0.5, show_progress=False)
    make_demo_corpus(workspace=root)
    analyze_corpus(corpus="demo", workspace=root, show_progress=False)
    (root / "bench.yaml").write_text(CONFIG)
    train(config_path=root / "bench.yaml", workspace=root, show_progress=False, evaluate=False)
    return root


def _stats(seconds: np.ndarray) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 99))


def _decision_latency(ws: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per-hop wall and CPU seconds of the numpy and SB3 decision paths over the demo corpus (and the
    scheduling the loop got)."""
    from rlimpro.audiofile import read_audio
    from rlimpro.live.agent import load_agent
    from rlimpro.live.priority import realtime_priority

    agent = load_agent(synth="fm", model="latest", workspace=ws)
    hop = agent.settings.hop
    signals = [read_audio(p, sample_rate=agent.settings.sample_rate)[0]
               for p in sorted((ws / "corpora" / "demo" / "audio").glob("*.wav"))]
    out: dict = {}
    with realtime_priority(True) as scheduling:  # as rlimpro live runs its loop
        out["scheduling"] = scheduling
        for name, decide in (("numpy", agent.decide), ("sb3", agent.decide_sb3)):
            out[name] = _timed(agent, signals, decide, hop)
    out["numpy-normal"] = _timed(agent, signals, agent.decide, hop)  # normal scheduling (rlimpro live --no-rt)
    return out


def _timed(agent, signals: list[np.ndarray], decide, hop: int) -> dict[str, np.ndarray]:
    """Wall and thread-CPU seconds of each decided hop: activity check, analysis, ``decide``."""
    wall, cpu = [], []
    for sig in signals:
        agent.reset()
        n = -(-sig.size // hop)
        padded = np.zeros(n * hop)
        padded[: sig.size] = sig
        for i in range(n):
            block = padded[i * hop : (i + 1) * hop]
            t0, c0 = time.perf_counter(), time.thread_time()
            active = agent.hop_is_active(block)
            target = agent.analyzer.push_hop(block)
            if active:
                decide(target)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
    return {"wall": np.array(wall), "cpu": np.array(cpu)}


def _round_trips(port: int, payload: bytes, *, n: int) -> np.ndarray:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    dest = ("127.0.0.1", port)
    times = []
    try:
        for i in range(n + 50):
            t0 = time.perf_counter()
            s.sendto(payload, dest)
            s.recvfrom(4096)
            if i >= 50:  # warm-up
                times.append(time.perf_counter() - t0)
            time.sleep(0.0005)
    finally:
        s.close()
    return np.array(times)


def _start(cmd: list[str], *, ready: str, env: dict | None = None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited before it was ready")
        if ready in line:
            return proc, int(line.strip().rsplit(" ", 1)[-1])
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} was not ready in time")


def _osc_round_trip(ws: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    from rlimpro.descriptors import DESCRIPTORS
    from rlimpro.live.osc import TARGET_ADDRESS, build_message

    table = pd.read_csv(ws / "corpora" / "demo" / "features" / "01-pluck-dorian.csv")
    frame = table.loc[table["active"] == 1, list(DESCRIPTORS)].to_numpy()[10]
    payload = build_message(TARGET_ADDRESS, frame)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    live, port = _start(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--input", "osc:127.0.0.1:0",
         "--log", str(ws / "bench-osc.csv")],
        ready="udp port", env=env,
    )
    try:
        osc = _round_trips(port, payload, n=N_ROUND_TRIPS)
    finally:
        live.terminate()
        live.wait(60)
    echo, port = _start([sys.executable, "-c", ECHO_SERVER], ready="")
    try:
        bare = _round_trips(port, payload, n=N_ROUND_TRIPS)
    finally:
        echo.kill()
        echo.wait(10)
    return osc, bare


def run() -> list[str]:
    lines = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-live-") as tmp:
        ws = _workspace(Path(tmp))
        lat = _decision_latency(ws)
        n = len(lat["numpy"]["wall"])
        (np_med, np_p99), (sb_med, sb_p99) = _stats(lat["numpy"]["wall"]), _stats(lat["sb3"]["wall"])
        (npc_med, npc_p99), (sbc_med, sbc_p99) = _stats(lat["numpy"]["cpu"]), _stats(lat["sb3"]["cpu"])
        lines.append(f"machine load average (1 min) at start: {load:.1f} on {os.cpu_count()} cores")
        lines.append(
            f"decision latency per hop (analysis + policy + parameter update; fm, PPO 64x64, {n} hops of the demo "
            f"corpus; scheduling: {lat['scheduling']}):"
        )
        lines.append(
            f"  numpy policy : median {np_med:.3f} ms, p99 {np_p99:.3f} ms wall; "
            f"CPU time median {npc_med:.3f} ms, p99 {npc_p99:.3f} ms"
        )
        lines.append(
            f"  SB3 predict  : median {sb_med:.3f} ms, p99 {sb_p99:.3f} ms wall; "
            f"CPU time median {sbc_med:.3f} ms, p99 {sbc_p99:.3f} ms"
        )
        lines.append(
            f"  numpy / SB3  : median {np_med / sb_med:.2f}x, p99 {np_p99 / sb_p99:.2f}x wall; "
            f"CPU p99 {npc_p99 / sbc_p99:.2f}x"
        )
        nn_med, nn_p99 = _stats(lat["numpy-normal"]["wall"])
        lines.append(
            f"  numpy, normal scheduling (--no-rt): median {nn_med:.3f} ms, p99 {nn_p99:.3f} ms wall "
            "(other programs on the machine delay it)"
        )
        ok_wall = "met" if np_p99 <= DECISION_TARGET_MS else "MISSED"
        ok_cpu = "met" if npc_p99 <= DECISION_TARGET_MS else "MISSED"
        lines.append(
            f"  target numpy p99 <= {DECISION_TARGET_MS} ms: wall {ok_wall} ({np_p99:.3f} ms), "
            f"CPU time {ok_cpu} ({npc_p99:.3f} ms); the prototype's live path: p99 ~ 1.5 ms"
        )
        osc, bare = _osc_round_trip(ws)
        (o_med, o_p99), (b_med, b_p99) = _stats(osc), _stats(bare)
        lines.append(f"OSC round trip on loopback ({N_ROUND_TRIPS} frames, /rlimpro/target 36 f -> /rlimpro/params):")
        lines.append(f"  rlimpro live --input osc : median {o_med:.3f} ms, p99 {o_p99:.3f} ms")
        lines.append(f"  bare UDP echo (baseline) : median {b_med:.3f} ms, p99 {b_p99:.3f} ms")
        lines.append(
            f"  live / echo              : median {o_med / b_med:.2f}x, p99 {o_p99 / b_p99:.2f}x; "
            f"target p99 <= {OSC_TARGET_MS} ms: {'met' if o_p99 <= OSC_TARGET_MS else 'MISSED'}"
        )
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
