"""Runs a Plan: one arena allocated once, one native call per inference."""
from __future__ import annotations

import numpy as np

from . import codegen
from .plan import Plan

ARENA_ALIGN = 64


def aligned_empty(nbytes: int, align: int = ARENA_ALIGN) -> np.ndarray:
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]


class Executor:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.arena = aligned_empty(max(plan.arena_bytes, 1))
        self.weights = plan.weights if plan.weights.size else np.zeros(1, np.uint8)
        self._run = codegen.load_plan(plan)
        self.out_specs = [(tuple(plan.tensors[i].shape), np.dtype(plan.tensors[i].dtype)) for i in plan.outputs]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """``inputs`` must already match the plan's shapes and dtypes, C-contiguous."""
        outputs = [np.empty(shape, dtype) for shape, dtype in self.out_specs]
        self._run(self.arena, self.weights, *inputs, *outputs)
        return outputs
