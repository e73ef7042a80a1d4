"""Post-training quantization: a float IR graph + calibration data → an int8 IR graph.

``quantize_graph`` runs on the optimized float graph (NHWC, BatchNorm and activations folded), so
what it quantizes is what the kernels run:

1. calibration: the float graph runs on every calibration sample (tinyjit's own executor, all
   activations observed) and each activation's range is estimated: ``minmax``, ``percentile``
   (99.99 % of the values by default) or ``kl`` (TensorRT's entropy calibration, clipping at
   most 0.1 % of the values);
2. every op with an int8 kernel becomes the int8 op of the TFLite spec: asymmetric int8
   activations per tensor, symmetric int8 weights per output channel, int32 bias at
   ``input_scale * weight_scale`` (after bias correction: the mean error that weight rounding
   causes on the calibration data is added back to the bias);
3. ops without an int8 kernel, and the nodes named in ``keep_float``, stay float between
   QuantizeLinear / DequantizeLinear nodes. The model's inputs and outputs stay float.

The same quantization rules as TFLite's converter hold where a kernel needs them: pools, reshapes
and pads keep their input's quantization, Softmax/Sigmoid write scale 1/256 zero point -128, Tanh
1/128 and 0; a Concat input at another scale is requantized first.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import registry
from .errors import TinyJitError
from .ir import Graph, Node, Quant, Tensor
from .quant import make_quant

METHODS = ("minmax", "percentile", "kl")
# KL alone ignores how large the clipped values are: on the sparse, long-tailed ReLU outputs of
# MobileNet's last layers (VWW) it clipped 8.6 to 1.1 and the output SQNR fell to 6 dB. Its
# threshold never clips more than the values past this percentile of |x|.
KL_KEEPS = 99.9
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
# output quantization = the input's (the kernel moves or selects values, or TFLite requires it)
SAME_AS_INPUT = ALIASES | {"MaxPool", "AveragePool", "Transpose", "Pad", "GlobalMaxPool"}
FIXED_OUTPUT = {"Softmax": (1.0 / 256, -128), "Sigmoid": (1.0 / 256, -128), "Tanh": (1.0 / 128, 0)}
WEIGHTED = {"Conv", "DepthwiseConv", "Gemm"}
INT8_OPS = WEIGHTED | SAME_AS_INPUT | set(FIXED_OUTPUT) | {"Add", "Mul", "GlobalAveragePool", "HardSwish",
                                                           "Relu", "Clip", "Concat"}
ACT_HOSTS = {"Add", "Mul"}          # int8 ops that clamp their output: a following Relu/Clip folds in


@dataclass
class QuantizeReport:
    """What quantization decided: per-tensor ranges, the nodes left float, calibration time."""
    ranges: dict = field(default_factory=dict)
    float_nodes: list = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0


# --- calibration data ------------------------------------------------------------------------

def load_calibration(source) -> dict[str, np.ndarray]:
    """An .npz (one array per input name, first axis = samples), a folder of .npy files named after
    the inputs, or a dict of arrays."""
    if isinstance(source, dict):
        return {str(k): np.asarray(v) for k, v in source.items()}
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise TinyJitError(f"calibration folder {path} has no .npy files (one per model input, named after it)")
        return {f.stem: np.load(f, allow_pickle=False) for f in files}
    if not path.is_file():
        raise TinyJitError(f"calibration data {path}: no such file or folder")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise TinyJitError(f"calibration data {path}: not a readable .npz/.npy file ({e})") from None
    if isinstance(data, np.ndarray):
        return {"": data}
    return {k: data[k] for k in data.files}


def calibration_samples(graph: Graph, data: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """Per sample, one array per graph input (in order), shaped and typed like the input."""
    inputs = list(graph.inputs)
    if set(data) == {""} and len(inputs) == 1:          # a bare .npy for a one-input model
        data = {inputs[0]: data[""]}
    unknown = sorted(set(data) - set(inputs))
    missing = [n for n in inputs if n not in data]
    if unknown or missing:
        raise TinyJitError(f"calibration data names {sorted(data)} do not match the model inputs {inputs}"
                           + (f": unknown {unknown}" if unknown else "") + (f", missing {missing}" if missing else ""))
    counts = set()
    arrays = []
    for name in inputs:
        t, x = graph.tensors[name], np.asarray(data[name])
        if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
            raise TinyJitError(f"calibration data {name!r} is {x.dtype}; the input takes {t.dtype.name} values")
        if t.dtype.kind == "f" and x.dtype.kind != "f":
            raise TinyJitError(f"calibration data {name!r} is {x.dtype}: give the float32 values the float model "
                               f"takes (the input is {t.dtype.name})")
        shape = tuple(t.shape)
        if x.shape[1:] == shape and x.ndim == len(shape) + 1:
            per_sample = x.reshape((-1,) + shape)
        elif shape and shape[0] == 1 and x.shape[1:] == shape[1:]:
            per_sample = x.reshape((-1,) + shape)
        else:
            raise TinyJitError(f"calibration data {name!r} has shape {list(x.shape)}; expected [samples] + "
                               f"{list(shape)}" + (f" or [samples] + {list(shape[1:])}" if shape and shape[0] == 1 else ""))
        if per_sample.shape[0] == 0:
            raise TinyJitError(f"calibration data {name!r} is empty: give at least one sample")
        if not np.all(np.isfinite(per_sample)):
            raise TinyJitError(f"calibration data {name!r} contains NaN or infinite values")
        counts.add(per_sample.shape[0])
        arrays.append(np.ascontiguousarray(per_sample, dtype=t.dtype))
    if len(counts) > 1:
        raise TinyJitError(f"calibration inputs have different sample counts {sorted(counts)}")
    return [[a[i:i + 1].reshape(graph.tensors[n].shape) for a, n in zip(arrays, inputs)] for i in range(counts.pop())]


# --- observing the float graph ---------------------------------------------------------------

class Observer:
    """Runs a graph with the named tensors as extra outputs; one compiled plan for every sample."""

    def __init__(self, graph: Graph, names: list[str]):
        from . import plan as planner
        from .executor import Executor
        g = graph.copy()
        self.names = list(dict.fromkeys(names))
        g.outputs = list(dict.fromkeys(list(g.outputs) + self.names))
        self._order = g.outputs
        self._executor = Executor(planner.build(g))

    def run(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._order, self._executor.run(inputs)))


class _Progress:
    """A progress bar that appears only when the work has already taken more than a second."""

    def __init__(self, total: int, what: str, enabled: bool = True):
        self.total, self.what, self.enabled = total, what, enabled
        self.start = time.perf_counter()
        self.bar = None

    def update(self, done: int) -> None:
        if not self.enabled or (self.bar is None and time.perf_counter() - self.start < 1.0):
            return
        if self.bar is None:
            from rich.progress import Progress
            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=self.total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class _Stats:
    lo: float = math.inf
    hi: float = -math.inf
    channel_sum: np.ndarray | None = None
    count: int = 0
    hist: np.ndarray | None = None


def calibrate(graph: Graph, samples: list, names: list[str], method: str = "percentile", percentile: float = 99.99,
              progress: bool = True) -> dict[str, tuple[float, float, np.ndarray]]:
    """Range and per-channel mean of every named tensor over the samples: {name: (lo, hi, mean)}."""
    if method not in METHODS:
        raise TinyJitError(f"calibration method {method!r}: choose one of {', '.join(METHODS)}")
    observer = Observer(graph, names)
    stats = {n: _Stats() for n in names}
    passes = 1 if method == "minmax" else 2
    bar = _Progress(passes * len(samples), f"calibrating on {len(samples)} samples", progress)
    try:
        for i, inputs in enumerate(samples):
            values = observer.run(inputs)
            for name in names:
                v, s = values[name], stats[name]
                s.lo, s.hi = min(s.lo, float(v.min())), max(s.hi, float(v.max()))
                per_channel = v.reshape(-1, v.shape[-1]).astype(np.float64) if v.ndim else v.reshape(1, 1)
                s.channel_sum = per_channel.sum(0) + (0 if s.channel_sum is None else s.channel_sum)
                s.count += per_channel.shape[0]
            bar.update(i + 1)
        if passes == 2:
            for s in stats.values():
                s.hist = np.zeros(2048, np.int64)
            for i, inputs in enumerate(samples):
                values = observer.run(inputs)
                for name in names:
                    s = stats[name]
                    bound = max(abs(s.lo), abs(s.hi), 1e-12)
                    v = np.abs(values[name])
                    s.hist += np.histogram(v[v > 0], bins=2048, range=(0.0, bound))[0]   # 0 is always exact
                bar.update(len(samples) + i + 1)
    finally:
        bar.close()
    ranges = {}
    for name, s in stats.items():
        lo, hi = s.lo, s.hi
        if method != "minmax":
            bound = max(abs(lo), abs(hi), 1e-12)
            if method == "kl":      # a one-sided tensor (after ReLU) spends all 256 int8 levels on [0, t]
                t = max(_kl_threshold(s.hist, bound, levels=256 if lo >= 0 else 128),
                        _percentile_threshold(s.hist, bound, KL_KEEPS))
            else:
                t = _percentile_threshold(s.hist, bound, percentile)
            lo, hi = max(lo, -t), min(hi, t)
        ranges[name] = (lo, hi, s.channel_sum / max(s.count, 1))
    return ranges


def _percentile_threshold(hist: np.ndarray, bound: float, percentile: float) -> float:
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    index = int(np.searchsorted(cdf, percentile / 100.0))
    return bound * min(index + 1, hist.size) / hist.size


def _kl_threshold(hist: np.ndarray, bound: float, levels: int = 128) -> float:
    """TensorRT's entropy calibration (as MXNet/TVM implement it) on the |x| histogram: the
    clipping threshold whose ``levels``-bin quantized distribution diverges least (KL) from the
    observed one, outliers folded into the last bin."""
    hist = hist.astype(np.float64)
    if hist.sum() == 0:
        return bound
    best, best_i = math.inf, hist.size
    for i in range(levels, hist.size + 1, 8):
        sliced = hist[:i]
        p = sliced.copy()
        p[-1] += hist[i:].sum()
        nonzero = p != 0
        edges = np.linspace(0, i, levels + 1).astype(int)    # i >= levels: no empty level
        mass = np.add.reduceat(sliced, edges[:-1])
        filled = np.add.reduceat(nonzero.astype(np.int64), edges[:-1])
        per_bin = np.divide(mass, filled, out=np.zeros(levels), where=filled > 0)
        q = np.repeat(per_bin, np.diff(edges))          # each level's mass spread over its filled bins
        q[~nonzero] = 0
        kl = _kl(_smooth(p), _smooth(q))
        if kl < best:
            best, best_i = kl, i
    return bound * best_i / hist.size


def _smooth(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Give empty bins a little mass (taken from the others) so the divergence stays finite."""
    zeros = p == 0
    n_zero, n_nonzero = int(zeros.sum()), int((~zeros).sum())
    if n_nonzero == 0:
        return np.full(p.size, 1.0 / p.size)
    p = p / p.sum()
    if n_zero:
        p = p - (eps * n_zero / n_nonzero) * ~zeros + eps * zeros
        p = np.maximum(p, 1e-12)
    return p / p.sum()


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))


