"""The model database: per step of a plan, what it computes and moves, and how long it takes.

For every step: MACs, weight bytes, activation bytes (read + written), output bytes, and the
bytes that a cut right after it must send (the live buffers crossing that cut). Latency per
device comes from one of three sources, and each figure says which:
- ``measured``: the device is this machine (``host``); every step is run alone through its
  Numba kernel on the plan's own arena, and the median of a few runs is kept;
- ``qemu``: a Cortex-M/RISC-V device with a tinyjit target, when asked for and the toolchains
  are installed: instructions per inference from `tinyjit.export` under QEMU, times the device's
  cycles per instruction, over its clock; spread over the steps in proportion to their
  roofline estimates (QEMU counts the whole inference);
- ``roofline``: max(MACs / MAC rate, bytes moved / bandwidth), the rate for int8 or float as
  the step computes, activations at the RAM bandwidth and weights at the weight bandwidth.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import TinyJitError
from ..plan import Plan
from .dataflow import Dataflow, analyze
from .devices import Device


@dataclass
class StepProfile:
    index: int
    node: str
    op: str
    dtype: str               # what the step computes in: "int8" or "float"
    macs: int
    weight_bytes: int
    activation_bytes: int
    output_bytes: int
    cut_bytes: int           # what a cut right after this step sends


@dataclass
class ModelProfile:
    plan: Plan
    dataflow: Dataflow
    steps: list[StepProfile]
    input_bytes: int
    latency: dict = field(default_factory=dict)     # device key -> list of seconds per step
    source: dict = field(default_factory=dict)      # device key -> "measured" | "qemu" | "roofline"
    notes: dict = field(default_factory=dict)       # device key -> why a source was not used

    def cut_bytes(self, k: int) -> int:
        """Bytes crossing a cut before step ``k`` (0: the inputs; n: the outputs)."""
        if k <= 0:
            return self.input_bytes
        return self.steps[k - 1].cut_bytes

    @property
    def output_bytes(self) -> int:
        return sum(self.plan.tensors[i].nbytes for i in self.plan.outputs)


def build(plan: Plan) -> ModelProfile:
    df = analyze(plan)
    n = len(plan.steps)
    steps = []
    for s, step in enumerate(plan.steps):
        tensors = plan.tensors
        weights = {a for a in step.args if tensors[a].location == "weights"}
        acts = set(df.reads[s]) | set(df.writes[s])
        dtype = "int8" if any(tensors[a].dtype in ("int8", "uint8") for a in df.reads[s]) else "float"
        out = sum(tensors[a].nbytes for a in set(df.writes[s])
                  if (buf := df.buffers[df.buffer_of[a]]).is_output or any(r > s for r in buf.readers))
        cut = sum(tensors[i].nbytes for i in plan.outputs) if s == n - 1 else df.crossing_bytes(s + 1)
        steps.append(StepProfile(s, step.node, step.op, dtype, int(step.macs),
                                 sum(tensors[a].nbytes for a in weights),
                                 sum(tensors[a].nbytes for a in acts), out, cut))
    input_bytes = sum(plan.tensors[i].nbytes for i in plan.inputs)
    return ModelProfile(plan, df, steps, input_bytes)


def roofline(step: StepProfile, device: Device) -> float:
    rate = device.int8_macs_per_s if step.dtype == "int8" else device.float_macs_per_s
    compute = step.macs / rate if rate > 0 else 0.0
    memory = step.activation_bytes / device.mem_bandwidth + step.weight_bytes / device.weight_bandwidth
    return max(compute, memory)


def add_device(profile: ModelProfile, device: Device, qemu: bool = False, repeat: int = 5) -> None:
    """Fills ``profile.latency[device.key]`` (seconds per step) and says where it came from."""
    if device.key in profile.latency:
        return
    if device.measured:
        profile.latency[device.key] = measure_host(profile.plan, repeat)
        profile.source[device.key] = "measured"
        return
    estimate = [roofline(s, device) for s in profile.steps]
    profile.latency[device.key] = estimate
    profile.source[device.key] = "roofline"
    if qemu and device.target not in ("", "x86_64", "generic"):   # the others have no MCU to emulate
        try:
            total = qemu_seconds(profile.plan, device)
        except TinyJitError as e:
            profile.notes[device.key] = f"QEMU not used: {e}"
            return
        scale = total / max(sum(estimate), 1e-30)
        profile.latency[device.key] = [t * scale for t in estimate]
        profile.source[device.key] = "qemu"


def qemu_seconds(plan: Plan, device: Device) -> float:
    """Instructions per inference under QEMU (tinyjit export + verify) x CPI / clock."""
    if not device.target or device.target in ("x86_64", "generic"):
        raise TinyJitError(f"{device.key} has no MCU target to export to")
    try:
        from ..export.project import export
        from ..export.verify import verify
    except ImportError as e:
        raise TinyJitError(f"tinyjit.export is not available ({e})") from None
    with tempfile.TemporaryDirectory(prefix="tinyjit-qemu-") as tmp:
        out = f"{tmp}/project"
        export(plan, device.target, out)
        report = verify(out)
    instructions = report.get("instructions")
    if not instructions:
        raise TinyJitError("QEMU reported no instruction count")
    return instructions * device.cpi / device.clock_hz


# measuring on this machine ---------------------------------------------------------------

class StepRunner:
    """Runs the steps of a plan one at a time through their Numba kernels (for timing)."""

    def __init__(self, plan: Plan):
        from .. import codegen
        from .. import registry
        from ..executor import aligned_empty
        self.plan = plan
        self.arena = aligned_empty(max(plan.arena_bytes, 1))
        self.arena[:] = 0
        weights = plan.weights if plan.weights.size else np.zeros(1, np.uint8)
        cache = {}
        self.calls = []
        for step in plan.steps:
            key = (step.kernel, tuple(sorted(step.schedule.items())))
            if key not in cache:
                cache[key] = codegen.load_kernel(registry.by_name(step.kernel), step.schedule)
            args = [self._view(weights if plan.tensors[a].location == "weights" else self.arena, a)
                    for a in step.args]
            self.calls.append((cache[key], args + [_scalar(p) for p in step.params]))

    def _view(self, buf, index):
        t = self.plan.tensors[index]
        shape = t.shape or (1,)
        return buf[t.offset:t.offset + t.nbytes].view(t.dtype).reshape(shape)

    def set_inputs(self, inputs):
        for i, x in zip(self.plan.inputs, inputs):
            self._view(self.arena, i).reshape(-1)[:] = np.asarray(x).reshape(-1)

    def run_step(self, s: int) -> None:
        fn, args = self.calls[s]
        fn(*args)


def _scalar(p):
    return int(p) if isinstance(p, (bool, np.bool_)) else p


def measure_host(plan: Plan, repeat: int = 5) -> list[float]:
    """Seconds of every step on this machine: the median of ``repeat`` runs of each step alone,
    scaled so that they add up to the median of whole-plan runs (one native call, as the
    executor runs it: calling kernels one by one from Python adds dispatch time)."""
    from ..executor import Executor
    runner = StepRunner(plan)
    rng = np.random.default_rng(0)
    inputs = []
    for i in plan.inputs:
        t = plan.tensors[i]
        if np.dtype(t.dtype).kind == "f":
            inputs.append(rng.standard_normal(t.shape).astype(t.dtype))
        else:
            info = np.iinfo(t.dtype) if np.dtype(t.dtype).kind in "iu" else None
            inputs.append(rng.integers(info.min if info else 0, (info.max if info else 1) + 1, t.shape).astype(t.dtype))
    times = [[] for _ in plan.steps]
    for r in range(repeat + 1):
        runner.set_inputs(inputs)
        for s in range(len(plan.steps)):
            t0 = time.perf_counter()
            runner.run_step(s)
            if r:
                times[s].append(time.perf_counter() - t0)
    per_step = [statistics.median(t) for t in times]
    executor = Executor(plan)
    executor.run(inputs)
    whole = []
    for _ in range(max(repeat, 3)):
        t0 = time.perf_counter()
        executor.run(inputs)
        whole.append(time.perf_counter() - t0)
    scale = statistics.median(whole) / max(sum(per_step), 1e-12)
    return [t * scale for t in per_step]
