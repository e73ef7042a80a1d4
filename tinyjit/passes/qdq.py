"""QDQ folding: QuantizeLinear/DequantizeLinear around float ops become integer ops on int8 tensors.

A quantized ONNX model in QDQ form (onnxruntime's quantizer, tf2onnx from an int8 TFLite model)
computes every quantized op as

    x_q ─DQ─▶ x ─Op─▶ y ─[Relu | Clip]─▶ Q ─▶ y_q        weights w_q ─DQ─▶ w, bias b_q ─DQ─▶ b

``fold_qdq`` rewrites each such group into the single integer op the int8 kernels run, in the IR
convention the TFLite frontend produces directly (docs/quantization.md): the same op type on
int8/uint8 tensors that carry ``Quant``, int8 weights quantized per output channel, an int32
bias, the activation as ``act_min``/``act_max``. MatMul (+ bias Add) becomes Gemm. QLinearConv,
QLinearMatMul, ConvInteger and MatMulInteger map to the same ops. A DequantizeLinear feeding a
QuantizeLinear is a requantization (QuantizeLinear with an integer input). Whatever matches no
pattern keeps its float op between the DequantizeLinear / QuantizeLinear kernels.

The pass runs before constant folding, so weights still sit behind their DequantizeLinear
(the ONNX frontend does not fold those); what it leaves is folded to float afterwards.
"""
from __future__ import annotations

import numpy as np

from .. import registry
from ..errors import TinyJitError
from ..ir import Graph, Node, Quant, Tensor
from ..quant import check_quant, make_quant

QTYPES = ("int8", "uint8")
# ops whose int8 kernel computes with the quantization of its inputs and output
ARITHMETIC = {"Conv", "MatMul", "Gemm", "Add", "Mul", "AveragePool", "GlobalAveragePool", "Softmax",
              "Sigmoid", "Tanh", "HardSwish", "ReduceMean", "Concat", "LeakyRelu"}
# ops that only move or select values: folded when input and output share scale and zero point
MOVES = {"MaxPool", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Pad", "Slice",
         "GlobalMaxPool", "DepthToSpace", "SpaceToDepth", "Resize"}
ACTIVATIONS = {"Relu", "Clip"}
CONST_INPUTS = {"Conv": (1, 2), "MatMul": (1,), "Gemm": (1, 2)}   # input positions holding weights/bias


def fold_qdq(graph: Graph) -> Graph:
    g = graph.copy()
    if not any(n.op in ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
                        "ConvInteger", "MatMulInteger") and not n.domain for n in g.nodes):
        return g
    for node in g.nodes:
        if node.op in ("QuantizeLinear", "DequantizeLinear") and not node.domain:
            _check_qdq_node(node, g)
    g.nodes = [n for node in g.nodes for n in _qlinear(node, g)]
    _annotate_qdq_tensors(g)
    _fold_groups(g)
    _fold_requantize(g)
    _propagate_through_moves(g)
    return g


# --- Q / DQ nodes ----------------------------------------------------------------------------

