"""What each step of a Plan reads and writes, and what crosses a cut between two steps.

A Plan stores a step's tensors as one list of arguments; which of them the kernel writes is
found once per kernel from its source (kernels are in the small kernel subset, so an argument
is written exactly where it appears, maybe through a local view or a helper, as the target of a
subscript assignment). Tensors that share memory in the arena are grouped into *buffers*:
reshaped views (``x@1x256``), outputs of reshapes (no step, same offset as their source) and
in-place outputs. A cut between steps k-1 and k must carry every buffer written before k (or
given as a model input) and read at or after k (or returned as a model output).
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache

from .. import registry as kernel_registry
from ..plan import Plan

def _base_name(expr) -> str | None:
    """``y`` for y, y[i], y.reshape(-1)[:], y[a:b].view(...)."""
    while True:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, (ast.Subscript, ast.Attribute)):
            expr = expr.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            expr = expr.func.value
        else:
            return None


def _function_def(fn) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return tree.body[0]


def _written(fn, helpers: dict, seen: tuple = ()) -> frozenset[int]:
    """Positions of ``fn``'s parameters that its body (or a helper it calls) assigns into."""
    fdef = _function_def(fn)
    params = [a.arg for a in fdef.args.args]
    alias = {p: p for p in params}          # local name -> the parameter whose memory it shows
    nodes = list(ast.walk(fdef))
    for node in nodes:                      # row = y[n] makes row a view of y
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            base = _base_name(node.value)
            if base in alias and not isinstance(node.value, ast.Name) or base in params:
                alias[node.targets[0].id] = alias[base]
    written: set[str] = set()
    for node in nodes:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store):
                    base = _base_name(sub)
                    if base in alias:
                        written.add(alias[base])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
            callee = helpers[node.func.id]
            if callee in seen:
                continue
            for pos in _written(callee, helpers, seen + (callee,)):
                if pos < len(node.args):
                    base = _base_name(node.args[pos])
                    if base in alias:
                        written.add(alias[base])
    return frozenset(i for i, p in enumerate(params) if p in written)


@lru_cache(maxsize=None)
def written_args(kernel_name: str) -> frozenset[int]:
    """Argument positions the kernel ``kernel_name`` writes."""
    k = kernel_registry.by_name(kernel_name)
    return _written(k.fn, dict(k.helpers))


def _view_root(name: str) -> str:
    """``x`` for the reshaped view ``x@1x256`` (plan.build names them so)."""
    root, sep, dims = name.rpartition("@")
    if sep and dims and all(d.isdigit() for d in dims.split("x")):
        return root
    return name


@dataclass
class Buffer:
    """Tensors of the plan that share one piece of the arena and hold the same data."""
    tensors: list[int]                                  # plan tensor indices
    writers: list[int] = field(default_factory=list)    # step indices, in order
    readers: list[int] = field(default_factory=list)
    is_input: bool = False
    is_output: bool = False


@dataclass
class Dataflow:
    plan: Plan
    reads: list[list[int]]          # per step: plan tensor indices read (arena only)
    writes: list[list[int]]         # per step: plan tensor indices written (arena only)
    buffer_of: dict[int, int]       # plan tensor index -> buffer index
    buffers: list[Buffer]

    def crossing(self, k: int) -> list[int]:
        """Buffers that a cut before step ``k`` must carry (0 < k < number of steps)."""
        out = []
        for b, buf in enumerate(self.buffers):
            before = buf.is_input or any(w < k for w in buf.writers)
            after = (buf.is_output or any(r >= k for r in buf.readers)
                     or (_partial(buf) and any(w >= k for w in buf.writers)))
            if before and after:
                out.append(b)
        return out

    def representative(self, b: int) -> int:
        """The plan tensor that stands for buffer ``b`` on a link: its largest (the whole buffer)."""
        buf = self.buffers[b]
        return max(buf.tensors, key=lambda i: (self.plan.tensors[i].nbytes, -i))

    def crossing_bytes(self, k: int) -> int:
        return sum(self.plan.tensors[self.representative(b)].nbytes for b in self.crossing(k))


def _partial(buf: Buffer) -> bool:
    """A buffer written by several steps (Concat writes one input per step) holds partial results."""
    return len(set(buf.writers)) > 1


def analyze(plan: Plan) -> Dataflow:
    tensors = plan.tensors
    reads, writes = [], []
    for step in plan.steps:
        w = written_args(step.kernel)
        arena = [(j, a) for j, a in enumerate(step.args) if tensors[a].location == "arena"]
        writes.append([a for j, a in arena if j in w])
        reads.append([a for j, a in arena if j not in w])

    # group tensors into buffers: views by name, then anything read before being written (a
    # reshape's output) or written in place joins the live buffer at the same offset
    parent = list(range(len(tensors)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        parent[find(a)] = find(b)

    by_name = {}
    for i, t in enumerate(tensors):
        if t.location == "arena":
            by_name.setdefault(_view_root(t.name), []).append(i)
    for group in by_name.values():
        for i in group[1:]:
            union(i, group[0])

    defined: set[int] = {find(i) for i in plan.inputs}
    last_at: dict[int, int] = {}        # arena offset -> a tensor last seen there
    for i in plan.inputs:
        last_at[tensors[i].offset] = i
    for s, step in enumerate(plan.steps):
        for a in reads[s]:
            if find(a) not in defined:   # read before any write: an alias of what lives there
                prev = last_at.get(tensors[a].offset)
                if prev is not None:
                    union(a, prev)
                defined.add(find(a))
            last_at[tensors[a].offset] = a
        for a in writes[s]:              # an in-place output is new data: its own buffer
            defined.add(find(a))
            last_at[tensors[a].offset] = a
    for i in plan.outputs:               # an output only a reshape produced
        if find(i) not in defined:
            prev = last_at.get(tensors[i].offset)
            if prev is not None:
                union(i, prev)

    roots: dict[int, int] = {}
    buffers: list[Buffer] = []
    buffer_of: dict[int, int] = {}
    for i, t in enumerate(tensors):
        if t.location != "arena":
            continue
        r = find(i)
        if r not in roots:
            roots[r] = len(buffers)
            buffers.append(Buffer([]))
        buffer_of[i] = roots[r]
        buffers[roots[r]].tensors.append(i)
    for s in range(len(plan.steps)):
        for a in reads[s]:
            buffers[buffer_of[a]].readers.append(s)
        for a in writes[s]:
            buffers[buffer_of[a]].writers.append(s)
    for i in plan.inputs:
        buffers[buffer_of[i]].is_input = True
    for i in plan.outputs:
        buffers[buffer_of[i]].is_output = True
    return Dataflow(plan, reads, writes, buffer_of, buffers)
