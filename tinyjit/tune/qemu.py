"""The QEMU runner: instruction counts of a candidate's lowered C on an MCU target.

For each candidate the layer becomes a one-node Plan (Task.plan: the kernel's prepare run with
that schedule, so the packing is the schedule's), which tinyjit.export writes as a C project
(kernel lowered from its Python source, the target's asm stubs, the emulator harness); the
project is cross-compiled and run under QEMU with ``-icount``, on the same seeded inputs the
host runner uses. The figure is the instruction count of ``model_run()`` as the harness reports
it (deterministic: the same candidate always gives the same count, so measurements parallelize
perfectly and a seeded search repeats exactly). The output is compared with the default
schedule's output from the Numba kernel first: a candidate whose C computes something else is
recorded with an error.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..errors import TinyJitError
from .runners import HostRunner, Result, compare, effective_key


def _export_modules():
    try:
        from ..export import export
        from ..export.verify import build, check_tools, run_elf
    except ImportError as e:
        raise TinyJitError(f"measuring on an MCU target needs the C export (tinyjit.export), which this "
                           f"install cannot import ({e})") from None
    return export, build, check_tools, run_elf


_PYTHON_SIDE = threading.Lock()


class QemuRunner:
    unit = "instructions"
    name = "qemu"
    deterministic = True

    def __init__(self, target: str, seed: int = 0, workdir: str | None = None, keep: bool = False,
                 jobs: int | None = None):
        from .. import targets
        self.target = target
        self.t = targets.get(target)
        if self.t.native:
            raise TinyJitError(f"target {target} runs natively: measure it with the host runner")
        export, build, check_tools, run_elf = _export_modules()
        check_tools(self.t)                         # names the Debian package of a missing tool
        self.seed = seed
        self.keep = keep
        self.jobs = jobs or cpu_count()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"tinyjit-tune-{target}-"))
        self._host = HostRunner(seed=seed)          # the reference outputs (Numba, default schedule)
        self._done: dict[tuple, Result] = {}
        self._lock = threading.Lock()

    def __reduce__(self):       # Ray ships the settings; each worker process keeps one runner
        return (_worker_runner, (self.target, self.seed, self.keep))

    def measure(self, task, schedules: list[dict]):
        """Candidates built and run in parallel threads (compilers and QEMU are processes): the
        counts do not depend on how busy the machine is."""
        if self.jobs <= 1 or len(schedules) <= 1:
            for s in schedules:
                yield self.measure_one(task, s)
            return
        from concurrent.futures import ThreadPoolExecutor
        try:
            self._host.reference(task)           # once, before the threads share it
        except Exception:
            pass                                 # measure_one reports it per candidate
        pool = ThreadPoolExecutor(min(self.jobs, len(schedules)))
        try:
            yield from pool.map(lambda s: self.measure_one(task, s), schedules)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def compare_interleaved(self, task, schedules, rounds: int = 1):
        return list(self.measure(task, schedules))

    def measure_one(self, task, schedule: dict) -> Result:
        with _PYTHON_SIDE:
            key = effective_key(task, schedule)
        with self._lock:
            if key is not None and key in self._done:   # the prepare made it a schedule counted already
                return self._done[key]
        result = self._measure(task, schedule)
        if key is not None:
            with self._lock:
                self._done[key] = result
        return result

    def _measure(self, task, schedule: dict) -> Result:
        export, build, _, run_elf = _export_modules()
        try:
            want = self._host.reference(task)
        except Exception as e:
            return Result(None, f"the default schedule fails: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
        inputs = self._host._inputs[task.id]
        tag = hashlib.sha256(json.dumps([task.id, schedule], sort_keys=True).encode()).hexdigest()[:12]
        out = self.workdir / f"{task.kernel}-{tag}"
        try:
            # Python work (prepare, lowering with Numba's typing) one thread at a time: it holds
            # the GIL anyway, and Numba's compiler lock with the import lock in two threads can
            # deadlock. The compilers and QEMU, separate processes, run in parallel.
            with _PYTHON_SIDE:
                try:
                    plan = task.plan(schedule)
                except Exception as e:
                    return Result(None, f"prepare failed: {type(e).__name__}: {e}")
                try:
                    export(plan, self.target, out)
                except Exception as e:
                    return Result(None, f"does not lower to C: {' '.join(str(e).split())[:300]}")
            try:
                build(out, self.t)
            except TinyJitError as e:
                return Result(None, f"does not build: {' '.join(str(e).split())[-300:]}")
            build_dir = out / "build"
            (build_dir / "input.bin").write_bytes(b"".join(
                np.ascontiguousarray(inputs[plan.tensors[i].name.split("@")[0]]).tobytes() for i in plan.inputs))
            try:
                stats = run_elf(out, self.t)
            except TinyJitError as e:
                return Result(None, f"failed under QEMU: {' '.join(str(e).split())[-300:]}")
            raw = (build_dir / "output.bin").read_bytes() if (build_dir / "output.bin").is_file() else b""
            got, pos = [], 0
            for i in plan.outputs:
                t = plan.tensors[i]
                got.append(np.frombuffer(raw[pos:pos + t.nbytes], dtype=t.dtype).reshape(t.shape)
                           if len(raw) >= pos + t.nbytes else np.zeros(0, t.dtype))
                pos += t.nbytes
            error = compare(got, want)
            if error:
                return Result(None, f"C output: {error}")
            if not stats.get("instructions"):
                return Result(None, "the harness reported no instruction count")
            return Result(float(stats["instructions"]), None, 0.0, 1)
        finally:
            if not self.keep:
                shutil.rmtree(out, ignore_errors=True)

    def close(self):
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_WORKER_RUNNERS: dict[tuple, QemuRunner] = {}


def _worker_runner(target: str, seed: int, keep: bool) -> QemuRunner:
    """The runner of this (Ray worker) process: one candidate per Ray task, so Ray fills the cores."""
    key = (target, seed, keep)
    if key not in _WORKER_RUNNERS:
        _WORKER_RUNNERS[key] = QemuRunner(target, seed, keep=keep, jobs=1)
    return _WORKER_RUNNERS[key]
