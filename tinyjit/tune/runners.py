"""Measurement runners: how one candidate schedule of a task is built, checked and measured.

A runner's ``measure(task, schedules)`` yields one ``Result`` per schedule, in order, as each
arrives (so an interrupted batch keeps its finished measurements). Before a
candidate's figure counts, its output is compared with the default schedule's on the same
inputs (integers bit for bit, floats within 1e-4 of the output's largest magnitude): a schedule
that computes something else is recorded with an error and can never win.

- ``HostRunner``: the Numba kernel on this machine. Compile, warm up, then repeated samples of
  enough calls to last ``min_sample`` seconds each; the figure is the median per-call time (the
  spread is the median absolute deviation), so a sample disturbed by another process does not
  move it. Unit: seconds per call.
- ``QemuRunner`` (MCU targets): the kernel lowered to C by tinyjit.export, run under QEMU with
  ``-icount``; the figure is the instruction count, which is deterministic. See qemu.py.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np

from .. import codegen

FLOAT_TOLERANCE = 1e-4


@dataclass
class Result:
    value: float | None          # None: the candidate failed (see error)
    error: str | None = None
    spread: float = 0.0          # median absolute deviation of the samples (host)
    samples: int = 0

    def as_dict(self) -> dict:
        return {"value": self.value, "error": self.error, "spread": self.spread, "samples": self.samples}


def compare(got: list[np.ndarray], want: list[np.ndarray]) -> str | None:
    """None if ``got`` matches the default schedule's outputs ``want``, else what differs."""
    for j, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"output {j} has shape {g.shape}, expected {w.shape}"
        if w.dtype.kind in "iub":
            bad = g != w
            if bad.any():
                i = tuple(int(v) for v in np.argwhere(bad)[0])
                return f"output {j} differs from the default schedule's at {i}: {g[i]!r} != {w[i]!r} " \
                       f"({int(bad.sum())} of {bad.size} elements)"
        else:
            g64, w64 = g.astype(np.float64), w.astype(np.float64)
            finite = np.isfinite(w64)
            if (np.isnan(g64) != np.isnan(w64)).any() or (~finite & (g64 != w64) & ~np.isnan(w64)).any():
                return f"output {j}: non-finite values where the default schedule has none (or the reverse)"
            scale = max(float(np.abs(w64[finite]).max()) if finite.any() else 0.0, 1e-30)
            err = float(np.abs(g64[finite] - w64[finite]).max()) / scale if finite.any() else 0.0
            if err > FLOAT_TOLERANCE:
                return f"output {j} differs from the default schedule's by {err:.2e} of its largest magnitude"
    return None


class HostRunner:
    """Times the Numba-compiled kernel of a task on this machine, one candidate at a time."""
    unit = "s"
    name = "host"
    deterministic = False

    def __init__(self, min_sample: float = 2e-3, repeats: int = 9, warmup: float = 0.02, seed: int = 0):
        self.min_sample = min_sample
        self.repeats = repeats
        self.warmup = warmup
        self.seed = seed
        self._refs: dict[str, list[np.ndarray]] = {}
        self._inputs: dict[str, dict] = {}
        self._done: dict[tuple, Result] = {}

    def _build(self, task, schedule: dict, poison: int):
        if task.id not in self._inputs:
            self._inputs[task.id] = task.inputs(self.seed)
        calls, outputs, effective = task.instance(schedule, self._inputs[task.id], poison=poison)
        fn = codegen.load_kernel(task.k, effective)
        return [(fn, args) for args in calls], outputs

    def reference(self, task) -> list[np.ndarray]:
        if task.id not in self._refs:
            pairs, outputs = self._build(task, task.default, poison=0)
            for fn, args in pairs:
                fn(*args)
            self._refs[task.id] = [o.copy() for o in outputs]
        return self._refs[task.id]

    def check(self, task, schedule: dict):
        """Build and run ``schedule`` once: (pairs to time, None) or (None, error)."""
        try:
            want = self.reference(task)
        except Exception as e:      # the kernel itself is broken: no candidate can be checked
            return None, f"the default schedule fails: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
        try:
            pairs, outputs = self._build(task, schedule, poison=1)
        except Exception as e:
            return None, f"prepare failed: {type(e).__name__}: {e}"
        try:
            for fn, args in pairs:
                fn(*args)
        except Exception as e:
            return None, f"compile or run failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
        return pairs, compare(outputs, want)

    def measure(self, task, schedules: list[dict]):
        """One Result per schedule, in order, each as soon as it is measured."""
        for s in schedules:
            yield self.measure_one(task, s)

    def measure_one(self, task, schedule: dict) -> Result:
        key = effective_key(task, schedule)
        if key is not None and key in self._done:     # the prepare made it a schedule measured already
            return self._done[key]
        pairs, error = self.check(task, schedule)
        result = Result(None, error) if error else time_calls(pairs, self.min_sample, self.repeats, self.warmup)
        if key is not None:
            self._done[key] = result
        return result

    def compare_interleaved(self, task, schedules: list[dict], rounds: int = 5) -> list[Result]:
        """The schedules timed in turns (A B C A B C ...), so that a slow spell of the machine
        hits all of them alike; for the final decision between the best candidates and the default."""
        built = []
        for s in schedules:
            pairs, error = self.check(task, s)
            built.append((pairs, error))
        samples: list[list[float]] = [[] for _ in schedules]
        for _ in range(rounds):
            for i, (pairs, error) in enumerate(built):
                if error is None:
                    r = time_calls(pairs, self.min_sample, 3, self.warmup / 4)
                    samples[i].append(r.value)
        out = []
        for (pairs, error), xs in zip(built, samples):
            if error:
                out.append(Result(None, error))
            else:
                med = float(np.median(xs))
                out.append(Result(med, None, float(np.median(np.abs(np.array(xs) - med))), len(xs)))
        return out


def effective_key(task, schedule: dict):
    """(task, the schedule the kernel is compiled with): two knob settings a prepare maps to one
    compiled kernel are one measurement. None if the prepare fails (measure_one reports it)."""
    try:
        return (task.id, tuple(sorted(task.effective(schedule).items())))
    except Exception:
        return None


def _run(pairs, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        for fn, args in pairs:
            fn(*args)
    return time.perf_counter() - t0


def time_calls(pairs, min_sample: float, repeats: int, warmup: float) -> Result:
    """Median seconds per call of ``pairs`` over ``repeats`` samples of at least ``min_sample`` s."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        one = max(_run(pairs, 1), 1e-7)
        number = max(1, int(min_sample / one))
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            _run(pairs, number)
        xs = np.array([_run(pairs, number) / number for _ in range(repeats)])
    finally:
        if gc_was:
            gc.enable()
    med = float(np.median(xs))
    return Result(med, None, float(np.median(np.abs(xs - med))), repeats * number)
