"""Layout: NCHW spatial ops become NHWC (the MCU convention), then transposes cancel.

``to_nhwc`` wraps each 4-D NCHW spatial op in a pair of transposes and turns its weights OIHW
into OHWI at convert time. ``cancel_transposes`` then sinks transposes through ops that do not
care about layout (elementwise ops), cancels inverse pairs, and turns transposes that move no
data (only size-1 dims change places) into reshapes. For a CNN only the transposes at the
graph's edges remain, and a model that already takes NHWC input (tf2onnx) keeps none.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Tensor

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
SPATIAL = {"Conv", "AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool"}
UNARY = {"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "Selu", "Exp",
         "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos",
         "Softplus", "Gelu", "Mish", "Cast", "Not", "Celu", "ThresholdedRelu", "Softsign"}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
          "And", "Or", "Xor", "PRelu", "LessOrEqual", "GreaterOrEqual", "Mod"}


def _perm(shape, perm):
    return tuple(shape[p] for p in perm)


def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


def to_nhwc(graph: Graph) -> Graph:
    g = graph.copy()
    nodes: list[Node] = []
    for node in g.nodes:
        x = g.tensors.get(node.inputs[0]) if node.inputs else None
        if (node.op not in SPATIAL or node.domain or node.attrs.get("channels_last")
                or x is None or len(x.shape) != 4 or (node.op == "MaxPool" and len(node.outputs) > 1)):
            nodes.append(node)
            continue
        if node.op == "Conv" and not g.tensors[node.inputs[1]].is_const:
            nodes.append(node)
            continue
        x_nhwc = g.unique_name(f"{node.inputs[0]}/nhwc")
        g.tensors[x_nhwc] = Tensor(x_nhwc, x.dtype, _perm(x.shape, TO_NHWC), quant=x.quant)
        nodes.append(Node("Transpose", f"{node.name}/to_nhwc", [node.inputs[0]], [x_nhwc], {"perm": list(TO_NHWC)}))
        y = g.tensors[node.outputs[0]]
        y_nhwc = g.unique_name(f"{node.outputs[0]}/nhwc")
        g.tensors[y_nhwc] = Tensor(y_nhwc, y.dtype, _perm(y.shape, TO_NHWC), quant=y.quant)
        node.inputs = [x_nhwc] + node.inputs[1:]
        original_out = node.outputs[0]
        node.outputs = [y_nhwc]
        node.attrs["channels_last"] = 1
        if node.op == "Conv":
            w = g.tensors[node.inputs[1]].data
            quant = g.tensors[node.inputs[1]].quant     # int8 weights: per output channel, axis 0 still
            node.inputs[1] = g.add_const(f"{node.inputs[1]}/ohwi", np.ascontiguousarray(w.transpose(0, 2, 3, 1)))
            g.tensors[node.inputs[1]].quant = quant
            groups = int(node.attrs.get("group", 1))
            if groups > 1 and groups == x.shape[1] and w.shape[1] == 1:
                node.op = "DepthwiseConv"
        nodes.append(node)
        nodes.append(Node("Transpose", f"{node.name}/to_nchw", [y_nhwc], [original_out], {"perm": list(TO_NCHW)}))
    g.nodes = nodes
    return g


def cancel_transposes(graph: Graph) -> Graph:
    g = graph.copy()
    for _ in range(10 * len(g.nodes) + 10):
        if not (_sink_one(g) or _merge_one(g)):
            break
    _moves_no_data_to_reshape(g)
    return g


def _sink_one(g: Graph) -> bool:
    """Move one transpose below its single elementwise consumer."""
    producers = g.producers()
    users = g.consumers()
    for t in g.nodes:
        if t.op != "Transpose" or t.outputs[0] in g.outputs:
            continue
        consumers = users.get(t.outputs[0], [])
        if len(consumers) != 1:
            continue
        op = consumers[0]
        if op.domain or op.attrs.get("channels_last") or len(op.outputs) != 1:
            continue
        perm = tuple(t.attrs["perm"])
        if op.op in UNARY and op.inputs[0] == t.outputs[0]:
            new_inputs = [t.inputs[0]] + op.inputs[1:]
        elif op.op in BINARY:
            new_inputs = _binary_inputs(g, op, t, perm, producers)
            if new_inputs is None:
                continue
        elif op.op == "Concat":   # every input transposed alike: concatenate along the permuted axis
            new_inputs = _binary_inputs(g, op, t, perm, producers)
            if new_inputs is None or any(len(g.tensors[n].shape) != len(perm) for n in op.inputs):
                continue
            op.attrs["axis"] = perm[int(op.attrs.get("axis", 0)) % len(perm)]
        elif op.op == "Resize" and op.inputs[0] == t.outputs[0] and len(op.inputs) == 1 and g.opset >= 11:
            _permute_resize_attrs(op, perm)   # Resize is per axis: its scales/sizes/roi follow the axes
            new_inputs = [t.inputs[0]]
        else:
            continue
        out = g.tensors[op.outputs[0]]
        pre = g.unique_name(f"{op.outputs[0]}/pre")
        g.tensors[pre] = Tensor(pre, out.dtype, _perm(out.shape, _inverse(perm)), quant=out.quant)
        op.inputs = new_inputs
        final = op.outputs[0]
        op.outputs = [pre]
        idx = g.nodes.index(op)
        g.nodes.insert(idx + 1, Node("Transpose", g.unique_name(f"{op.name}/sunk"), [pre], [final],
                                     {"perm": list(perm)}))
        g.nodes.remove(t)
        return True
    return False


def _permute_resize_attrs(op: Node, perm) -> None:
    """Resize(Transpose(x, perm)) as Transpose(Resize'(x), perm): per-axis attributes move with the axes."""
    inv = _inverse(perm)
    axes = op.attrs.get("axes")
    if axes:
        op.attrs["axes"] = [perm[a % len(perm)] for a in axes]
        return
    for key in ("scales", "sizes"):
        if op.attrs.get(key):
            op.attrs[key] = [op.attrs[key][inv[d]] for d in range(len(perm))]
    roi = op.attrs.get("roi")
    if roi:
        n = len(perm)
        op.attrs["roi"] = [roi[inv[d]] for d in range(n)] + [roi[n + inv[d]] for d in range(n)]


def _binary_inputs(g: Graph, op: Node, t: Node, perm, producers) -> list | None:
    """Both operands seen before ``t``'s permutation, or None if that needs data movement."""
    rank = len(perm)
    inv = _inverse(perm)
    new = []
    for name in op.inputs:
        src = g.tensors[name]
        p = producers.get(name)
        if name == t.outputs[0]:
            new.append(t.inputs[0])
        elif p is not None and p.op == "Transpose" and tuple(p.attrs["perm"]) == perm and len(
                g.consumers()[name]) == 1:
            new.append(p.inputs[0])
        elif src.is_const and len(src.shape) <= rank:
            data = src.data.reshape((1,) * (rank - src.data.ndim) + src.data.shape)
            new.append(g.add_const(f"{name}/perm", np.ascontiguousarray(data.transpose(inv))))
        else:
            return None
    return new


def _merge_one(g: Graph) -> bool:
    """Transpose of a transpose is one transpose (or none)."""
    producers = g.producers()
    users = g.consumers()
    for t2 in g.nodes:
        if t2.op != "Transpose":
            continue
        t1 = producers.get(t2.inputs[0])
        if t1 is None or t1.op != "Transpose":
            continue
        p1, p2 = t1.attrs["perm"], t2.attrs["perm"]
        combined = [p1[p] for p in p2]
        if combined == sorted(combined):
            _replace_uses(g, t2.outputs[0], t1.inputs[0], t2)
        else:
            t2.inputs = [t1.inputs[0]]
            t2.attrs["perm"] = combined
        if len(users.get(t1.outputs[0], [])) == 1 and t1.outputs[0] not in g.outputs:
            g.nodes.remove(t1)
        return True
    return False


def _replace_uses(g: Graph, old: str, new: str, node: Node) -> None:
    """Drop identity ``node`` (old = node's output) and let readers of ``old`` read ``new``."""
    if old in g.outputs:
        producer = g.producers().get(new)
        if producer is None or new in g.outputs:   # a graph input or output: keep a named alias
            node.op, node.attrs = "Identity", {}
            node.inputs = [new]
            return
        g.nodes.remove(node)   # let the producer write the graph output directly
        g.tensors[old] = Tensor(old, g.tensors[new].dtype, g.tensors[new].shape, quant=g.tensors[new].quant)
        old, new = new, old
        producer.outputs = [new if o == old else o for o in producer.outputs]
        node = None
    for n in g.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
    if node is not None:
        g.nodes.remove(node)


def _moves_no_data_to_reshape(g: Graph) -> None:
    for t in g.nodes:
        if t.op != "Transpose":
            continue
        shape = g.tensors[t.inputs[0]].shape
        kept = [p for p in t.attrs["perm"] if shape[p] != 1]
        if kept == sorted(kept):
            t.op, t.attrs = "Reshape", {}
