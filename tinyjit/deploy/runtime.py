"""--execute: the winning plan's partitions, each in its own process, chained over loopback TCP.

The parent plays the sensor: it sends the input to the source's partition and receives the
answer back from the last one. Workers start together, compile their partition, say READY with
their port, and are then told their downstream's port. Each sender emulates its outgoing link (half the RTT
plus the bytes at the link's bandwidth, slept before sending); the last one emulates the way
back to the source. With ``emulate="device"`` each worker also paces its compute to the device's
predicted time (the host is faster than an MCU: the sleep stands in for the missing device); with
``emulate="host"`` nothing is paced and the prediction is redone with this machine's measured
per-step times. Every wait has a timeout; whatever happens, every process is ended.
"""
from __future__ import annotations

import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import format as tjm
from ..errors import TinyJitError
from . import wire
from .partition import extract
from .planner import Candidate, Planner
from .profile import add_device

READY_TIMEOUT = 300.0


@dataclass
class Worker:
    index: int
    device: str
    path: Path
    proc: subprocess.Popen | None = None
    port: int = 0
    stderr_path: Path | None = None

    def describe(self) -> str:
        return f"partition {self.index} ({self.device}, pid {self.proc.pid if self.proc else '-'})"

    def stderr_tail(self, n: int = 400) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip()
        except (OSError, AttributeError):
            return ""
        return " ".join(text[-n:].split())


def partitions(planner: Planner, cand: Candidate):
    """One Plan per stage of a layer-range candidate (a stage without steps relays)."""
    df = planner.profile.dataflow
    name = planner.profile.plan.name
    return [extract(df, s.start, s.stop, f"{name}.part{i}.{s.device}") for i, s in enumerate(cand.stages)]


def host_prediction(planner: Planner, cand: Candidate) -> float:
    """The candidate's latency with every device's compute replaced by this machine's."""
    from .devices import host_device
    host = host_device()
    add_device(planner.profile, host)
    lat = planner.profile.latency[host.key]
    return cand.latency_s - sum(s.compute_s for s in cand.stages) + sum(sum(lat[s.start:s.stop]) for s in cand.stages)


