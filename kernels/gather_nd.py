"""GatherND: each index tuple (the last dim of indices) picks a slice of x.

x is viewed as [batch, rows, slice] where the index tuple addresses ``rows`` through the
per-component strides; indices as [batch, count, depth]; the output as [batch, count, slice].
"""
import numpy as np

from tinyjit import Call, kernel

from ._elementwise import ALL
from ._strided import contiguous_strides


@kernel(op="GatherND", dtypes=ALL)
def gather_nd(x, indices, dims, strides, y):
    batch, count, depth = indices.shape
    width = y.shape[2]
    for b in range(batch):
        for j in range(count):
            row = 0
            for d in range(depth):
                k = indices[b, j, d]
                if k < 0:
                    k += dims[d]
                row += k * strides[d]
            for i in range(width):
                y[b, j, i] = x[b, row + i]


@gather_nd.prepare
def _(node, graph, S):
    x, idx = (graph.tensors[n] for n in node.inputs[:2])
    b = int(node.attrs.get("batch_dims", 0))
    depth = idx.shape[-1]
    batch = int(np.prod(x.shape[:b], dtype=np.int64))
    count = int(np.prod(idx.shape[b:-1], dtype=np.int64))
    width = int(np.prod(x.shape[b + depth:], dtype=np.int64))
    addressed = x.shape[b:b + depth]
    strides = [s * width for s in contiguous_strides(addressed)]
    rows = int(np.prod(x.shape[b:], dtype=np.int64))
    return Call([(x.name, (batch, rows)), (idx.name, (batch, count, depth)),
                 np.array(addressed, np.int64), np.array(strides, np.int64),
                 (node.outputs[0], (batch, count, width))], macs=batch * count * width)
