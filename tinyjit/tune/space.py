"""The search space of one layer: a kernel's schedule knobs, minus what cannot pay off or fit.

The knobs and their allowed values come from the kernel (``@kernel(schedule={...})``); the
baseline is the schedule ``tinyjit convert`` would pick without tuned records (the kernel's first
choices overlaid with ``schedules/<target>.toml``). A candidate is dropped when:

- a tile is larger than the dimension it tiles while a smaller allowed tile already covers that
  dimension (all the extra work would be masked off: same result, more work);
- its register tile (MR x NR accumulators, plus one register for the weights and one for the
  broadcast input) needs more than SPILL_FACTOR times the target's register file. Not 1x: the
  kernels keep the tile in a local array, and on Cortex-M4 tiles that spill (6x32 floats in 32
  FP registers) counted 14-15% fewer instructions under QEMU than the best tile that fits
  (docs/tuning.md), so the register file is a feature the cost model weighs, and only absurd
  tiles are cut;
- on targets with a memory budget (MCUs), its packed weights push the model over the flash size
  or its scratch buffers push the arena over the RAM size (``Budget``; figures from
  tinyjit/targets.py);
- a kernel-specific rule registered with ``@constraint("kernel_name")`` says so.

The default schedule is always in the space: it is the baseline every candidate is checked and
timed against. Knob roles are read from knob names (MR/NR: register tile rows over output
pixels and columns over output channels; ``<DIM>_TILE``: a tile over DIM), so a new kernel gets
the generic rules by naming its knobs that way, and anything else through ``@constraint``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

_CONSTRAINTS: dict[str, list[Callable]] = {}
ENUMERATE_LIMIT = 200_000     # spaces up to this many points are listed; larger ones are only sampled
SPILL_FACTOR = 8              # register tiles up to this many register files are tried (see above)


def constraint(kernel_name: str):
    """Register ``fn(schedule, node, graph, budget) -> str | None`` (a reason to drop, or None)."""
    def register(fn):
        _CONSTRAINTS.setdefault(kernel_name, []).append(fn)
        return fn
    return register


@dataclass(frozen=True)
class Budget:
    """What a target offers a kernel's schedule: registers for the accumulator tile, memory."""
    vector_registers: int       # registers that can hold accumulators
    lanes32: int                # 32-bit accumulators per register
    flash_bytes: int = 0        # 0: no limit (the host)
    ram_bytes: int = 0


@lru_cache(maxsize=None)
def _host_budget() -> Budget:
    try:
        import llvmlite.binding as ll
        features = {k for k, v in ll.get_host_cpu_features().items() if v}
    except Exception:   # pragma: no cover - llvmlite always comes with numba
        features = set()
    if "avx512f" in features:
        return Budget(32, 16)
    if "avx2" in features or "avx" in features:
        return Budget(16, 8)
    return Budget(16, 4)


def budget(target: str) -> Budget:
    """The register and memory budget of ``target`` (the host's own when the target runs natively)."""
    try:
        from .. import targets
        t = targets.TARGETS.get(target)
    except ImportError:   # the target descriptions are not there: budget of the host only
        t = None
    if t is None or t.native:
        return _host_budget()
    features = set(t.features)
    if t.vector_bits and "mve" in features:
        regs, lanes = 8, t.vector_bits // 32             # Helium: 8 Q registers
    elif t.vector_bits:
        regs, lanes = 32, t.vector_bits // 32            # RISC-V V: 32 vector registers
    elif any(f.startswith("fp") for f in features):
        regs, lanes = 32, 1                              # the FPU's 32 single-precision registers
    else:
        regs, lanes = t.registers, 1
    return Budget(regs, max(lanes, 1), t.flash_bytes, t.ram_bytes)


