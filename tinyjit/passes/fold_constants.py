"""Constant folding: a node whose inputs are all constants becomes a constant.

Nodes with ONNX semantics are evaluated by onnx's reference implementation, so folding agrees
with the spec; NHWC-converted nodes (channels_last) are left alone.
"""
from __future__ import annotations

import numpy as np

from .. import onnx_eval
from ..frontends.onnx_frontend import INPUTS_AS_ATTRS
from ..ir import Graph, Tensor

NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}
# int8 weights: the ONNX frontend leaves DequantizeLinear unfolded and passes/qdq.py, which runs
# first, takes the weights its integer ops want as int8 constants; what it leaves folds to float here.


def fold_constants(graph: Graph) -> Graph:
    g = graph.copy()
    keep = []
    for node in g.nodes:
        value = _fold(node, g)
        if value is None:
            keep.append(node)
            continue
        for name, arr in zip(node.outputs, value):
            if not name:
                continue
            old = g.tensors.get(name)
            arr = np.asarray(arr)
            if old is not None and old.dtype != arr.dtype:
                arr = arr.astype(old.dtype)
            g.tensors[name] = Tensor(name, arr.dtype, arr.shape, arr)
    g.nodes = keep
    return g


def _fold(node, g: Graph):
    if node.op in NEVER_FOLD or node.attrs.get("channels_last") or node.domain not in ("", "ai.onnx"):
        return None
    if node.op in ("Shape", "Size"):
        t = g.tensors[node.inputs[0]]
        if node.op == "Size":
            return [np.array(t.size, np.int64)]
        start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
        return [np.array(t.shape[start:end], np.int64)]
    inputs = [i for i in node.inputs if i]
    if not inputs or not all(g.tensors[i].is_const for i in inputs):
        return None
    if node.op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand"):
        out = g.tensors[node.outputs[0]]   # static shape known: no need to evaluate
        return [np.broadcast_to(g.tensors[node.inputs[0]].data, out.shape).reshape(out.shape)
                if node.op == "Expand" else g.tensors[node.inputs[0]].data.reshape(out.shape)]
    if node.op in INPUTS_AS_ATTRS or any(k.startswith("act_") for k in node.attrs):
        return None   # normalized away from the spec's form; the frontend folded these already
    try:
        return onnx_eval.evaluate(node.op, node.attrs, [g.const(i) if i else None for i in node.inputs],
                                  len(node.outputs), g.opset)
    except Exception:
        return None
