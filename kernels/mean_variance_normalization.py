"""MeanVarianceNormalization over any axes: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9).

The normalized elements of one output group are not contiguous in general (axes [0, 2, 3] of
NCHW), so prepare lists, once, the offset where each group starts and the offsets of a group's
elements relative to that start; the kernel walks these tables.
"""
import numpy as np

from tinyjit import Call, kernel

from ._reduce import reduced_axes
from ._strided import contiguous_strides


@kernel(op="MeanVarianceNormalization", dtypes=("float32",))
def mean_variance_normalization(x, y, starts, offsets):
    count = offsets.shape[0]
    for g in range(starts.shape[0]):
        base = starts[g]
        total = np.float32(0.0)
        squares = np.float32(0.0)
        for r in range(count):
            v = x[base + offsets[r]]
            total += v
            squares += v * v
        mean = total / count
        std = np.sqrt(max(squares / count - mean * mean, np.float32(0.0)))
        inv = np.float32(1.0) / (std + np.float32(1e-9))
        for r in range(count):
            y[base + offsets[r]] = (x[base + offsets[r]] - mean) * inv


def offset_table(shape, axes) -> np.ndarray:
    strides = contiguous_strides(shape)
    table = np.zeros([1], np.int64)
    for a in axes:
        table = (table[:, None] + np.arange(shape[a], dtype=np.int64)[None, :] * strides[a]).reshape(-1)
    return table


@mean_variance_normalization.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    if "axes" not in node.attrs:
        node = type(node)(node.op, node.name, node.inputs, node.outputs, {**node.attrs, "axes": [0, 2, 3]})
    axes = reduced_axes(node, len(x.shape))
    kept = [a for a in range(len(x.shape)) if a not in axes]
    return Call([(x.name, (x.size,)), (node.outputs[0], (x.size,)), offset_table(x.shape, kept),
                 offset_table(x.shape, axes)], macs=3 * x.size)
