"""Lowering: op forms no kernel takes become forms kernels take (ONNX semantics kept).

``lower_ops`` (early in the pipeline):
- Sum/Max/Min of one input is an Identity, of more than two a chain of two-input nodes; Mean of
  n != 2 inputs is a Sum chain divided by n.
- A Reduce* with no axes and noop_with_empty_axes=1 is an Identity.
- Dropout in inference (or with ratio 0) is an Identity, its mask a constant all-True tensor;
  training-mode Dropout is random and refused.
- Gemm whose B or C is computed at run time becomes Transpose/MatMul/Mul/Add (the Gemm kernel
  packs a constant B and bias at convert time).
- 1-D Conv/AveragePool/GlobalAveragePool are 2-D ones with H = 1, between Reshapes.
- 3-D AveragePool is two 2-D ones: over (H, W) with C*D images, then over D. A box average
  factors per axis, the divisor included (with or without pads), so this is exact.
- ConvTranspose of any rank runs channels-last, between Transposes that the layout pass cancels.
- A Transpose without ``perm`` gets the default one (reversed dims) written out.

``constant_outputs`` (last): a graph output that folding turned into a constant is written by a
Constant node, so the plan has a step that produces it.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir import Graph, Node, Tensor

VARIADIC = {"Sum": "Sum", "Max": "Max", "Min": "Min", "Mean": "Sum"}
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def lower_ops(graph: Graph) -> Graph:
    g = graph.copy()
    nodes: list[Node] = []
    for node in g.nodes:
        if node.domain:
            nodes.append(node)
            continue
        rule = _RULES.get(node.op)
        nodes.extend(rule(node, g) if rule else [node])
    g.nodes = nodes
    return g


def constant_outputs(graph: Graph) -> Graph:
    g = graph.copy()
    nodes = []
    for node in g.nodes:   # reshapes of constants (lowering may leave such Identities)
        src = g.tensors.get(node.inputs[0]) if node.inputs and node.inputs[0] else None
        if node.op in ALIASES and not node.domain and src is not None and src.is_const:
            out = g.tensors[node.outputs[0]]
            g.tensors[out.name] = Tensor(out.name, out.dtype, out.shape, src.data.reshape(out.shape))
            continue
        nodes.append(node)
    for name in g.outputs:
        t = g.tensors[name]
        if t.is_const and not any(name in n.outputs for n in nodes):
            nodes.append(Node("Constant", g.unique_name(f"{name}/constant"), [], [name], {"value": t.data}))
            g.tensors[name] = Tensor(name, t.dtype, t.shape, quant=t.quant)
    g.nodes = nodes
    return g


# --- rules: node -> nodes that replace it ----------------------------------------------------------

def _tensor(g: Graph, base: str, like: Tensor, shape) -> str:
    name = g.unique_name(base)
    g.tensors[name] = Tensor(name, like.dtype, tuple(shape))
    return name


def _identity(node: Node) -> Node:
    return Node("Identity", node.name, [node.inputs[0]], [node.outputs[0]])


def _variadic(node: Node, g: Graph) -> list[Node]:
    inputs = [i for i in node.inputs if i]
    if len(inputs) == 1:
        return [_identity(node)]
    if len(inputs) == 2:
        return [node]
    op = VARIADIC[node.op]
    y = g.tensors[node.outputs[0]]
    out, nodes = inputs[0], []
    for k, name in enumerate(inputs[1:], start=1):
        shape = np.broadcast_shapes(g.tensors[out].shape, g.tensors[name].shape)
        last = k == len(inputs) - 1 and node.op != "Mean"
        target = node.outputs[0] if last else _tensor(g, f"{node.outputs[0]}/partial{k}", y, shape)
        nodes.append(Node(op, f"{node.name}/{k}", [out, name], [target]))
        out = target
    if node.op == "Mean":
        count = g.add_const(f"{node.name}/count", np.array(len(inputs), y.dtype))
        nodes.append(Node("Div", f"{node.name}/mean", [out, count], [node.outputs[0]]))
    return nodes


def _reduce(node: Node, g: Graph) -> list[Node]:
    axes = node.attrs.get("axes")
    if node.attrs.get("noop_with_empty_axes", 0) and (axes is None or axes == []):
        return [_identity(node)]
    return [node]


def _dropout(node: Node, g: Graph) -> list[Node]:
    ratio = float(node.attrs.get("ratio", 0.5))
    training = bool(node.attrs.get("training_mode", 0))
    for index, kind in ((1, "ratio"), (2, "training_mode")):
        if len(node.inputs) > index and node.inputs[index]:
            value = g.const(node.inputs[index])
            if value is None:
                raise UnsupportedError(f"node {node.name} (Dropout): input {index} ({kind}) must be a constant")
            if kind == "ratio":
                ratio = float(value)
            else:
                training = bool(value)
    if training and ratio != 0:
        raise UnsupportedError(f"node {node.name} (Dropout): training mode with ratio {ratio} is random; "
                               "tinyjit runs inference only")
    if len(node.outputs) > 1 and node.outputs[1]:
        mask = g.tensors[node.outputs[1]]
        g.tensors[mask.name] = Tensor(mask.name, np.bool_, mask.shape, np.ones(mask.shape, np.bool_))
    return [_identity(node)]


def _gemm(node: Node, g: Graph) -> list[Node]:
    b_const = g.tensors[node.inputs[1]].is_const
    has_c = len(node.inputs) > 2 and bool(node.inputs[2])
    c_const = has_c and g.tensors[node.inputs[2]].is_const
    if b_const and (c_const or not has_c):
        return [node]
    a, b = (g.tensors[n] for n in node.inputs[:2])
    y = g.tensors[node.outputs[0]]
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    nodes = []
    if b_const:   # only C is computed: Gemm without C, then the bias added
        ab = _tensor(g, f"{node.outputs[0]}/ab", y, y.shape)
        nodes.append(Node("Gemm", node.name, node.inputs[:2], [ab],
                          {k: v for k, v in node.attrs.items() if k != "beta"}))
    else:
        operands = []
        for name, t, flag in ((a.name, a, "transA"), (b.name, b, "transB")):
            if node.attrs.get(flag, 0):
                tt = _tensor(g, f"{name}/T", t, t.shape[::-1])
                nodes.append(Node("Transpose", f"{node.name}/{flag}", [name], [tt], {"perm": [1, 0]}))
                name = tt
            operands.append(name)
        ab = _tensor(g, f"{node.outputs[0]}/ab", y, y.shape)
        nodes.append(Node("MatMul", f"{node.name}/matmul", operands, [ab]))
        if alpha != 1.0:
            scaled = _tensor(g, f"{node.outputs[0]}/alpha_ab", y, y.shape)
            nodes.append(Node("Mul", f"{node.name}/alpha", [ab, g.add_const(f"{node.name}/alpha",
                                                                            np.array(alpha, y.dtype))], [scaled]))
            ab = scaled
    if not has_c or beta == 0.0:
        nodes[-1].outputs = [node.outputs[0]]
        return nodes
    c = node.inputs[2]
    if beta != 1.0:
        ct = g.tensors[c]
        scaled_c = _tensor(g, f"{c}/beta", ct, ct.shape)
        nodes.append(Node("Mul", f"{node.name}/beta", [c, g.add_const(f"{node.name}/beta",
                                                                      np.array(beta, y.dtype))], [scaled_c]))
        c = scaled_c
    nodes.append(Node("Add", f"{node.name}/bias", [ab, c], [node.outputs[0]]))
    return nodes


def _one_d_to_two_d(node: Node, g: Graph) -> list[Node]:
    """N,C,L → N,C,1,L around a 1-D Conv/AveragePool/GlobalAveragePool; attributes get H entries."""
    x = g.tensors[node.inputs[0]]
    if len(x.shape) != 3 or node.attrs.get("channels_last"):
        return [node]
    if node.op == "Conv" and not g.tensors[node.inputs[1]].is_const:
        return [node]   # the Conv kernel refuses computed weights with its own message
    y = g.tensors[node.outputs[0]]
    n, c, length = x.shape
    x4 = _tensor(g, f"{x.name}/2d", x, (n, c, 1, length))
    y4 = _tensor(g, f"{y.name}/2d", y, (y.shape[0], y.shape[1], 1, y.shape[2]))
    attrs = dict(node.attrs)
    for key, lead in (("kernel_shape", 1), ("strides", 1), ("dilations", 1)):
        if key in attrs:
            attrs[key] = [lead] + list(attrs[key])
    if "pads" in attrs:
        attrs["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
    inputs = [x4] + node.inputs[1:]
    if node.op == "Conv":
        w = g.tensors[node.inputs[1]].data
        inputs[1] = g.add_const(f"{node.inputs[1]}/2d", w.reshape(w.shape[0], w.shape[1], 1, w.shape[2]))
    return [Node("Reshape", f"{node.name}/to_2d", [x.name], [x4]),
            Node(node.op, node.name, inputs, [y4], attrs),
            Node("Reshape", f"{node.name}/from_2d", [y4], [y.name])]


def _average_pool(node: Node, g: Graph) -> list[Node]:
    x = g.tensors[node.inputs[0]]
    if len(x.shape) != 5 or node.attrs.get("channels_last"):
        return _one_d_to_two_d(node, g)
    y = g.tensors[node.outputs[0]]
    n, c, d, h, w = x.shape
    d2, h2, w2 = y.shape[2:]
    k = list(node.attrs["kernel_shape"])
    s = list(node.attrs.get("strides", [1, 1, 1]))
    dil = list(node.attrs.get("dilations", [1, 1, 1]))
    p = list(node.attrs.get("pads", [0] * 6))
    common = {key: node.attrs[key] for key in ("ceil_mode", "count_include_pad") if key in node.attrs}
    x_hw = _tensor(g, f"{x.name}/hw", x, (n, c * d, h, w))
    y_hw = _tensor(g, f"{y.name}/hw", y, (n, c * d, h2, w2))
    x_d = _tensor(g, f"{y.name}/d_in", y, (n, c, d, h2 * w2))
    y_d = _tensor(g, f"{y.name}/d_out", y, (n, c, d2, h2 * w2))
    return [Node("Reshape", f"{node.name}/to_hw", [x.name], [x_hw]),
            Node("AveragePool", f"{node.name}/hw", [x_hw], [y_hw],
                 {**common, "kernel_shape": k[1:], "strides": s[1:], "dilations": dil[1:],
                  "pads": [p[1], p[2], p[4], p[5]]}),
            Node("Reshape", f"{node.name}/to_d", [y_hw], [x_d]),
            Node("AveragePool", f"{node.name}/d", [x_d], [y_d],
                 {**common, "kernel_shape": [k[0], 1], "strides": [s[0], 1], "dilations": [dil[0], 1],
                  "pads": [p[0], 0, p[3], 0]}),
            Node("Reshape", f"{node.name}/from_d", [y_d], [y.name])]


def _global_average_pool(node: Node, g: Graph) -> list[Node]:
    x = g.tensors[node.inputs[0]]
    if len(x.shape) == 4 or node.attrs.get("channels_last"):
        return [node]
    y = g.tensors[node.outputs[0]]
    n, c = x.shape[:2]
    x4 = _tensor(g, f"{x.name}/2d", x, (n, c, 1, x.size // max(n * c, 1)))
    y4 = _tensor(g, f"{y.name}/2d", y, (n, c, 1, 1))
    return [Node("Reshape", f"{node.name}/to_2d", [x.name], [x4]),
            Node(node.op, node.name, [x4], [y4], dict(node.attrs)),
            Node("Reshape", f"{node.name}/from_2d", [y4], [y.name])]


def _conv_transpose(node: Node, g: Graph) -> list[Node]:
    x = g.tensors[node.inputs[0]]
    if node.attrs.get("channels_last") or not 3 <= len(x.shape) <= 5:
        return [node]
    rank = len(x.shape)
    to_last = [0] + list(range(2, rank)) + [1]
    to_first = [0, rank - 1] + list(range(1, rank - 1))
    y = g.tensors[node.outputs[0]]
    x_last = _tensor(g, f"{x.name}/channels_last", x, [x.shape[p] for p in to_last])
    y_last = _tensor(g, f"{y.name}/channels_last", y, [y.shape[p] for p in to_last])
    attrs = {**node.attrs, "channels_last": 1}
    return [Node("Transpose", f"{node.name}/to_channels_last", [x.name], [x_last], {"perm": to_last}),
            Node(node.op, node.name, [x_last] + node.inputs[1:], [y_last], attrs),
            Node("Transpose", f"{node.name}/to_channels_first", [y_last], [y.name], {"perm": to_first})]


def _transpose(node: Node, g: Graph) -> list[Node]:
    if node.attrs.get("perm") is None:
        rank = len(g.tensors[node.inputs[0]].shape)
        node.attrs["perm"] = list(range(rank))[::-1]
    return [node]


_RULES = {"Sum": _variadic, "Max": _variadic, "Min": _variadic, "Mean": _variadic,
          **{op: _reduce for op in REDUCE},
          "Dropout": _dropout, "Gemm": _gemm,
          "Conv": _one_d_to_two_d, "AveragePool": _average_pool, "GlobalAveragePool": _global_average_pool,
          "ConvTranspose": _conv_transpose, "Transpose": _transpose}
