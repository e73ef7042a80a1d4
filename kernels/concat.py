"""Concat: one copy per input into its column range of the output viewed as [outer, total]."""
import numpy as np

from tinyjit import Call, kernel

DTYPES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")


@kernel(op="Concat", dtypes=DTYPES)
def concat_copy(x, y, column):
    outer, width = x.shape
    for o in range(outer):
        for j in range(width):
            y[o, column + j] = x[o, j]


@concat_copy.prepare
def _(node, graph, S):
    y = graph.tensors[node.outputs[0]]
    axis = int(node.attrs.get("axis", 0))
    axis += len(y.shape) if axis < 0 else 0
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    total = y.size // max(outer, 1)
    calls, column = [], 0
    for name in node.inputs:
        x = graph.tensors[name]
        if x.size == 0:
            continue
        width = x.size // max(outer, 1)
        calls.append(Call([(name, (outer, width)), (y.name, (outer, total))], [column], macs=x.size))
        column += width
    return calls