def _qdq_quant(node: Node, g: Graph, int_name: str) -> Quant:
    """The Quant a Q/DQ node states for its integer tensor ``int_name``."""
    scale = g.const(node.inputs[1])
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    zero_point = g.const(zp_name) if zp_name else np.zeros(1, np.int64)
    rank = len(g.tensors[int_name].shape)
    axis = int(node.attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    return make_quant(scale, zero_point, axis if np.size(scale) > 1 else None)


def _annotate_qdq_tensors(g: Graph) -> None:
    """The integer side of every Q/DQ node carries the node's Quant, so an op between them that no
    pattern folds (a user's custom-domain int8 kernel, say) still sees its scales and zero points."""
    for node in g.nodes:
        if node.domain or node.op not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        name = node.outputs[0] if node.op == "QuantizeLinear" else node.inputs[0]
        t = g.tensors.get(name)
        if t is not None and t.quant is None and not t.is_const and t.dtype.name in QTYPES:
            t.quant = _qdq_quant(node, g, name)


def _check_qdq_node(node: Node, g: Graph) -> None:
    """Scale and zero point are constants that make sense: a clear error otherwise."""
    where = f"node {node.name} ({node.op})"
    for i in (1, 2):
        if len(node.inputs) > i and node.inputs[i] and g.const(node.inputs[i]) is None:
            raise TinyJitError(f"{where}: its {'scale' if i == 1 else 'zero point'} must be a constant")
    if node.attrs.get("block_size", 0):
        raise TinyJitError(f"{where}: blocked quantization (block_size) is not supported")
    int_name = node.outputs[0] if node.op == "QuantizeLinear" else node.inputs[0]
    t = g.tensors[int_name]
    probe = Tensor(t.name, t.dtype, t.shape, quant=_qdq_quant(node, g, int_name))
    check_quant(probe, where)


def _dq_source(name: str, g: Graph, producers: dict):
    """``name`` = DequantizeLinear(int tensor): (integer tensor name, its Quant), else None."""
    dq = producers.get(name)
    if dq is None or dq.op != "DequantizeLinear" or dq.domain:
        return None
    src = g.tensors[dq.inputs[0]]
    if src.dtype.name not in QTYPES + ("int32",):
        return None
    return dq.inputs[0], _qdq_quant(dq, g, dq.inputs[0])


def _single_user(name: str, g: Graph, users: dict):
    found = users.get(name, [])
    return found[0] if len(found) == 1 and name not in g.outputs else None


def _q_sink(name: str, g: Graph, users: dict):
    """``name`` → [Relu | Clip] → QuantizeLinear, each the only reader: (Q node, act nodes, lo, hi)."""
    node = _single_user(name, g, users)
    acts, lo, hi = [], None, None
    while node is not None and node.op in ACTIVATIONS and not node.domain:
        a_lo, a_hi = (0.0, None) if node.op == "Relu" else (node.attrs.get("min"), node.attrs.get("max"))
        if any(i and g.const(i) is None for i in node.inputs[1:]):
            return None
        lo = a_lo if lo is None else (lo if a_lo is None else max(lo, float(a_lo)))
        hi = a_hi if hi is None else (hi if a_hi is None else min(hi, float(a_hi)))
        acts.append(node)
        node = _single_user(node.outputs[0], g, users)
    if node is None or node.op != "QuantizeLinear" or node.domain:
        return None
    out = g.tensors[node.outputs[0]]
    if out.dtype.name not in QTYPES:
        return None
    quant = _qdq_quant(node, g, out.name)
    if quant.per_channel:
        return None
    return node, acts, lo, hi, quant


def _same(a: Quant | None, b: Quant | None) -> bool:
    return (a is not None and b is not None and a.scale.size == b.scale.size
            and np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point))


# --- the rewrite -----------------------------------------------------------------------------

def _fold_groups(g: Graph) -> None:
    producers, users = g.producers(), g.consumers()
    removed: set[int] = set()
    out: list[Node] = []
    for node in g.nodes:
        if id(node) in removed:
            continue
        new = _fold_one(node, g, producers, users) if not node.domain else None
        if new is None:
            out.append(node)
            continue
        folded, dropped = new
        removed.update(id(n) for n in dropped)
        out.append(folded)
    g.nodes = [n for n in out if id(n) not in removed]


def _fold_one(node: Node, g: Graph, producers: dict, users: dict):
    if node.op not in ARITHMETIC | MOVES or not node.outputs or not node.inputs:
        return None
    y = node.outputs[0]
    chain_start, extra, bias_from_add = y, [], None
    if node.op == "MatMul":                                 # MatMul + Add(bias) = Gemm
        add = _single_user(y, g, users)
        if add is not None and add.op == "Add" and not add.domain:
            other = add.inputs[1] if add.inputs[0] == y else add.inputs[0]
            if _const_or_dq_const(other, g, producers):
                chain_start, extra, bias_from_add = add.outputs[0], [add], other
    sink = _q_sink(chain_start, g, users)
    if sink is None:
        return None
    q, acts, lo, hi, out_quant = sink
    op = "Gemm" if node.op == "MatMul" else node.op
    if op in ("Gemm",) and node.op == "MatMul" and (len(g.tensors[node.inputs[0]].shape) != 2):
        return None
    q_out = g.tensors[q.outputs[0]]
    if registry.find(op, q_out.dtype.name if op in MOVES else _first_int_dtype(node, g, producers)) is None \
            and op not in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        return None
    consts = CONST_INPUTS.get(node.op, ())
    inputs, in_quants = [], []
    for i, name in enumerate(node.inputs):
        if not name:
            inputs.append(name)
            continue
        if i in consts:
            inputs.append(name)               # resolved below, once the input scale is known
            continue
        src = _dq_source(name, g, producers)
        if src is None or g.tensors[src[0]].dtype.name not in QTYPES:
            return None
        int_name, quant = src
        t = g.tensors[int_name]
        if quant.per_channel and not t.is_const:
            return None
        if t.quant is not None and not _same(t.quant, quant):
            return None                        # read at two scales: leave it float
        inputs.append(int_name)
        in_quants.append((t, quant))
    if op in MOVES and not all(_same(qt, out_quant) for _, qt in in_quants):
        return None
    if q_out.quant is not None and not _same(q_out.quant, out_quant):
        return None
    if consts:
        if not in_quants:
            return None
        in_scale = float(in_quants[0][1].scale[0])
        resolved = _weights_and_bias(node, g, producers, inputs, in_scale, bias_from_add)
        if resolved is None:
            return None
        inputs = resolved
    for t, quant in in_quants:
        t.quant = quant
    q_out.quant = out_quant
    attrs = dict(node.attrs)
    if node.op == "MatMul":
        attrs = {"transB": 0}
    if lo is not None:
        attrs["act_min"] = float(lo)
    if hi is not None:
        attrs["act_max"] = float(hi)
    folded = Node(op, node.name, inputs, [q.outputs[0]], attrs)
    return folded, [node, q, *acts, *extra]


