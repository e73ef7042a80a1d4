"""Fusions: BatchNorm into the producing Conv/Gemm, MatMul+Add into Gemm, activations into producers."""
from __future__ import annotations

import numpy as np

from ..ir import Graph

ACTIVATION_HOSTS = {"Conv", "DepthwiseConv", "Gemm", "AveragePool", "MaxPool"}


def _single_consumer(g: Graph, name: str):
    users = g.consumers().get(name, [])
    return users[0] if len(users) == 1 and name not in g.outputs else None


def fuse_batchnorm(graph: Graph) -> Graph:
    """Conv → BatchNormalization (inference) becomes one Conv with scaled weights and bias."""
    g = graph.copy()
    producers = g.producers()
    drop = set()
    for bn in g.nodes:
        if bn.op != "BatchNormalization" or len([o for o in bn.outputs if o]) != 1:
            continue
        conv = producers.get(bn.inputs[0])
        if conv is None or conv.op not in ("Conv", "DepthwiseConv") or _single_consumer(g, bn.inputs[0]) is not bn:
            continue
        params = [g.const(n) for n in bn.inputs[1:5]]
        w = g.const(conv.inputs[1])
        if any(p is None for p in params) or w is None:
            continue
        gamma, beta, mean, var = (p.astype(np.float64) for p in params)
        scale = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        out_axis = 0   # OIHW and OHWI both keep output channels first
        shape = [1] * w.ndim
        shape[out_axis] = -1
        bias = g.const(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else np.zeros(w.shape[0])
        new_w = (w.astype(np.float64) * scale.reshape(shape)).astype(w.dtype)
        new_b = ((bias.astype(np.float64) - mean) * scale + beta).astype(w.dtype)
        conv.inputs = [conv.inputs[0], g.add_const(f"{conv.name}/w_bn", new_w), g.add_const(f"{conv.name}/b_bn", new_b)]
        conv.outputs = [bn.outputs[0]]
        drop.add(id(bn))
    g.nodes = [n for n in g.nodes if id(n) not in drop]
    return g


def matmul_add_to_gemm(graph: Graph) -> Graph:
    """2-D MatMul by a constant (+ a constant bias Add) becomes Gemm: a fully connected layer."""
    g = graph.copy()
    drop = set()
    for mm in g.nodes:
        if mm.op != "MatMul" or mm.domain:
            continue
        a, b = (g.tensors[n] for n in mm.inputs)
        if len(a.shape) != 2 or not b.is_const or len(b.shape) != 2 or a.dtype != np.float32:
            continue
        mm.op, mm.attrs = "Gemm", {}
        add = _single_consumer(g, mm.outputs[0])
        if add is not None and add.op == "Add":
            other = add.inputs[1] if add.inputs[0] == mm.outputs[0] else add.inputs[0]
            c = g.tensors[other]
            out = g.tensors[add.outputs[0]]
            if c.is_const and out.shape == g.tensors[mm.outputs[0]].shape and c.data.ndim <= 2:
                mm.inputs = mm.inputs + [other]
                mm.outputs = [add.outputs[0]]
                drop.add(id(add))
    g.nodes = [n for n in g.nodes if id(n) not in drop]
    return g


def _activation_bounds(node, g: Graph):
    if node.op == "Relu":
        return 0.0, None
    if node.op == "Clip":
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
        return (None if lo is None else float(lo)), (None if hi is None else float(hi))
    return None


def fuse_activations(graph: Graph) -> Graph:
    """Relu / Clip after a conv, gemm, pool or add becomes the producer's output clamp."""
    g = graph.copy()
    producers = g.producers()
    drop = set()
    for act in g.nodes:
        bounds = _activation_bounds(act, g)
        if bounds is None:
            continue
        host = producers.get(act.inputs[0])
        if (host is None or host.op not in ACTIVATION_HOSTS or host.domain
                or g.tensors[act.inputs[0]].dtype != np.float32
                or _single_consumer(g, act.inputs[0]) is not act):
            continue
        lo, hi = bounds
        if lo is not None:
            host.attrs["act_min"] = max(lo, host.attrs.get("act_min", lo))
        if hi is not None:
            host.attrs["act_max"] = min(hi, host.attrs.get("act_max", hi))
        host.outputs = [act.outputs[0]]
        drop.add(id(act))
        producers = g.producers()
    g.nodes = [n for n in g.nodes if id(n) not in drop]
    return g