def layer_dims(node, graph) -> dict[str, int]:
    """The dimensions a tile knob can tile: output pixels, channels, and GEMM's M, N, K."""
    dims: dict[str, int] = {}
    out = graph.tensors[node.outputs[0]].shape if node.outputs else ()
    x = graph.tensors[node.inputs[0]].shape if node.inputs and node.inputs[0] else ()
    if len(out) == 4:                                   # NHWC
        dims.update(OH=out[1], OW=out[2], OC=out[3], CO=out[3], N=out[3], M=out[1] * out[2])
        if len(x) == 4:
            dims.update(IC=x[3], CI=x[3])
            group = int(node.attrs.get("group", 1)) if node.op == "Conv" else 1   # channels per group
            dims["OC"] = dims["CO"] = dims["N"] = out[3] // max(group, 1)
        w = graph.tensors.get(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
        if (w is not None and len(w.shape) == 4 and tuple(w.shape[1:3]) == (1, 1)
                and tuple(node.attrs.get("strides", (1, 1))) == (1, 1) and not any(node.attrs.get("pads", ()))):
            dims["PIX"] = out[1] * out[2]              # a 1x1 stride-1 conv is a GEMM over all pixels
    elif len(out) == 2:                                 # Gemm / MatMul: [M, N]
        dims.update(M=out[0], N=out[1], OC=out[1], CO=out[1])
        if len(x) == 2:
            dims.update(K=x[1], IC=x[1], CI=x[1])
    elif out:
        dims["N"] = int(np.prod(out))
    return dims


def tiled_dim(knob: str, dims: dict, node) -> int | None:
    """The size of the dimension ``knob`` tiles, or None if its name does not say."""
    if knob == "NR":
        return dims.get("OC")
    if knob == "MR":
        return dims.get("PIX", dims.get("OW", dims.get("M")))
    if knob.endswith("_TILE"):
        return dims.get(knob[:-5])
    return None


class SearchSpace:
    """The valid schedules of one kernel on one layer: enumerable, sampleable, featurized."""

    def __init__(self, kernel, node, graph, target: str, default: dict, footprint: Callable | None = None,
                 memory: tuple[int, int] = (0, 0), constrained: bool = True):
        """``footprint(schedule) -> (packed weight bytes, scratch bytes)`` of the layer; ``memory`` is
        the model's (weight bytes, arena bytes) with default schedules everywhere."""
        self.kernel = kernel
        self.node, self.graph = node, graph
        self.knobs = list(kernel.schedule_space)
        self.values = {k: tuple(kernel.schedule_space[k]) for k in self.knobs}
        self.default = {k: default.get(k, self.values[k][0]) for k in self.knobs}
        self.budget = budget(target)
        self.dims = layer_dims(node, graph)
        self.footprint = footprint
        self.memory = memory
        self.constrained = constrained
        self._base_footprint = None
        self._reasons: dict[tuple, str | None] = {}
        self._features: dict[tuple, np.ndarray] = {}
        self._all: list[dict] | None = None

    # ---------------------------------------------------------------------------------------
    def key(self, schedule: dict) -> tuple:
        return tuple(schedule[k] for k in self.knobs)

    def from_key(self, key) -> dict:
        return dict(zip(self.knobs, key))

    @property
    def raw_size(self) -> int:
        return math.prod(len(v) for v in self.values.values())

    def why_invalid(self, schedule: dict) -> str | None:
        """Why ``schedule`` is left out of the space, or None if it is in."""
        key = self.key(schedule)
        if key not in self._reasons:
            self._reasons[key] = self._check(schedule)
        return self._reasons[key]

    def _check(self, s: dict) -> str | None:
        for k in self.knobs:
            if s[k] not in self.values[k]:
                return f"{k}={s[k]!r} is not an allowed value {self.values[k]}"
        if s == self.default or not self.constrained:
            return None
        for k in self.knobs:
            dim = tiled_dim(k, self.dims, self.node)
            v = s[k]
            if dim and isinstance(v, int) and v > dim and any(
                    isinstance(u, int) and dim <= u < v for u in self.values[k]):
                return f"{k}={v} over a dimension of {dim}: a smaller tile covers it"
        if "MR" in s and "NR" in s and all(isinstance(s[k], int) for k in ("MR", "NR")):
            b = self.budget
            need = math.ceil(s["MR"] * s["NR"] / b.lanes32) + 2
            if need > SPILL_FACTOR * b.vector_registers:
                return (f"MR x NR = {s['MR']}x{s['NR']} needs {need} registers, more than {SPILL_FACTOR}x the "
                        f"target's {b.vector_registers}")
        for fn in _CONSTRAINTS.get(self.kernel.name, ()):
            reason = fn(s, self.node, self.graph, self.budget)
            if reason:
                return reason
        if self.footprint is not None and (self.budget.flash_bytes or self.budget.ram_bytes):
            return self._check_memory(s)
        return None

    def _check_memory(self, s: dict) -> str | None:
        if self._base_footprint is None:
            self._base_footprint = self.footprint(self.default)
        weights, scratch = self.footprint(s)
        w0, s0 = self._base_footprint
        model_weights, model_arena = self.memory
        b = self.budget
        if b.flash_bytes and model_weights - w0 + weights > b.flash_bytes:
            return f"packed weights {weights:,} B take the model over {b.flash_bytes:,} B of flash"
        if b.ram_bytes and model_arena - s0 + scratch > b.ram_bytes:
            return f"scratch {scratch:,} B takes the arena over {b.ram_bytes:,} B of RAM"
        return None

    # ---------------------------------------------------------------------------------------
    def enumerate(self) -> list[dict]:
        """Every valid schedule, the default first (spaces up to ENUMERATE_LIMIT points)."""
        if self._all is None:
            if self.raw_size > ENUMERATE_LIMIT:
                raise ValueError(f"{self.raw_size:,} points: too many to list, sample instead")
            points = [self.from_key(k) for k in itertools.product(*(self.values[n] for n in self.knobs))]
            valid = [p for p in points if p != self.default and self.why_invalid(p) is None]
            self._all = [dict(self.default)] + valid
        return list(self._all)

    @property
    def size(self) -> int:
        return len(self.enumerate()) if self.raw_size <= ENUMERATE_LIMIT else self.raw_size

    def sample(self, rng, tries: int = 1000) -> dict | None:
        """A uniformly drawn valid schedule (None if rejection sampling finds none)."""
        if self.raw_size <= ENUMERATE_LIMIT:
            pts = self.enumerate()
            return dict(pts[int(rng.integers(len(pts)))])
        for _ in range(tries):
            s = {k: self.values[k][int(rng.integers(len(self.values[k])))] for k in self.knobs}
            if self.why_invalid(s) is None:
                return s
        return None

    def mutate(self, schedule: dict, rng, tries: int = 50) -> dict | None:
        """``schedule`` with one knob changed to another allowed value, still valid."""
        movable = [k for k in self.knobs if len(self.values[k]) > 1]
        for _ in range(tries if movable else 0):
            k = movable[int(rng.integers(len(movable)))]
            choices = [v for v in self.values[k] if v != schedule[k]]
            s = dict(schedule, **{k: choices[int(rng.integers(len(choices)))]})
            if self.why_invalid(s) is None:
                return s
        return None

    def crossover(self, a: dict, b: dict, rng) -> dict | None:
        s = {k: (a[k] if rng.random() < 0.5 else b[k]) for k in self.knobs}
        return s if self.why_invalid(s) is None else None

    # ---------------------------------------------------------------------------------------
    def features(self, schedule: dict) -> np.ndarray:
        """Numbers a cost model can learn from: each knob (log2 of a positive int, else one-hot),
        and for tile knobs the fraction of work wasted on the last, partial tile."""
        key = self.key(schedule)
        if key not in self._features:
            self._features[key] = self._featurize(schedule)
        return self._features[key]

    def layer_features(self) -> np.ndarray:
        """log2 of the layer's dimensions: what lets a cost model carry over between layers."""
        return np.array([math.log2(max(self.dims[k], 1)) for k in sorted(self.dims)], dtype=np.float64)

    def _featurize(self, schedule: dict) -> np.ndarray:
        f: list[float] = []
        for k in self.knobs:
            vals, v = self.values[k], schedule[k]
            if all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in vals):
                f.append(math.log2(v))
                dim = tiled_dim(k, self.dims, self.node)
                if dim:
                    f.append(math.ceil(dim / v) * v / dim)
            else:
                f.extend(1.0 if v == u else 0.0 for u in vals)
        if "MR" in schedule and "NR" in schedule and all(isinstance(schedule[k], int) for k in ("MR", "NR")):
            f.append(schedule["MR"] * schedule["NR"] / (self.budget.lanes32 * self.budget.vector_registers))
        return np.asarray(f, dtype=np.float64)
