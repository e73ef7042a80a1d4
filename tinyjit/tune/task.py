"""Tuning tasks: one per distinct (kernel, op signature) of a model, with that layer's real shapes.

A task keeps a one-node graph: the node, its real constants (weights, quantization) and its
activation tensors. For a candidate schedule it runs the kernel's *prepare* again (weight
packing may depend on the schedule, e.g. a block of NR output channels), then resolves the
call's arguments exactly as tinyjit/plan.py does: tensor names, packed constants, reshaped views,
scratch buffers and scalar params. Activations get seeded random values, so every process (and
every Ray worker) builds the same inputs and the candidates' outputs can be compared bit for bit
or within float tolerance.
"""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field

import numpy as np

from .. import registry as kernel_registry
from .. import schedule as schedules
from ..ir import Graph, Node
from ..plan import ALIAS_OPS, _kernel_dtype


@dataclass
class Task:
    kernel: str
    signature: str
    graph: Graph                 # the node alone: its inputs, constants and outputs
    target: str
    default: dict                # what convert picks without tuned records
    macs: int = 0
    count: int = 1               # how many nodes of the model share this signature
    nodes: list = field(default_factory=list)
    memory: tuple = (0, 0)       # the model's (weights, arena) bytes with default schedules

    @property
    def node(self) -> Node:
        return self.graph.nodes[0]

    kernel_file: str | None = None   # a user kernel's file, loaded again where the task runs (Ray workers)

    @property
    def k(self):
        if self.kernel_file and self.kernel not in kernel_registry._BY_NAME:
            kernel_registry.load_kernels(self.kernel_file)
        return kernel_registry.by_name(self.kernel)

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.kernel}|{self.signature}|{self.target}".encode()).hexdigest()[:16]

    def space(self, constrained: bool = True):
        from .space import SearchSpace
        return SearchSpace(self.k, self.node, self.graph, self.target, self.default, footprint=self.footprint,
                           memory=self.memory, constrained=constrained)

    def kernel_hash(self) -> str:
        return kernel_hash(self.k)

    # ------------------------------------------------------------------------------------------
    def calls(self, schedule: dict):
        """The kernel calls of this layer under ``schedule``: [(Call, [resolved arg spec])].

        A prepare may complete the schedule it is given with constants of the layer (a kernel
        specialized to its kernel size, say), as plan.build lets it: the third result is the
        schedule the kernel is then compiled with."""
        g = self.graph.copy()
        node = g.nodes[0]
        effective = dict(schedule)
        out = self.k.call(node, g, effective)
        calls = out if isinstance(out, list) else [out]
        resolved = []
        for j, call in enumerate(calls):
            specs = [_arg_spec(g, a) for a in call.args]
            specs += [("scratch", np.dtype(dt), tuple(int(d) for d in shape)) for dt, shape in call.scratch]
            resolved.append((call, specs))
        return g, resolved, effective

    def effective(self, schedule: dict) -> dict:
        return self.calls(schedule)[2]

    def footprint(self, schedule: dict) -> tuple[int, int]:
        """(packed constant bytes, scratch bytes) of this layer under ``schedule``."""
        _, resolved, _ = self.calls(schedule)
        weights = scratch = 0
        for _, specs in resolved:
            for spec in specs:
                if spec[0] == "const":
                    weights += spec[1].nbytes
                elif spec[0] == "scratch":
                    scratch += int(np.prod(spec[2], dtype=np.int64)) * spec[1].itemsize
        return weights, scratch

    def inputs(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded random values for the node's activation inputs."""
        rng = np.random.default_rng(seed)
        values = {}
        for name in self.graph.inputs:
            t = self.graph.tensors[name]
            values[name] = random_array(rng, t.dtype, t.shape)
        return values

    def instance(self, schedule: dict, inputs: dict, poison: int = 0):
        """Arrays for every call of the layer: (list of (Call, args), output arrays)."""
        g, resolved, effective = self.calls(schedule)
        env: dict[str, np.ndarray] = {}

        def tensor(name: str) -> np.ndarray:
            if name not in env:
                t = g.tensors[name]
                if t.is_const:
                    env[name] = np.ascontiguousarray(t.data, dtype=t.dtype)
                elif name in inputs:
                    env[name] = inputs[name].copy()
                else:
                    env[name] = poisoned(t.dtype, t.shape, poison)
            return env[name]

        calls = []
        for call, specs in resolved:
            args = []
            for spec in specs:
                kind = spec[0]
                if kind == "const":
                    args.append(spec[1])
                elif kind == "tensor":
                    args.append(tensor(spec[1]))
                elif kind == "view":
                    args.append(tensor(spec[1]).reshape(spec[2]))
                else:
                    args.append(np.zeros(spec[2], spec[1]))
            args += [int(p) if isinstance(p, (bool, np.bool_)) else p for p in call.params]
            calls.append(args)
        outputs = [tensor(name) for name in g.outputs]
        return calls, outputs, effective


    def plan(self, schedule: dict):
        """A one-step (or few-step) Plan of this layer under ``schedule``, for the C export: the
        activations laid out one after the other in the arena, the packed constants in the weights."""
        from ..plan import WEIGHT_ALIGN, Plan, PlannedTensor, Step
        g, resolved, effective = self.calls(schedule)
        tensors: list = []
        index: dict = {}
        blob = bytearray()
        arena = 0

        def arena_tensor(name: str, shape=None, base=None) -> int:
            nonlocal arena
            key = (name, shape)
            if key not in index:
                t = g.tensors[name]
                shape_ = tuple(shape) if shape is not None else t.shape
                if base is not None:
                    offset = tensors[base].offset
                else:
                    arena += (-arena) % 16
                    offset = arena
                    arena += t.nbytes
                label = name if shape is None else f"{name}@{'x'.join(map(str, shape_))}"
                index[key] = len(tensors)
                tensors.append(PlannedTensor(label, t.dtype.name, shape_, "arena", offset,
                                             t.nbytes, t.quant))
            return index[key]

        def weight_tensor(label: str, data: np.ndarray) -> int:
            blob.extend(b"\0" * ((-len(blob)) % WEIGHT_ALIGN))
            offset = len(blob)
            blob.extend(data.tobytes())
            tensors.append(PlannedTensor(label, data.dtype.name, tuple(data.shape), "weights", offset, data.nbytes))
            return len(tensors) - 1

        inputs = [arena_tensor(n) for n in g.inputs]
        steps = []
        node = g.nodes[0]
        n_scratch = 0
        for call, specs in resolved:
            args = []
            for spec in specs:
                if spec[0] == "const":
                    args.append(weight_tensor(f"{node.name}/const{len(tensors)}", spec[1]))
                elif spec[0] == "tensor":
                    args.append(arena_tensor(spec[1]))
                elif spec[0] == "view":
                    args.append(arena_tensor(spec[1], spec[2], base=arena_tensor(spec[1])))
                else:
                    from ..ir import Tensor
                    name = f"{node.name}/scratch{n_scratch}"
                    n_scratch += 1
                    g.tensors[name] = Tensor(name, spec[1], spec[2])
                    args.append(arena_tensor(name))
            steps.append(Step(node.op, node.name, self.kernel, args, list(call.params), dict(effective),
                              int(call.macs), False))
        outputs = [arena_tensor(n) for n in g.outputs]
        return Plan(tensors, steps, inputs, outputs, arena + (-arena) % 16,
                    np.frombuffer(bytes(blob), dtype=np.uint8), self.target, f"tune_{self.kernel}")


def kernel_hash(k) -> str:
    """Changes when the kernel's source (or a helper's) changes: figures measured before may be stale."""
    src = inspect.getsource(k.fn) + "".join(inspect.getsource(h) for _, h in k.helpers)
    return hashlib.sha256(src.encode()).hexdigest()[:12]


def _arg_spec(g: Graph, arg):
    """A kernel argument as plan.build would store it: a tensor, a packed constant or a view."""
    if isinstance(arg, np.ndarray):
        return ("const", np.ascontiguousarray(arg))
    if isinstance(arg, str):
        t = g.tensors[arg]
        return ("const", np.ascontiguousarray(t.data, dtype=t.dtype)) if t.is_const else ("tensor", arg)
    name, shape = arg
    shape = tuple(int(d) for d in shape)
    t = g.tensors[name]
    if t.is_const:
        return ("const", np.ascontiguousarray(t.data, dtype=t.dtype).reshape(shape))
    return ("tensor", name) if shape == t.shape else ("view", name, shape)


def random_array(rng, dtype, shape) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -128), min(int(info.max), 127)
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def poisoned(dtype, shape, poison: int) -> np.ndarray:
    """An output buffer full of a value a correct kernel overwrites: NaN, or a fixed pattern."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.full(shape, np.nan if poison else 0.0, dtype)
    if dtype.kind == "b":
        return np.full(shape, bool(poison), dtype)
    info = np.iinfo(dtype)
    return np.full(shape, int(np.clip(poison * 77 + (poison > 0) * 13, info.min, info.max)) if poison else 0, dtype)


def extract(graph: Graph, target: str, tuned_path=None, min_points: int = 2) -> list[Task]:
    """The distinct (kernel, signature) layers of an optimized graph that have something to tune,
    largest (MACs x occurrences) first: if tuning is cut short, the layers that matter are done."""
    from ..plan import build
    try:
        base = build(graph, target)
        memory = (base.weights_bytes, base.arena_bytes)
        macs = {s.node: s.macs for s in base.steps}
    except Exception:        # the model does not plan (yet): tune its layers all the same
        memory, macs = (0, 0), {}
    layers = []
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            continue
        k = kernel_registry.find(node.op, _kernel_dtype(graph, node), node.domain)
        if k is not None and k.schedule_space:
            layers.append((k, _one_node_graph(graph, node), schedules.signature(node, graph), macs.get(node.name, 0)))
    return _tasks(layers, target, tuned_path, memory, min_points)


def extract_plan(plan, target: str, tuned_path=None, min_points: int = 2) -> list[Task]:
    """The tasks of a .tjm's plan, from the layer each step records (tinyjit/tune/layer.py): the
    weights are seeded random values of the real shapes, which is all that choosing a schedule needs."""
    from ..errors import TinyJitError
    from .layer import rebuild
    layers, seen = [], set()
    for step in plan.steps:
        k = kernel_registry.by_name(step.kernel)
        if not k.schedule_space or step.node in seen:
            continue                 # a node planned as several steps is one layer
        seen.add(step.node)
        if not step.layer:
            raise TinyJitError(f"{plan.name}: step {step.node!r} ({step.kernel}) does not record its layer "
                               f"(.tjm format {plan.version[0]}.{plan.version[1]}, before 1.1); convert the "
                               "model again to tune its .tjm")
        graph, sig = rebuild(step.layer)
        layers.append((k, graph, sig, step.macs))
    return _tasks(layers, target, tuned_path, (plan.weights_bytes, plan.arena_bytes), min_points)


def _tasks(layers, target: str, tuned_path, memory: tuple, min_points: int) -> list[Task]:
    """One task per distinct (kernel, signature) of ``layers`` [(kernel, one-node graph, signature, MACs)]."""
    sched = schedules.for_target(target, tuned_path)
    tasks: dict[tuple[str, str], Task] = {}
    for k, graph, sig, macs in layers:
        node = graph.nodes[0]
        key = (k.name, sig)
        if key in tasks:
            tasks[key].count += 1
            tasks[key].nodes.append(node.name)
            continue
        default = dict(k.default_schedule())
        default.update({n: v for n, v in sched.defaults.get(k.name, {}).items() if n in default})
        tasks[key] = Task(k.name, sig, graph, target, default, macs=macs, nodes=[node.name], memory=memory,
                          kernel_file=_user_kernel_file(k))
    out = [t for t in tasks.values() if _space_points(t) >= min_points]
    out.sort(key=lambda t: -t.macs * t.count)
    return out


def _user_kernel_file(k) -> str | None:
    module = k.module
    if module is None or module.__name__.startswith("tinyjit.kernels."):
        return None
    return inspect.getsourcefile(module)


def _space_points(t: Task) -> int:
    import math
    return math.prod(len(v) for v in t.k.schedule_space.values())


def _one_node_graph(graph: Graph, node: Node) -> Graph:
    names = [n for n in node.inputs if n] + list(node.outputs)
    tensors = {}
    for n in names:
        t = graph.tensors[n]
        tensors[n] = type(t)(t.name, t.dtype, t.shape, t.data, t.quant)
    inputs = [n for n in node.inputs if n and not graph.tensors[n].is_const]
    inputs = list(dict.fromkeys(inputs))
    copy = Node(node.op, node.name, list(node.inputs), list(node.outputs), dict(node.attrs), node.domain)
    return Graph(tensors, [copy], inputs, list(node.outputs), f"{graph.name}:{node.name}", graph.opset)
