"""Hardmax over one axis, viewed as [outer, axis, inner]: 1 at the first maximum, 0 elsewhere."""
from tinyjit import Call, kernel

from .softmax import axis_view


@kernel(op="Hardmax", dtypes=("float32",))
def hardmax_f32(x, y):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            best = 0
            for j in range(1, length):
                if x[o, j, i] > x[o, best, i]:
                    best = j
            for j in range(length):
                y[o, j, i] = 0
            y[o, best, i] = 1


@hardmax_f32.prepare
def _(node, graph, S):
    view = axis_view(node, graph)
    return Call([(node.inputs[0], view), (node.outputs[0], view)], macs=graph.tensors[node.inputs[0]].size)
