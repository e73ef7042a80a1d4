"""Gather along one axis: data viewed as [outer, axis, inner], indices flat, output [outer, n, inner]."""
import numpy as np

from tinyjit import Call, kernel

from ._elementwise import ALL


@kernel(op="Gather", dtypes=ALL)
def gather(x, indices, y):
    outer, length, inner = x.shape
    count = indices.shape[0]
    for o in range(outer):
        for j in range(count):
            k = indices[j]
            if k < 0:
                k += length
            for i in range(inner):
                y[o, j, i] = x[o, k, i]


@gather.prepare
def _(node, graph, S):
    x, idx = (graph.tensors[n] for n in node.inputs[:2])
    axis = int(node.attrs.get("axis", 0))
    axis += len(x.shape) if axis < 0 else 0
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    return Call([(x.name, (outer, x.shape[axis], inner)), (idx.name, (idx.size,)),
                 (node.outputs[0], (outer, idx.size, inner))], macs=outer * idx.size * inner)
