"""From an optimized IR graph to a Plan: kernel calls in order, arena offsets, packed weights.

The Plan is exactly what a .tjm file stores and what the executor and the C exporter read.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import registry as kernel_registry
from . import memory, schedule as schedules
from .errors import TinyJitError, UnsupportedError
from .ir import Graph, Quant, Tensor
from .tune.layer import describe as describe_layer

FORMAT_VERSION = (1, 1)    # 1.1: Step.layer
WEIGHT_ALIGN = 64
# ops that only reinterpret a buffer: their output aliases their input, no kernel runs
ALIAS_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


@dataclass
class PlannedTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    location: str            # "arena" or "weights"
    offset: int
    nbytes: int
    quant: Quant | None = None


@dataclass
class Step:
    op: str
    node: str
    kernel: str
    args: list[int]
    params: list = field(default_factory=list)
    schedule: dict = field(default_factory=dict)
    macs: int = 0
    tuned: bool = False
    layer: str = ""         # the node as JSON, for tuning a .tjm (tinyjit/tune/layer.py)


@dataclass
class Plan:
    tensors: list[PlannedTensor]
    steps: list[Step]
    inputs: list[int]
    outputs: list[int]
    arena_bytes: int
    weights: np.ndarray            # uint8, WEIGHT_ALIGN-aligned offsets
    target: str = "x86_64"
    name: str = "model"
    version: tuple[int, int] = FORMAT_VERSION

    @property
    def weights_bytes(self) -> int:
        return int(self.weights.size)

    def tensor(self, name: str) -> PlannedTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)


def check_supported(graph: Graph) -> None:
    """One error listing every op without a kernel, with its node names."""
    missing: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            continue
        dtype = _kernel_dtype(graph, node)
        if kernel_registry.find(node.op, dtype, node.domain) is None:
            op = f"{node.domain}::{node.op}" if node.domain else node.op
            missing.setdefault(f"{op} ({dtype})", []).append(node.name)
    if missing:
        listing = "; ".join(f"{op}: {', '.join(names)}" for op, names in sorted(missing.items()))
        raise UnsupportedError(f"unsupported ops (opset {graph.opset}): {listing}")


def _kernel_dtype(graph: Graph, node) -> str:
    for name in node.inputs:
        if name:
            return graph.tensors[name].dtype.name
    return graph.tensors[node.outputs[0]].dtype.name


def build(graph: Graph, target: str = "x86_64") -> Plan:
    check_supported(graph)
    graph = graph.copy()
    sched = schedules.for_target(target)
    calls = []
    views: dict[str, str] = {}   # reshaped views a kernel asked for -> the tensor they show
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            calls.append((node, None, None, None))
            continue
        k = kernel_registry.find(node.op, _kernel_dtype(graph, node), node.domain)
        schedule, tuned = sched.lookup(k, node, graph)
        layer = describe_layer(node, graph, schedules.signature(node, graph)) if k.schedule_space else ""
        node_calls = k.call(node, graph, schedule)
        for call in node_calls if isinstance(node_calls, list) else [node_calls]:
            call.args = [_arg_tensor(graph, node, a, views) for a in call.args]
            for j, (dtype, shape) in enumerate(call.scratch):
                name = graph.unique_name(f"{node.name}/scratch{j}")
                graph.tensors[name] = Tensor(name, dtype, shape)
                call.args.append(name)
            calls.append((node, k, call, (schedule, tuned, layer)))

    # buffers: one per arena tensor, aliases (reshapes, in-place outputs) share their root's
    root: dict[str, str] = dict(views)

    def find_root(name: str) -> str:
        while name in root:
            name = root[name]
        return name

    last_use: dict[str, int] = {}
    for step_i, (node, k, call, _) in enumerate(calls):
        for name in (call.args if call else node.inputs):
            last_use[name] = step_i
    pinned = _output_sources(graph)          # graph outputs and what they alias: never overwritten
    for step_i, (node, k, call, _) in enumerate(calls):
        src = node.inputs[0] if node.inputs else ""
        src_tensor = graph.tensors.get(src)
        if call is None:
            if src_tensor is not None and not src_tensor.is_const:
                root[node.outputs[0]] = src
            continue
        if (call.inplace and src_tensor is not None and not src_tensor.is_const
                and src not in graph.inputs and find_root(src) not in graph.inputs
                and graph.tensors[node.outputs[0]].nbytes == src_tensor.nbytes
                and _last_use_of_root(find_root(src), root, last_use) == step_i
                and node.outputs[0] not in graph.outputs and not pinned & {src, find_root(src)}):
            root[node.outputs[0]] = src

    arena_names = []
    used = set(graph.inputs) | set(graph.outputs)
    for node, k, call, _ in calls:
        used.update(call.args if call else node.inputs + node.outputs)
    used |= {find_root(n) for n in used}   # a tensor read only through reshaped views still needs memory
    for name in used:
        t = graph.tensors.get(name)
        if t is not None and not t.is_const:
            arena_names.append(name)
    arena_names = sorted(set(arena_names), key=list(graph.tensors).index)

    n_steps = len(calls)
    spans: dict[str, list[int]] = {}
    for name in graph.inputs:
        spans[find_root(name)] = [-1, -1]
    for step_i, (node, k, call, _) in enumerate(calls):
        for name in (call.args if call else node.inputs + node.outputs):
            t = graph.tensors.get(name)
            if t is None or t.is_const:
                continue
            r = find_root(name)
            span = spans.setdefault(r, [step_i, step_i])
            span[0] = min(span[0], step_i)
            span[1] = max(span[1], step_i)
        if call is None:  # aliases keep their root alive
            continue
    for name in graph.outputs:
        r = find_root(name)
        spans.setdefault(r, [n_steps, n_steps])[1] = n_steps
    roots = sorted({find_root(n) for n in arena_names}, key=arena_names.index)
    sizes = {r: max(graph.tensors[n].nbytes for n in arena_names if find_root(n) == r) for r in roots}
    buffers = [memory.Buffer(sizes[r], *spans.get(r, [0, 0])) for r in roots]
    arena_bytes = memory.plan_arena(buffers)
    offsets = {r: b.offset for r, b in zip(roots, buffers)}

    # weights: every constant a kernel reads, aligned
    tensors: list[PlannedTensor] = []
    index: dict[str, int] = {}
    blob = bytearray()

    def add_tensor(name: str) -> int:
        if name in index:
            return index[name]
        t = graph.tensors[name]
        if t.is_const:
            pad = (-len(blob)) % WEIGHT_ALIGN
            blob.extend(b"\0" * pad)
            offset = len(blob)
            blob.extend(np.ascontiguousarray(t.data, dtype=t.dtype).tobytes())
            pt = PlannedTensor(name, t.dtype.name, t.shape, "weights", offset, t.nbytes, t.quant)
        else:
            pt = PlannedTensor(name, t.dtype.name, t.shape, "arena", offsets[find_root(name)], t.nbytes, t.quant)
        index[name] = len(tensors)
        tensors.append(pt)
        return index[name]

    for name in graph.inputs:
        add_tensor(name)
    steps = []
    for node, k, call, sch in calls:
        if call is None:
            continue
        steps.append(Step(node.op, node.name, k.name, [add_tensor(a) for a in call.args],
                          list(call.params), dict(sch[0]), int(call.macs), bool(sch[1]), sch[2]))
    for name in graph.outputs:
        if graph.tensors[name].is_const:
            raise TinyJitError(f"graph output {name!r} is a constant; nothing to compute")
        add_tensor(name)
    return Plan(tensors, steps, [index[n] for n in graph.inputs], [index[n] for n in graph.outputs],
                arena_bytes, np.frombuffer(bytes(blob), dtype=np.uint8), target, graph.name)


def _arg_tensor(graph: Graph, node, arg, views: dict) -> str:
    """A kernel argument as a tensor name: packed constants and reshaped views become tensors."""
    if isinstance(arg, str):
        return arg
    if isinstance(arg, np.ndarray):
        return graph.add_const(f"{node.name}/packed", arg)
    name, shape = arg
    src = graph.tensors[name]
    shape = tuple(int(d) for d in shape)
    if shape == src.shape:
        return name
    if src.is_const:
        return graph.add_const(f"{name}/view", src.data.reshape(shape))
    view = f"{name}@{'x'.join(map(str, shape))}"
    if view not in graph.tensors:
        graph.tensors[view] = Tensor(view, src.dtype, shape, quant=src.quant)
        views[view] = name
    return view


def _output_sources(graph: Graph) -> set:
    """Graph outputs and the tensors they are reshaped views of: an in-place op must not write them."""
    producers = graph.producers()
    pinned = set(graph.outputs)
    for name in graph.outputs:
        node = producers.get(name)
        while node is not None and node.op in ALIAS_OPS and node.inputs and node.inputs[0] not in pinned:
            pinned.add(node.inputs[0])
            node = producers.get(node.inputs[0])
    return pinned


def _last_use_of_root(r: str, root: dict, last_use: dict) -> int:
    names = [r] + [n for n in root if _chain_root(n, root) == r]
    return max((last_use.get(n, -1) for n in names), default=-1)


def _chain_root(name: str, root: dict) -> str:
    while name in root:
        name = root[name]
    return name