def range_quant(lo: float, hi: float) -> Quant:
    """Asymmetric int8 parameters covering [lo, hi] and real 0 exactly (TFLite's nudging)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = (hi - lo) / 255.0
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    return make_quant(np.float32(scale), zero_point)


# --- the rewrite -----------------------------------------------------------------------------

def quantize_graph(graph: Graph, calibration, method: str = "percentile", keep_float=(), bias_correction: bool = True,
                   percentile: float = 99.99, progress: bool = True, int8_io: bool = False,
                   report: QuantizeReport | None = None) -> Graph:
    """The int8 version of an optimized float ``graph`` (see the module docstring).

    ``int8_io``: inputs read only by int8 ops and int8 outputs keep their names but become int8
    tensors (quantization parameters in the plan), as an MCU application wants them; by default
    the model takes and returns float.
    """
    started = time.perf_counter()
    g = graph.copy()
    unknown = sorted(set(keep_float) - {n.name for n in g.nodes})
    if unknown:
        raise TinyJitError(f"--keep-float names {unknown} are not nodes of the model; "
                           f"the nodes are {', '.join(n.name for n in g.nodes[:8])}{', ...' if len(g.nodes) > 8 else ''}")
    samples = calibration_samples(g, load_calibration(calibration))
    float_graph = graph.copy()               # calibration runs the float kernels as they are
    _fold_activations(g)
    _global_pools(g)
    int8 = _choose_int8_nodes(g, set(keep_float))
    observed = sorted({t for n in g.nodes if id(n) in int8 for t in _activation_tensors(n, g)},
                      key=list(g.tensors).index)
    ranges = calibrate(float_graph, samples, observed, method, percentile, progress) if observed else {}
    out = _rewrite(g, int8, ranges, bias_correction, int8_io)
    if report is not None:
        report.ranges = {k: (lo, hi) for k, (lo, hi, _) in ranges.items()}
        report.float_nodes = [n.name for n in g.nodes if id(n) not in int8 and n.op not in ALIASES]
        report.samples = len(samples)
        report.seconds = time.perf_counter() - started
    return out


def _global_pools(g: Graph) -> None:
    """An AveragePool whose window is the whole image is a GlobalAveragePool, whose int8 kernel
    (TFLite's Mean) requantizes to its own output scale: the mean has less range than its input."""
    for node in g.nodes:
        x = g.tensors[node.inputs[0]] if node.inputs else None
        if (node.op == "AveragePool" and node.attrs.get("channels_last") and x is not None and len(x.shape) == 4
                and list(node.attrs.get("kernel_shape", [])) == list(x.shape[1:3])
                and not any(node.attrs.get("pads", [0, 0, 0, 0])) and "act_min" not in node.attrs
                and "act_max" not in node.attrs):
            node.op, node.attrs = "GlobalAveragePool", {"channels_last": 1}


def _fold_activations(g: Graph) -> None:
    """Relu / Clip after an int8 op that clamps (Add, Mul) becomes that op's output clamp."""
    producers, users = g.producers(), g.consumers()
    drop = set()
    for act in g.nodes:
        if act.op not in ("Relu", "Clip") or act.domain or any(i and g.const(i) is None for i in act.inputs[1:]):
            continue
        host = producers.get(act.inputs[0])
        if host is None or host.op not in ACT_HOSTS or len(users.get(act.inputs[0], [])) != 1 \
                or act.inputs[0] in g.outputs or "act_min" in host.attrs or "act_max" in host.attrs:
            continue
        lo, hi = (0.0, None) if act.op == "Relu" else (act.attrs.get("min"), act.attrs.get("max"))
        if lo is not None:
            host.attrs["act_min"] = float(lo)
        if hi is not None:
            host.attrs["act_max"] = float(hi)
        host.outputs = [act.outputs[0]]
        drop.add(id(act))
    g.nodes = [n for n in g.nodes if id(n) not in drop]


def _is_float_activation(name: str, g: Graph) -> bool:
    t = g.tensors.get(name) if name else None
    return t is not None and not t.is_const and t.dtype == np.float32


def _activation_tensors(node: Node, g: Graph) -> list[str]:
    names = [node.inputs[0]] if node.op in WEIGHTED else [i for i in node.inputs if _is_float_activation(i, g)]
    return names + [o for o in node.outputs[:1] if _is_float_activation(o, g)]


def _choose_int8_nodes(g: Graph, keep_float: set) -> set:
    """Ids of the nodes that run in int8: an int8 kernel, float activations, constant weights;
    value-moving ops only when what they move is already int8."""
    chosen, int8_tensors = set(), set()
    for node in g.nodes:
        if node.name in keep_float or node.domain or node.op not in INT8_OPS:
            continue
        acts = [i for i in node.inputs if _is_float_activation(i, g)]
        outs = [o for o in node.outputs if o]
        if not acts or len(outs) != 1 or not _is_float_activation(outs[0], g):
            continue
        if node.op not in ALIASES and registry.find(node.op, "int8") is None:
            continue
        if node.op in WEIGHTED:
            if acts != [node.inputs[0]] or not all(g.tensors[i].is_const for i in node.inputs[1:] if i):
                continue
            if node.op == "Gemm" and (node.attrs.get("transA", 0) or len(g.tensors[node.inputs[0]].shape) != 2):
                continue
        elif node.op in ("Add", "Mul", "Concat"):
            if any(i and not _is_float_activation(i, g) and not g.tensors[i].is_const for i in node.inputs):
                continue
        elif node.op in SAME_AS_INPUT:
            if node.inputs[0] not in int8_tensors:
                continue
            if node.op == "Pad" and node.attrs.get("mode", "constant") not in ("constant", b"constant"):
                continue
        if node.op == "Softmax" and not _softmax_on_last_axis(node, g):
            continue
        chosen.add(id(node))
        int8_tensors.add(outs[0])
    return chosen


def _softmax_on_last_axis(node: Node, g: Graph) -> bool:
    rank = len(g.tensors[node.inputs[0]].shape)
    axis = int(node.attrs.get("axis", -1))
    return (axis % rank) == rank - 1 or all(d == 1 for d in g.tensors[node.inputs[0]].shape[(axis % rank) + 1:])


class _Builder:
    """The int8 graph under construction: float ↔ int8 names, Q/DQ nodes inserted on demand."""

    def __init__(self, g: Graph, quants: dict):
        self.g, self.quants = g, quants
        self.nodes: list[Node] = []
        self.int8_of: dict[str, str] = {}     # float tensor → its int8 twin
        self.float_of: set[str] = set()       # float tensors that exist (graph inputs, float outputs)

    def const(self, base: str, data: np.ndarray, quant: Quant | None = None) -> str:
        name = self.g.add_const(base, data)
        self.g.tensors[name].quant = quant
        return name

    def int8(self, name: str) -> str:
        """The int8 version of float tensor ``name`` (a QuantizeLinear if it is computed in float)."""
        if name in self.int8_of:
            return self.int8_of[name]
        q = self.quants[name]
        twin = self.new_int8(name, q)
        scale = self.const(f"{name}/scale", np.asarray(q.scale[0], np.float32))
        zp = self.const(f"{name}/zero_point", np.asarray(q.zero_point[0], np.int8))
        self.nodes.append(Node("QuantizeLinear", f"{name}/quantize", [name, scale, zp], [twin]))
        return twin

    def new_int8(self, name: str, quant: Quant) -> str:
        t = self.g.tensors[name]
        twin = self.g.unique_name(f"{name}:int8")
        self.g.tensors[twin] = Tensor(twin, np.int8, t.shape, quant=quant)
        self.int8_of[name] = twin
        return twin

    def floating(self, name: str) -> str:
        """Float tensor ``name``, a DequantizeLinear of its int8 twin if only that was computed."""
        if name in self.float_of or self.g.tensors[name].is_const or name not in self.int8_of:
            return name
        twin = self.int8_of[name]
        q = self.g.tensors[twin].quant
        scale = self.const(f"{name}/scale", np.asarray(q.scale[0], np.float32))
        zp = self.const(f"{name}/zero_point", np.asarray(q.zero_point[0], np.int8))
        self.nodes.append(Node("DequantizeLinear", f"{name}/dequantize", [twin, scale, zp], [name]))
        self.float_of.add(name)
        return name


def _rewrite(g: Graph, int8: set, ranges: dict, bias_correction: bool, int8_io: bool = False) -> Graph:
    quants = {name: range_quant(lo, hi) for name, (lo, hi, _) in ranges.items()}
    b = _Builder(g, quants)
    b.float_of.update(g.inputs)
    if int8_io:                                  # an input only int8 ops read becomes int8 itself
        users = g.consumers()
        for name in g.inputs:
            if name in quants and users.get(name) and all(id(n) in int8 for n in users[name]):
                g.tensors[name] = Tensor(name, np.int8, g.tensors[name].shape, quant=quants[name])
                b.int8_of[name] = name
                b.float_of.discard(name)
    for node in g.nodes:
        if id(node) not in int8:
            node.inputs = [b.floating(i) if i else i for i in node.inputs]
            b.nodes.append(node)
            b.float_of.update(o for o in node.outputs if o)
            continue
        y = node.outputs[0]
        if node.op in SAME_AS_INPUT:
            out_q = b.g.tensors[b.int8(node.inputs[0])].quant
        elif node.op in FIXED_OUTPUT:
            out_q = make_quant(np.float32(FIXED_OUTPUT[node.op][0]), FIXED_OUTPUT[node.op][1])
        else:
            out_q = quants[y]
        if node.op in WEIGHTED:
            inputs = [b.int8(node.inputs[0])]
        elif node.op in ("Add", "Mul", "Concat"):           # constant operands are quantized too
            inputs = [b.int8(i) if _is_float_activation(i, g) else _int8_const(b, i) for i in node.inputs]
        else:                                               # shapes, pads, bounds stay as they are
            inputs = [b.int8(i) if _is_float_activation(i, g) else i for i in node.inputs]
        attrs = dict(node.attrs)
        if node.op in WEIGHTED:
            mean = ranges[node.inputs[0]][2] if bias_correction else None
            inputs += _weights_and_bias(b, node, g.tensors[inputs[0]].quant, mean)
            attrs.pop("alpha", None), attrs.pop("beta", None)
        elif node.op == "Pad":
            q = b.g.tensors[inputs[0]].quant
            value = float(attrs.get("value", 0.0) or 0.0)
            attrs["value"] = int(np.clip(round(value / float(q.scale[0])) + int(q.zero_point[0]), -128, 127))
        elif node.op == "Concat":
            inputs = [_requantized(b, i, out_q) for i in inputs]
        twin = b.new_int8(y, out_q)
        b.nodes.append(Node(node.op, node.name, inputs, [twin], attrs, node.domain))
    outputs = [_int8_output(b, o) if int8_io and o in b.int8_of else b.floating(o) for o in g.outputs]
    result = Graph(b.g.tensors, b.nodes, list(g.inputs), outputs, g.name, g.opset)
    from .passes.cleanup import dead_code
    return dead_code(result)


def _int8_output(b: _Builder, name: str) -> str:
    """The int8 twin of output ``name`` renamed to ``name``: the model's output stays where it was."""
    twin = b.int8_of[name]
    t = b.g.tensors.pop(twin)
    b.g.tensors[name] = Tensor(name, t.dtype, t.shape, quant=t.quant)
    for node in b.nodes:
        node.inputs = [name if i == twin else i for i in node.inputs]
        node.outputs = [name if o == twin else o for o in node.outputs]
    b.int8_of[name] = name
    return name


def _int8_const(b: _Builder, name: str) -> str:
    """A constant operand of Add/Mul/Concat, quantized per tensor over its own range."""
    data = b.g.tensors[name].data.astype(np.float32)
    q = range_quant(float(data.min()), float(data.max()))
    values = np.clip(np.rint(data / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return b.const(f"{name}/int8", values, q)


def _requantized(b: _Builder, name: str, quant: Quant) -> str:
    """``name`` (int8) at ``quant``, through a requantizing QuantizeLinear if it differs."""
    t = b.g.tensors[name]
    if np.array_equal(t.quant.scale, quant.scale) and np.array_equal(t.quant.zero_point, quant.zero_point):
        return name
    out = b.g.unique_name(f"{name}/requantized")
    b.g.tensors[out] = Tensor(out, np.int8, t.shape, quant=quant)
    scale = b.const(f"{out}/scale", np.asarray(quant.scale[0], np.float32))
    zp = b.const(f"{out}/zero_point", np.asarray(quant.zero_point[0], np.int8))
    b.nodes.append(Node("QuantizeLinear", f"{out}/node", [name, scale, zp], [out]))
    return out


def _weights_and_bias(b: _Builder, node: Node, in_quant: Quant, mean_input) -> list[str]:
    """int8 weights per output channel and the int32 bias, bias-corrected with the mean input."""
    g = b.g
    w = g.tensors[node.inputs[1]].data.astype(np.float64)
    out_axis = 1 if node.op == "Gemm" and not node.attrs.get("transB", 0) else 0
    if node.op == "Gemm":
        w = w * float(node.attrs.get("alpha", 1.0))
    channels = w.shape[out_axis]
    moved = np.moveaxis(w, out_axis, 0).reshape(channels, -1)
    w_scale = np.abs(moved).max(1) / 127.0
    w_scale = np.where(w_scale > 0, w_scale, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[out_axis] = -1
    w_q = np.clip(np.rint(w / w_scale.astype(np.float64).reshape(shape)), -127, 127)
    bias = np.zeros(channels)
    if len(node.inputs) > 2 and node.inputs[2]:
        c = g.tensors[node.inputs[2]].data.astype(np.float64)
        if node.op == "Gemm":
            c = c * float(node.attrs.get("beta", 1.0))
        if c.size not in (1, channels):
            raise TinyJitError(f"node {node.name}: a bias of {c.size} values for {channels} output channels "
                               "cannot be quantized per channel")
        bias = np.broadcast_to(c.reshape(-1), (channels,)).copy()
    if mean_input is not None:
        error = w - w_q * w_scale.astype(np.float64).reshape(shape)        # what rounding the weights lost
        bias += _mean_error(node, error, np.asarray(mean_input, np.float64))
    bias_scale = (np.float32(in_quant.scale[0]) * w_scale).astype(np.float32)
    b_q = np.clip(np.rint(bias / bias_scale.astype(np.float64)), -2**31, 2**31 - 1).astype(np.int32)
    w_name = b.const(f"{node.inputs[1]}/int8", w_q.astype(np.int8), make_quant(w_scale, np.zeros(channels), out_axis))
    b_name = b.const(f"{node.name}/bias_int32", b_q, make_quant(bias_scale, np.zeros(channels), 0))
    return [w_name, b_name]


def _mean_error(node: Node, error: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Per output channel, the mean output error of the rounded weights: error · E[input]."""
    if node.op == "Gemm":
        return (mean.reshape(-1, 1) * error).sum(0) if not node.attrs.get("transB", 0) else error @ mean.reshape(-1)
    if node.op == "DepthwiseConv":                       # OHW1, output channel c reads input c // m
        multiplier = error.shape[0] // mean.size
        return error.sum((1, 2, 3)) * np.repeat(mean, multiplier)
    groups = int(node.attrs.get("group", 1))             # OHWI, I = in / groups
    per_group = error.shape[3]
    out_c = error.shape[0]
    means = mean.reshape(groups, per_group)[np.arange(out_c) // (out_c // groups)]
    return (error.sum((1, 2)) * means).sum(1)


# --- accuracy report -------------------------------------------------------------------------

def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when equal)."""
    ref = np.asarray(reference, np.float64).reshape(-1)
    noise = ref - np.asarray(test, np.float64).reshape(-1)
    signal, err = float(ref @ ref), float(noise @ noise)
    if err == 0:
        return math.inf
    return 10 * math.log10(max(signal, 1e-30) / err)


def layer_sqnr(float_graph: Graph, int8_graph: Graph, calibration, progress: bool = True) -> list[tuple[str, str, float]]:
    """(node, op, SQNR in dB) of every int8 node's output against the float graph's, over the data."""
    from .quant import dequantize
    samples = calibration_samples(float_graph, load_calibration(calibration))
    pairs = []
    for node in int8_graph.nodes:
        out = node.outputs[0] if node.outputs else ""
        if out.endswith(":int8") and out[:-5] in float_graph.tensors:
            pairs.append((node.name, node.op, out[:-5], out))
    if not pairs:
        return []
    f_obs = Observer(float_graph, [p[2] for p in pairs])
    q_obs = Observer(int8_graph, [p[3] for p in pairs])
    signal = {p[0]: 0.0 for p in pairs}
    noise = {p[0]: 0.0 for p in pairs}
    bar = _Progress(len(samples), "measuring per-layer SQNR", progress)
    try:
        for i, inputs in enumerate(samples):
            fv, qv = f_obs.run(inputs), q_obs.run(inputs)
            for name, _, f_name, q_name in pairs:
                q = int8_graph.tensors[q_name].quant
                ref = fv[f_name].astype(np.float64).reshape(-1)
                deq = dequantize(qv[q_name], q.scale[0], q.zero_point[0]).astype(np.float64).reshape(-1)
                signal[name] += float(ref @ ref)
                noise[name] += float((ref - deq) @ (ref - deq))
            bar.update(i + 1)
    finally:
        bar.close()
    return [(name, op, math.inf if noise[name] == 0 else 10 * math.log10(max(signal[name], 1e-30) / noise[name]))
            for name, op, _, _ in pairs]


def quantize_and_measure(source, input_shapes: dict | None = None, target: str = "x86_64", quantize: str = "int8",
                         calibration=None, calibration_method: str = "percentile", **options):
    """The quantized plan of a model file and the per-layer SQNR of its int8 ops against the float
    model on the calibration data (``tinyjit inspect --quantize int8``)."""
    from . import passes, pipeline, plan
    float_graph = passes.optimize(pipeline.import_model(source, input_shapes))
    int8_graph = pipeline.quantize_graph(float_graph, quantize, calibration, calibration_method, **options)
    rows = layer_sqnr(float_graph, int8_graph, calibration, progress=options.get("progress", True))
    return plan.build(int8_graph, target), rows
