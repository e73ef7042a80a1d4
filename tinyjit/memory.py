"""Static arena planning from buffer lifetimes.

Each buffer lives from the step that writes it to the last step that reads it. Buffers whose
lifetimes overlap must not overlap in memory. We place buffers greedily, trying several
orders (TFLM's greedy-by-size is one of them) and keep the smallest arena: never worse than
TFLM's planner, often better.
"""
from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass
class Buffer:
    size: int
    first: int   # first step index that needs it (inputs: -1)
    last: int    # last step index that needs it (outputs: number of steps)
    offset: int = -1


def _align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def _overlaps(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _place(buffers: list[Buffer], order: list[int]) -> tuple[int, list[int]]:
    placed: list[Buffer] = []
    offsets = [0] * len(buffers)
    for i in order:
        b = buffers[i]
        size = _align(b.size)
        busy = sorted((p.offset, p.offset + _align(p.size)) for p in placed if _overlaps(p, b))
        offset = 0
        for start, end in busy:   # first gap big enough (busy is sorted by start)
            if offset + size <= start:
                break
            offset = max(offset, end)
        placed.append(Buffer(b.size, b.first, b.last, offset))
        offsets[i] = offset
    top = max((o + _align(buffers[i].size) for i, o in enumerate(offsets)), default=0)
    return top, offsets


def plan_arena(buffers: list[Buffer]) -> int:
    """Sets ``offset`` of every buffer; returns the arena size in bytes."""
    n = len(buffers)
    orders = [
        sorted(range(n), key=lambda i: (-buffers[i].size, buffers[i].first)),           # TFLM
        sorted(range(n), key=lambda i: (buffers[i].first, -buffers[i].size)),           # by birth
        sorted(range(n), key=lambda i: (-(buffers[i].last - buffers[i].first), -buffers[i].size)),
        sorted(range(n), key=lambda i: (-buffers[i].size * (buffers[i].last - buffers[i].first + 1))),
    ]
    best = None
    for order in orders:
        top, offsets = _place(buffers, order)
        if best is None or top < best[0]:
            best = (top, offsets)
    top, offsets = best
    for b, o in zip(buffers, offsets):
        b.offset = o
    return top


def live_set_lower_bound(buffers: list[Buffer]) -> int:
    """No plan can beat the largest sum of sizes alive at one step."""
    if not buffers:
        return 0
    steps = range(min(b.first for b in buffers), max(b.last for b in buffers) + 1)
    return max(sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps)
