"""--execute: the winning plan's partitions, each in its own process, chained over loopback TCP.

The parent plays the sensor: it sends the input to the source's partition (or, when the source
runs no step, sleeps the source's link itself and sends its raw input to the next device) and
receives the answer back from the last one. Workers start together, compile their partition, say
READY with their port, and are then told their downstream's port. Each sender emulates its
outgoing link (half the RTT plus the bytes at the link's bandwidth, slept before sending); the
last one emulates the way back to the source. With ``emulate="device"`` each worker also paces
its compute to the device's predicted time (the host is faster than an MCU: the sleep stands in
for the missing device); with ``emulate="host"`` nothing is paced and the prediction is redone
with this machine's measured per-step times.

The runtime costs time of its own (Python, framing, loopback TCP, processes woken late on a busy
machine): before every timed pass a *calibration* pass takes the same way (processes, sockets,
frames of the same sizes, the same sleeps) with nothing computed; its time minus what the
emulation slept is ``runtime_overhead_ms``, reported apart from the planner's prediction and
added to it for the comparison with the measured time. Every wait has a timeout; whatever
happens, every process is ended.
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
from .worker import Emulation

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


@dataclass
class Setup:
    """What both runtimes (loopback TCP here, Ray in ray_runtime) need to run a candidate."""
    stages: list            # the candidate's stages
    parts: list             # one Plan per stage
    emulations: list[Emulation]
    predicted_s: float      # the planner's prediction (emulate="host": with this machine's compute)
    intended_s: float       # what the emulation sleeps in one pass when nothing is computed
    inputs: list[np.ndarray]
    want: list[np.ndarray]  # the unpartitioned model's outputs
    timeout_s: float
    emulate: str

    @property
    def local_source(self) -> bool:
        """The source runs no step: the caller (playing the sensor) sends its input itself."""
        return not self.parts[0].steps and len(self.parts) > 1


def prepare(planner: Planner, cand: Candidate, emulate: str = "device", inputs=None, timeout=None) -> Setup:
    if not cand.executable:
        raise TinyJitError(f"the {cand.kind} plan is an estimate and cannot be executed")
    if emulate not in ("device", "host"):
        raise TinyJitError(f"emulate must be 'device' or 'host', not {emulate!r}")
    plan = planner.profile.plan
    parts = partitions(planner, cand)
    predicted = cand.latency_s if emulate == "device" else host_prediction(planner, cand)
    emulations = []
    for st in cand.stages:
        if st.link is not None:
            link = planner.topo.db.link(st.link)
            delay, bw = link.rtt_ms / 2e3, link.bandwidth_bps
        else:   # the last stage sends the answer back to the source over the return path
            back = [planner.topo.db.link(k) for k, _ in cand.return_path]
            delay = sum(l.rtt_ms / 2e3 for l in back)
            bw = 1.0 / sum(1.0 / l.bandwidth_bps for l in back) if back else 0.0
        device = planner.topo.db.device(st.device)
        pace = st.compute_s if emulate == "device" and not device.measured else 0.0
        emulations.append(Emulation(pace, delay, bw))
    intended = sum(e.intended_s(sum(p.tensors[i].nbytes for i in p.outputs)) for e, p in zip(emulations, parts))
    if inputs is None:
        rng = np.random.default_rng(0)
        inputs = [_random(plan.tensors[i], rng) for i in plan.inputs]
    from ..executor import Executor
    want = Executor(plan).run(inputs)
    return Setup(list(cand.stages), parts, emulations, predicted, intended, inputs, want,
                 timeout or max(30.0, 5 * predicted + 10), emulate)


def measure(one_pass, runs: int) -> tuple[list[float], list[float], list]:
    """Timed passes, each after a calibration pass in the same conditions; run 0 warms up.
    ``one_pass(calibrate)`` -> (seconds, [(header, array)])."""
    times, calibration, got = [], [], None
    for r in range(runs + 1):
        c, _ = one_pass(True)
        t, got = one_pass(False)
        if r:
            times.append(t)
            calibration.append(c)
    return times, calibration, got


def summarize(setup: Setup, times: list[float], calibration: list[float], got, hops: int, extra=None) -> dict:
    """Measured vs predicted (the model's prediction plus the runtime's calibrated overhead), and
    the outputs against the whole model's."""
    plan_outputs = [p.tensors[i].name for p in setup.parts[-1:] for i in p.outputs]
    by_name = {h["name"]: a for h, a in got}
    outs = [by_name.get(n) for n in plan_outputs]
    match, errors = True, []
    for g, w in zip(outs, setup.want):
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
    overhead = statistics.median(calibration) - setup.intended_s
    predicted = setup.predicted_s
    with_overhead = predicted + overhead
    out = {"measured_latency_ms": measured * 1e3, "predicted_latency_ms": predicted * 1e3,
           "runtime_overhead_ms": overhead * 1e3, "runtime_overhead_per_hop_ms": overhead * 1e3 / max(hops, 1),
           "hops": hops, "predicted_with_overhead_ms": with_overhead * 1e3,
           "error": measured / with_overhead - 1 if with_overhead > 0 else None,
           "model_error": measured / predicted - 1 if predicted > 0 else None,
           "runs_ms": [t * 1e3 for t in times], "calibration_ms": [c * 1e3 for c in calibration],
           "emulated_ms": setup.intended_s * 1e3,
           "match": bool(match), "max_error": errors, "exact": all(
               g is not None and np.array_equal(g, w) for g, w in zip(outs, setup.want)), "emulate": setup.emulate,
           "partitions": [{"device": s.device, "steps": [s.start, s.stop], "tjm_bytes": len(tjm.to_bytes(p)),
                           "arena_bytes": p.arena_bytes, "weights_bytes": p.weights_bytes}
                          for s, p in zip(setup.stages, setup.parts)]}
    out.update(extra or {})
    return out