def _first_int_dtype(node: Node, g: Graph, producers: dict) -> str:
    src = _dq_source(node.inputs[0], g, producers)
    return g.tensors[src[0]].dtype.name if src else "float32"


def _const_or_dq_const(name: str, g: Graph, producers: dict) -> bool:
    if g.tensors[name].is_const:
        return True
    src = _dq_source(name, g, producers)
    return src is not None and g.tensors[src[0]].is_const


def _weights_and_bias(node: Node, g: Graph, producers: dict, inputs: list, in_scale: float, bias_from_add):
    """Weights as int8 constants with Quant, the bias as int32 (quantized here when it is float)."""
    w_src = _dq_source(node.inputs[1], g, producers)
    if w_src is None or not g.tensors[w_src[0]].is_const or g.tensors[w_src[0]].dtype.name not in QTYPES:
        return None
    w_name, w_quant = w_src
    wt = g.tensors[w_name]
    out_axis = 1 if node.op == "MatMul" or (node.op == "Gemm" and not node.attrs.get("transB", 0)) else 0
    if w_quant.per_channel and w_quant.axis != out_axis:
        return None
    if node.op == "Gemm" and (node.attrs.get("transA", 0) or float(node.attrs.get("alpha", 1.0)) != 1.0
                              or float(node.attrs.get("beta", 1.0)) != 1.0):
        return None
    w_int = g.unique_name(f"{w_name}/int8")
    g.tensors[w_int] = Tensor(w_int, wt.dtype, wt.shape, wt.data, w_quant)
    out_c = wt.shape[out_axis]
    bias_name = bias_from_add if bias_from_add is not None else (node.inputs[2] if len(node.inputs) > 2 else "")
    new = [inputs[0], w_int]
    if bias_name:
        b = _int32_bias(bias_name, g, producers, in_scale, w_quant, out_c)
        if b is None:
            return None
        new.append(b)
    return new


def _int32_bias(name: str, g: Graph, producers: dict, in_scale: float, w_quant: Quant, out_c: int):
    scale = (np.float32(in_scale) * w_quant.scale.astype(np.float32)).reshape(-1)
    src = _dq_source(name, g, producers)
    if src is not None:
        data, quant = g.tensors[src[0]].data, src[1]
        if data is None or g.tensors[src[0]].dtype.name != "int32":
            return None
        values = data.reshape(-1).astype(np.int64)
        if not np.allclose(quant.scale.reshape(-1), scale, rtol=1e-3):   # a bias at another scale: re-quantize
            values = np.rint(values * quant.scale.astype(np.float64).reshape(-1) / scale.astype(np.float64))
    else:
        data = g.tensors[name].data
        if data is None:
            return None
        values = np.rint(data.astype(np.float64).reshape(-1) / scale.astype(np.float64))
    if values.size not in (1, out_c):
        return None
    values = np.broadcast_to(values, (out_c,))
    if np.abs(values).max(initial=0) >= 2**31:
        return None
    name = g.unique_name(f"{name}/int32")
    g.tensors[name] = Tensor(name, np.int32, (out_c,), values.astype(np.int32), make_quant(scale, np.zeros(scale.size),
                                                                                          0 if scale.size > 1 else None))
    return name


