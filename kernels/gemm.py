"""Gemm: y = act(alpha * A' @ B' + beta * C) with B and C constant (a fully connected layer).

B is packed at convert time to [K, N] with alpha folded in, so the inner loop runs over
contiguous outputs.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import activation_range


@kernel(op="Gemm", dtypes=("float32",))
def gemm_f32(a, w, bias, y, trans_a, act_min, act_max):
    rows, cols = y.shape
    depth = w.shape[0]
    bias_rows = bias.shape[0]
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    for m in range(rows):
        r = m if bias_rows > 1 else 0
        for n in range(cols):
            y[m, n] = bias[r, n]
        for k in range(depth):
            av = a[k, m] if trans_a else a[m, k]
            for n in range(cols):
                y[m, n] += av * w[k, n]
        for n in range(cols):
            y[m, n] = min(max(y[m, n], lo), hi)


@gemm_f32.prepare
def _(node, graph, S):
    b = graph.const(node.inputs[1])
    if b is None:
        raise UnsupportedError(f"node {node.name}: Gemm with a non-constant B is not supported")
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 1.0))
    w = (b.T if node.attrs.get("transB", 0) else b).astype(np.float32) * np.float32(alpha)
    y = graph.tensors[node.outputs[0]]
    rows, cols = y.shape
    c = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if len(node.inputs) > 2 and node.inputs[2] and c is None:
        raise UnsupportedError(f"node {node.name}: Gemm with a non-constant C is not supported")
    if c is None:
        bias = np.zeros((1, cols), np.float32)
    else:
        c2 = np.broadcast_to(c.astype(np.float32) * np.float32(beta), (rows, cols))
        bias = c2[:1] if (c2 == c2[:1]).all() else c2
    return Call([node.inputs[0], np.ascontiguousarray(w), np.ascontiguousarray(bias), node.outputs[0]],
                [int(node.attrs.get("transA", 0)), *activation_range(node)], macs=rows * cols * w.shape[0])