def execute(planner: Planner, cand: Candidate, inputs: list[np.ndarray] | None = None, runs: int = 5,
            emulate: str = "device", workdir=None, timeout: float | None = None, fault: dict | None = None) -> dict:
    """Runs the candidate's partitions in processes over loopback TCP; see the module docstring."""
    setup = prepare(planner, cand, emulate, inputs, timeout)
    plan = planner.profile.plan
    run_timeout = setup.timeout_s
    tmp = tempfile.TemporaryDirectory(prefix="tinyjit-exec-") if workdir is None else None
    root = Path(workdir or tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    first = 1 if setup.local_source else 0
    workers: list[Worker] = []
    sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    sink.settimeout(READY_TIMEOUT)
    src_sock = result = None
    ok = False
    try:
        for i in range(first, len(setup.parts)):
            path = root / f"part{i}-{setup.stages[i].device}.tjm"
            tjm.save(setup.parts[i], path)
            workers.append(Worker(i, setup.stages[i].device, path))
        for w in workers:   # all start (and compile) at once
            em = setup.emulations[w.index]
            cmd = [sys.executable, "-m", "tinyjit.deploy.worker", str(w.path), "--pace", repr(em.pace),
                   "--delay", repr(em.delay), "--bandwidth", repr(em.bandwidth),
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
        frames = [wire.encode(plan.tensors[i].name, x, plan.tensors[i].quant) for i, x in zip(plan.inputs, setup.inputs)]
        source = setup.emulations[0] if setup.local_source else None
        in_bytes = sum(x.nbytes for x in setup.inputs)

        def one_pass(calibrate: bool):
            t0 = time.perf_counter()
            # the sensor sends its raw input over its link (when it runs no step itself)
            wire.send_message(src_sock, frames, calibrate, source.deliver_at(t0, in_bytes) if source else t0)
            try:
                msg = wire.recv_message(result)
            except (wire.PeerClosed, socket.timeout, OSError, TinyJitError) as e:
                raise _failure(workers, e, run_timeout) from None
            if msg is None or msg.calibrate != calibrate:
                raise TinyJitError("the partitioned run answered out of turn; all partition processes were stopped")
            # the answer is here; the way back delivers it at not_before
            return max(time.perf_counter(), msg.not_before) - t0, msg.frames

        times, calibration, got = measure(one_pass, runs)
        wire.send_control(src_sock, wire.STOP)
        ok = True
    finally:
        for s in (src_sock, result, sink):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        _stop(workers, graceful=ok)
        if tmp is not None:
            tmp.cleanup()
    return summarize(setup, times, calibration, got, hops=len(workers) + 1,
                     extra={"runtime": "loopback TCP, one process per partition"})


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
    dead = sorted((w for w in workers if w.proc.poll() is not None), key=lambda w: w.proc.returncode == 0)
    if dead:            # a failed one first: the others may have ended because it did
        w = dead[0]
        tail = w.stderr_tail()
        return TinyJitError(f"{w.describe()} died with exit code {w.proc.returncode}"
                            + (f": {tail}" if tail else "") + "; all partition processes were stopped")
    if isinstance(e, socket.timeout):
        return TinyJitError(f"no answer within {timeout:.0f} s (a partition process hangs?); "
                            "all partition processes were stopped")
    return TinyJitError(f"the partitioned run failed: {e}; all partition processes were stopped")


def _stop(workers: list[Worker], graceful: bool = True) -> None:
    """Told to stop, workers exit by themselves (2 s at most, all together); after a failure, or
    when that time is up, they are terminated, then killed."""
    deadline = time.monotonic() + (2.0 if graceful else 0.0)
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
            try:
                w.proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                pass
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
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
