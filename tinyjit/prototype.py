"""Kernel prototyping: test a kernel against its reference and time its schedules.

Used by ``tinyjit kernel test|bench`` for users' kernels and built-in ones alike: a kernel with
``@k.shape`` and ``@k.reference`` (and the ``def k(inputs..., outputs..., q, S)`` convention)
is checked on random shapes and values, edge values included, under every schedule.
"""
from __future__ import annotations

import inspect
import itertools
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import codegen
from .errors import TinyJitError
from .registry import Kernel


class KernelTestFailure(TinyJitError):
    """The kernel disagrees with its reference (or its shape function with either)."""


def schedules(k: Kernel) -> list[dict]:
    names = list(k.schedule_space)
    return [dict(zip(names, values)) for values in itertools.product(*(k.schedule_space[n] for n in names))]


def _inputs_count(k: Kernel) -> int:
    if k.reference_fn is None:
        raise TinyJitError(f"kernel {k.name} has no @{k.name}.reference: nothing to test against")
    return len([p for p in inspect.signature(k.reference_fn).parameters if p not in ("q", "S")])


def _random_values(rng, dtype: np.dtype, shape: tuple, zero_point: int) -> np.ndarray:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(info.min), -(1 << 15)), min(int(info.max), 1 << 15)
        x = rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
        edges = [info.min, info.max, 0, zero_point, zero_point + 1, zero_point - 1]
        flat = x.reshape(-1)
        flat[: min(len(edges), flat.size)] = [int(np.clip(e, info.min, info.max)) for e in edges][: flat.size]
        return x.astype(dtype)
    x = rng.standard_normal(shape) * 4
    flat = x.reshape(-1)
    flat[: min(3, flat.size)] = [0.0, -0.0, 1e-3][: flat.size]
    return x.astype(dtype)


def _quant(rng, names: list[str], dtype: np.dtype) -> SimpleNamespace:
    fields = {}
    for name in names:
        fields[f"{name}_scale"] = float(rng.uniform(0.01, 0.2)) if dtype.kind in "iu" else 1.0
        fields[f"{name}_zero_point"] = int(rng.integers(-20, 21)) if dtype.kind == "i" else 0
    return SimpleNamespace(**fields)


def _shapes(rng, trials: int):
    yield (1,)
    yield (17,)                # odd length: every unroll has a tail
    yield (2, 3, 5, 7)
    for _ in range(trials):
        rank = int(rng.integers(1, 5))
        yield tuple(int(d) for d in rng.integers(1, 10, size=rank))


def check_subset(k: Kernel) -> None:
    """Lower the kernel to C under every schedule, on the sample graph, as `tinyjit export` would: a
    construct outside the kernel subset raises the lowering's own error (file, line, construct)."""
    from . import plan as planner
    from .export import lower, project
    p = planner.build(sample_graph(k), "generic")
    step = p.steps[0]
    lowering = lower.KernelLowering()
    for sched in (schedules(k) if k._prepare is None else [step.schedule]):
        lowering.lower_call(k, sched, project.step_args(p, step, k), "kernel")


def check(k: Kernel, trials: int = 10, seed: int = 0, save_dir: str | None = None) -> list[str]:
    """Check the kernel is in the kernel subset, then run it under every schedule on random inputs;
    raises KernelTestFailure on the first disagreement, after saving the inputs to an .npz. Returns
    one summary line per dtype/schedule."""
    n_in = _inputs_count(k)
    check_subset(k)
    tensor_names = k.tensor_params
    lines = []
    for dtype in map(np.dtype, k.dtypes):
        for sched in schedules(k):
            fn = codegen.load_kernel(k, sched)
            rng = np.random.default_rng(seed)
            count = 0
            for shape in _shapes(rng, trials):
                q = _quant(rng, tensor_names, dtype)
                inputs = [_random_values(rng, dtype, shape, getattr(q, f"{n}_zero_point"))
                          for n in tensor_names[:n_in]]
                ref_args = inputs + ([q] if "q" in inspect.signature(k.reference_fn).parameters else [])
                expected = k.reference_fn(*ref_args)
                expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
                declared = k.shape_fn(*[x.shape for x in inputs], {}) if k.shape_fn else expected[0].shape
                declared = [declared] if not declared or isinstance(declared[0], (int, np.integer)) else declared
                for d, e in zip(declared, expected):
                    if tuple(d) != e.shape:
                        raise KernelTestFailure(f"{k.name}: the shape function gives {tuple(d)} for inputs of "
                                                f"shape {shape} but the reference returns {e.shape}")
                outputs = [np.zeros(e.shape, e.dtype) for e in expected]
                fn(*inputs, *outputs, *[getattr(q, f) for f in k.quant_fields()])
                for j, (got, want) in enumerate(zip(outputs, expected)):
                    _compare(k, sched, dtype, shape, j, got, want, inputs, q, save_dir)
                count += 1
            lines.append(f"{k.name} {dtype.name} {sched or '(no knobs)'}: {count} cases match")
    return lines