def _fold_requantize(g: Graph) -> None:
    """DQ → Q with nothing between: the same values (an alias) or a requantization."""
    producers = g.producers()
    rename: dict[str, str] = {}
    out = []
    for node in g.nodes:
        node.inputs = [rename.get(i, i) for i in node.inputs]
        if node.op != "QuantizeLinear" or node.domain:
            out.append(node)
            continue
        src = _dq_source(node.inputs[0], g, producers)
        if src is None or g.tensors[src[0]].dtype.name not in QTYPES or src[1].per_channel:
            out.append(node)
            continue
        int_name, in_quant = src
        y = g.tensors[node.outputs[0]]
        out_quant = _qdq_quant(node, g, y.name)
        if out_quant.per_channel:
            out.append(node)
            continue
        x = g.tensors[int_name]
        if x.quant is not None and not _same(x.quant, in_quant):
            out.append(node)
            continue
        x.quant, y.quant = in_quant, out_quant
        if _same(in_quant, out_quant) and x.dtype == y.dtype and y.name not in g.outputs:
            rename[y.name] = int_name
            continue
        out.append(Node("QuantizeLinear", node.name, [int_name, *node.inputs[1:]], [y.name], dict(node.attrs)))
    g.nodes = out
    g.outputs = [rename.get(o, o) for o in g.outputs]


def _propagate_through_moves(g: Graph) -> None:
    """An integer tensor reshaped or transposed keeps its quantization, in both directions, so
    the int8 ops still find it once the layout passes have cancelled the transposes."""
    moves = [n for n in g.nodes if n.op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity")
             and not n.domain and n.inputs and n.outputs]
    for _ in range(len(moves) + 1):
        changed = False
        for n in moves:
            a, b = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
            if a.dtype != b.dtype or a.dtype.name not in QTYPES or (a.quant is None) == (b.quant is None):
                continue
            src, dst = (a, b) if a.quant is not None else (b, a)
            if not src.quant.per_channel:
                dst.quant = Quant(src.quant.scale.copy(), src.quant.zero_point.copy(), None)
                changed = True
        if not changed:
            break


# --- QLinear* / *Integer ops -----------------------------------------------------------------

def _qlinear(node: Node, g: Graph) -> list[Node]:
    if node.domain or node.op not in ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"):
        return [node]
    where = f"node {node.name} ({node.op})"

    def quant_of(tensor: str, scale: str, zp: str, axis=None) -> None:
        s = g.const(scale) if scale else np.ones(1, np.float32)
        z = g.const(zp) if zp else np.zeros(1, np.int64)
        if s is None or (zp and z is None):
            raise TinyJitError(f"{where}: scales and zero points must be constants")
        t = g.tensors[tensor]
        quant = make_quant(s, z, axis if np.size(s) > 1 else None)
        if t.quant is not None and not _same(t.quant, quant):
            raise TinyJitError(f"{where}: tensor {tensor!r} is read with two different quantizations")
        t.quant = quant
        check_quant(t, where)

    ins = list(node.inputs) + [""] * 9
    if node.op == "QLinearConv":
        x, w, y, b = ins[0], ins[3], node.outputs[0], ins[8]
        quant_of(x, ins[1], ins[2])
        quant_of(w, ins[4], ins[5], 0)
        quant_of(y, ins[6], ins[7])
        inputs = [x, w] + ([b] if b else [])
        return [Node("Conv", node.name, inputs, [y], dict(node.attrs))]
    if node.op == "QLinearMatMul":
        a, b, y = ins[0], ins[3], node.outputs[0]
        quant_of(a, ins[1], ins[2])
        quant_of(b, ins[4], ins[5], 1)
        quant_of(y, ins[6], ins[7])
        return [Node("Gemm", node.name, [a, b], [y], {"transB": 0})]
    x, w, y = ins[0], ins[1], node.outputs[0]            # ConvInteger / MatMulInteger: int32 out
    quant_of(x, "", ins[2])
    quant_of(w, "", ins[3], 0 if node.op == "ConvInteger" else 1)
    op = "Conv" if node.op == "ConvInteger" else "Gemm"
    attrs = dict(node.attrs) if op == "Conv" else {"transB": 0}
    return [Node(op, node.name, [x, w], [y], attrs)]