def execute(planner: Planner, cand: Candidate, inputs: list[np.ndarray] | None = None, runs: int = 5,
            emulate: str = "device", workdir=None, timeout: float | None = None, fault: dict | None = None) -> dict:
    if not cand.executable:
        raise TinyJitError(f"the {cand.kind} plan is an estimate and cannot be executed")
    if emulate not in ("device", "host"):
        raise TinyJitError(f"emulate must be 'device' or 'host', not {emulate!r}")
    plan = planner.profile.plan
    parts = partitions(planner, cand)
    predicted = cand.latency_s if emulate == "device" else host_prediction(planner, cand)
    run_timeout = timeout or max(30.0, 5 * predicted + 10)
    if inputs is None:
        rng = np.random.default_rng(0)
        inputs = [_random(plan.tensors[i], rng) for i in plan.inputs]
    from ..executor import Executor
    want = Executor(plan).run(inputs)

    tmp = tempfile.TemporaryDirectory(prefix="tinyjit-exec-") if workdir is None else None
    root = Path(workdir or tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    sink.settimeout(READY_TIMEOUT)
    src_sock = result = None
    try:
        for i, (st, part) in enumerate(zip(cand.stages, parts)):
            path = root / f"part{i}-{st.device}.tjm"
            tjm.save(part, path)
            workers.append(Worker(i, st.device, path))
        for w, st in zip(workers, cand.stages):   # all start (and compile) at once
            if st.link is not None:
                link = planner.topo.db.link(st.link)
                delay, bw = link.rtt_ms / 2e3, link.bandwidth_bps
            else:   # the last stage sends the answer back to the source over the return path
                back = [planner.topo.db.link(k) for k, _ in cand.return_path]
                delay = sum(l.rtt_ms / 2e3 for l in back)
                bw = 1.0 / sum(1.0 / l.bandwidth_bps for l in back) if back else 0.0
            device = planner.topo.db.device(st.device)
            pace = st.compute_s if emulate == "device" and not device.measured else 0.0
            cmd = [sys.executable, "-m", "tinyjit.deploy.worker", str(w.path), "--pace", repr(pace), "--delay", repr(delay), "--bandwidth", repr(bw),
                   "--timeout", repr(run_timeout + READY_TIMEOUT)]
            if fault and w.index in fault:
                cmd += ["--fault", fault[w.index]]
            w.stderr_path = root / f"part{w.index}.stderr"
            with open(w.stderr_path, "wb") as err:
                w.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.PIPE,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for w in workers:
            w.port = _wait_ready(w)
        for w, nxt in zip(workers, [w.port for w in workers[1:]] + [sink.getsockname()[1]]):
            w.proc.stdin.write(f"NEXT {nxt}\n".encode())
            w.proc.stdin.flush()
        src_sock = socket.create_connection(("127.0.0.1", workers[0].port), timeout=run_timeout)
        src_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        result, _ = sink.accept()
        result.settimeout(run_timeout)
        frames = [wire.encode(plan.tensors[i].name, x, plan.tensors[i].quant) for i, x in zip(plan.inputs, inputs)]
        times, got = [], None
        for r in range(runs + 1):       # run 0 warms up sockets and caches: not counted
            t0 = time.perf_counter()
            wire.send_message(src_sock, frames)
            try:
                msg = wire.recv_message(result)
            except (wire.PeerClosed, socket.timeout, OSError, TinyJitError) as e:
                raise _failure(workers, e, run_timeout) from None
            if r:
                times.append(time.perf_counter() - t0)
            got = msg
        wire.send_control(src_sock, wire.STOP)
    finally:
        for s in (src_sock, result, sink):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        _stop(workers)
        if tmp is not None:
            tmp.cleanup()

    by_name = {h["name"]: a for h, a in got}
    outs = [by_name.get(plan.tensors[i].name) for i in plan.outputs]
    match, errors = True, []
    for g, w in zip(outs, want):
        if g is None or g.shape != w.shape or g.dtype != w.dtype:
            match = False
            errors.append(None)
        elif w.dtype.kind == "f":
            err = float(np.abs(g.astype(np.float64) - w).max() / max(float(np.abs(w).max()), 1e-30)) if w.size else 0.0
            errors.append(err)
            match &= err <= 1e-6
        else:
            errors.append(int(np.abs(g.astype(np.int64) - w.astype(np.int64)).max()) if w.size else 0)
            match &= bool(np.array_equal(g, w))
    measured = statistics.median(times)
    return {"measured_latency_ms": measured * 1e3, "predicted_latency_ms": predicted * 1e3,
            "error": measured / predicted - 1 if predicted > 0 else None, "runs_ms": [t * 1e3 for t in times],
            "match": bool(match), "max_error": errors, "exact": all(
                g is not None and np.array_equal(g, w) for g, w in zip(outs, want)), "emulate": emulate,
            "partitions": [{"device": w.device, "steps": [s.start, s.stop], "tjm_bytes": len(tjm.to_bytes(p)),
                            "arena_bytes": p.arena_bytes, "weights_bytes": p.weights_bytes}
                           for w, s, p in zip(workers, cand.stages, parts)]}


def _random(t, rng) -> np.ndarray:
    kind = np.dtype(t.dtype).kind
    if kind == "f":
        return rng.standard_normal(t.shape).astype(t.dtype)
    if kind == "b":
        return rng.integers(0, 2, t.shape).astype(bool)
    info = np.iinfo(t.dtype)
    return rng.integers(info.min, info.max + 1, t.shape, dtype=np.int64).astype(t.dtype)


def _wait_ready(w: Worker) -> int:
    sel = selectors.DefaultSelector()
    sel.register(w.proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT
    line = b""
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = w.proc.stdout.readline()
                if line.startswith(b"READY "):
                    return int(line.split()[1])
                if not line and w.proc.poll() is not None:
                    break
            elif w.proc.poll() is not None:
                break
    finally:
        sel.close()
    code = w.proc.poll()
    if code is None:
        raise TinyJitError(f"{w.describe()} did not start within {READY_TIMEOUT:.0f} s")
    raise TinyJitError(f"{w.describe()} exited with code {code} before it was ready: {w.stderr_tail()}")


def _failure(workers: list[Worker], e: Exception, timeout: float) -> TinyJitError:
    time.sleep(0.2)      # let a dying process be seen dead
    dead = [w for w in workers if w.proc.poll() is not None]
    if dead:
        w = dead[0]
        tail = w.stderr_tail()
        return TinyJitError(f"{w.describe()} died with exit code {w.proc.returncode}"
                            + (f": {tail}" if tail else "") + "; all partition processes were stopped")
    if isinstance(e, socket.timeout):
        return TinyJitError(f"no answer within {timeout:.0f} s (a partition process hangs?); "
                            "all partition processes were stopped")
    return TinyJitError(f"the partitioned run failed: {e}; all partition processes were stopped")


def _stop(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                w.proc.terminate()
    for w in workers:
        if w.proc is None:
            continue
        try:
            w.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        for f in (w.proc.stdout, w.proc.stdin):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