def _compare(k, sched, dtype, shape, j, got, want, inputs, q, save_dir):
    if want.dtype.kind in "iub":
        bad = got != want
    else:
        bad = ~np.isclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    folder = Path(save_dir or tempfile.mkdtemp(prefix="tinyjit-kernel-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{k.name}_failure.npz"
    np.savez(path, **{f"input{i}": x for i, x in enumerate(inputs)}, expected=want, got=got,
             **{f"q_{name}": value for name, value in vars(q).items()})
    raise KernelTestFailure(
        f"{k.name} ({dtype.name}, schedule {sched}, input shape {shape}): output {j} differs from the "
        f"reference at index {index}: expected {want[index]!r}, got {got[index]!r} "
        f"({int(bad.sum())} of {bad.size} elements differ); inputs saved to {path}")


def bench(k: Kernel, shape=(1, 64, 64, 16), repeat: int = 200, seed: int = 0) -> list[dict]:
    """Median time and G elements/s (or the kernel's own op count) per schedule on this machine."""
    n_in = _inputs_count(k)
    dtype = np.dtype(k.dtypes[0])
    rng = np.random.default_rng(seed)
    q = _quant(rng, k.tensor_params, dtype)
    inputs = [_random_values(rng, dtype, shape, 0) for _ in range(n_in)]
    declared = k.shape_fn(*[x.shape for x in inputs], {}) if k.shape_fn else shape
    declared = [declared] if not declared or isinstance(declared[0], (int, np.integer)) else declared
    outputs = [np.zeros(tuple(d), dtype) for d in declared]
    ops = sum(o.size for o in outputs)
    rows = []
    for sched in schedules(k):
        fn = codegen.load_kernel(k, sched)
        args = [*inputs, *outputs, *[getattr(q, f) for f in k.quant_fields()]]
        fn(*args)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t)
        median = float(np.median(times))
        rows.append({"schedule": sched, "median_us": median * 1e6, "gops": ops / median / 1e9})
    return rows


def sample_graph(k: Kernel, shape=(1, 64)):
    """A one-node graph of the kernel's op at a representative shape (with quantization for ints)."""
    from .ir import Graph, Node, Quant, Tensor
    n_in = _inputs_count(k)
    dtype = np.dtype(k.dtypes[0])
    names = k.tensor_params
    declared = k.shape_fn(*[tuple(shape)] * n_in, {}) if k.shape_fn else shape
    declared = [declared] if not declared or isinstance(declared[0], (int, np.integer)) else declared
    n_out = len(declared)
    tensors = {}
    for j, name in enumerate(names[:n_in + n_out]):
        quant = (Quant(np.array([0.05 + 0.01 * j]), np.array([3 - 2 * j]), None) if dtype.kind in "iu" else None)
        tensors[name] = Tensor(name, dtype, tuple(shape) if j < n_in else tuple(declared[j - n_in]), quant=quant)
    node = Node(k.op, f"{k.op}_0", names[:n_in], names[n_in:n_in + n_out], {}, k.domain)
    return Graph(tensors, [node], names[:n_in], names[n_in:n_in + n_out], f"{k.name}_sample")


def show_c(k: Kernel, target: str, shape=(1, 64)) -> str:
    """The C that `tinyjit export` would write for this kernel (default schedule) on ``target``."""
    from . import plan as planner
    from . import targets
    from .export.project import LoweredPlan
    p = planner.build(sample_graph(k, shape), target)
    t = targets.get(target)
    lowered = LoweredPlan(p, t)
    stubs = " + ".join([t.stub, *lowered.user_includes])
    header = f"/* {k.name} lowered for {target} (stub headers {stubs}); called on shape {tuple(shape)} */"
    return "\n\n".join([header, *lowered.kl.helper_defs.values(), *lowered.functions])


def count_instructions(k: Kernel, target: str, shape=(1, 256)) -> list[dict]:
    """Instructions per call under QEMU for every schedule (the tuner's QEMU runner)."""
    from .tune.qemu import QemuRunner
    from .tune.task import Task
    graph = sample_graph(k, shape)
    # a task of its own (the tuner's extract skips kernels without knobs: nothing to tune)
    task = Task(k.name, f"kernel-bench {tuple(shape)}", graph, target, k.default_schedule(),
                nodes=[graph.nodes[0].name], kernel_file=inspect.getsourcefile(k.fn))
    runner = QemuRunner(target)
    rows = []
    for sched, result in zip(schedules(k), runner.measure(task, schedules(k))):
        if result.error:
            raise KernelTestFailure(f"{k.name} {sched} on {target}: {result.error}")
        rows.append({"schedule": sched, "instructions": int(result.value)})
    return rows
