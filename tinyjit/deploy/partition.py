"""Cutting a Plan into per-device partitions, each a valid Plan (and so a valid .tjm).

A partition runs steps [start, stop) of the whole plan. Its inputs are the buffers crossing the
cut before ``start`` (the model inputs for the first), its outputs the buffers crossing the cut
after ``stop`` (the model outputs for the last). It keeps only the weights its steps read,
re-packed, and gets its own arena planned from the lifetimes inside it, so its RAM and flash
figures are what a device running it needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import memory
from ..plan import WEIGHT_ALIGN, Plan, PlannedTensor, Step
from .dataflow import Dataflow, analyze


@dataclass
class Memory:
    ram_bytes: int       # the partition's arena (activations, scratch, its inputs and outputs)
    flash_bytes: int     # the weights its steps read, aligned as a .tjm stores them


def boundary(df: Dataflow, k: int) -> list[int]:
    """Plan tensor indices that carry the data across a cut before step ``k``."""
    plan = df.plan
    if k <= 0:
        return list(plan.inputs)
    if k >= len(plan.steps):
        return list(plan.outputs)
    return [df.representative(b) for b in df.crossing(k)]


def _arena(df: Dataflow, start: int, stop: int, ins: list[int], outs: list[int]):
    """Buffers used by steps [start, stop) with their local lifetimes; (size, {buffer: offset})."""
    n = stop - start
    spans: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}

    def touch(t: int, at: int):
        b = df.buffer_of[t]
        span = spans.setdefault(b, [at, at])
        span[0], span[1] = min(span[0], at), max(span[1], at)
        sizes[b] = max(sizes.get(b, 0), df.plan.tensors[t].nbytes)

    for t in ins:
        touch(t, -1)
    for s in range(start, stop):
        for t in df.reads[s] + df.writes[s]:
            touch(t, s - start)
    for t in outs:
        touch(t, n)
    order = list(spans)
    bufs = [memory.Buffer(sizes[b], *spans[b]) for b in order]
    size = memory.plan_arena(bufs)
    return size, {b: buf.offset for b, buf in zip(order, bufs)}


def _weights(df: Dataflow, start: int, stop: int) -> list[int]:
    seen, out = set(), []
    for s in range(start, stop):
        for a in df.plan.steps[s].args:
            if df.plan.tensors[a].location == "weights" and a not in seen:
                seen.add(a)
                out.append(a)
    return out


def memory_of(df: Dataflow, start: int, stop: int) -> Memory:
    ins, outs = boundary(df, start), boundary(df, stop)
    ram, _ = _arena(df, start, stop, ins, outs)
    flash = 0
    for t in _weights(df, start, stop):
        flash += (-flash) % WEIGHT_ALIGN + df.plan.tensors[t].nbytes
    return Memory(ram, flash)


def extract(df: Dataflow, start: int, stop: int, name: str | None = None) -> Plan:
    """Steps [start, stop) of the plan as a Plan of their own."""
    plan = df.plan
    ins, outs = boundary(df, start), boundary(df, stop)
    arena_bytes, offsets = _arena(df, start, stop, ins, outs)
    index: dict[int, int] = {}
    tensors: list[PlannedTensor] = []
    blob = bytearray()

    def add(t: int) -> int:
        if t in index:
            return index[t]
        pt = plan.tensors[t]
        if pt.location == "weights":
            blob.extend(b"\0" * ((-len(blob)) % WEIGHT_ALIGN))
            offset = len(blob)
            blob.extend(plan.weights[pt.offset:pt.offset + pt.nbytes].tobytes())
        else:
            offset = offsets[df.buffer_of[t]]
        index[t] = len(tensors)
        tensors.append(PlannedTensor(pt.name, pt.dtype, pt.shape, pt.location, offset, pt.nbytes, pt.quant))
        return index[t]

    for t in ins:
        add(t)
    steps = []
    for s in range(start, stop):
        st = plan.steps[s]
        steps.append(Step(st.op, st.node, st.kernel, [add(a) for a in st.args], list(st.params),
                          dict(st.schedule), st.macs, st.tuned))
    for t in outs:
        add(t)
    return Plan(tensors, steps, [index[t] for t in ins], [index[t] for t in outs], arena_bytes,
                np.frombuffer(bytes(blob), dtype=np.uint8), plan.target,
                name or f"{plan.name}[{start}:{stop}]")


def split(plan: Plan, cuts: list[int]) -> list[Plan]:
    """The plan cut before each step index in ``cuts`` (increasing): len(cuts) + 1 plans."""
    df = analyze(plan)
    bounds = [0, *cuts, len(plan.steps)]
    if any(b > c for b, c in zip(bounds, bounds[1:])):
        raise ValueError(f"cuts {cuts} must increase within 0..{len(plan.steps)}")
    return [extract(df, a, b, f"{plan.name}.part{i}") for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
