"""LogSoftmax over one axis, viewed as [outer, axis, inner]: x - max - log(sum(exp(x - max)))."""
import numpy as np

from tinyjit import Call, kernel

from .softmax import axis_max, axis_view


@kernel(op="LogSoftmax", dtypes=("float32",))
def log_softmax_f32(x, y):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            top = axis_max(x, o, i)
            total = np.float32(0.0)
            for j in range(length):
                total += np.exp(x[o, j, i] - top)
            shift = top + np.log(total)
            for j in range(length):
                y[o, j, i] = x[o, j, i] - shift


log_softmax_f32.uses(axis_max)


@log_softmax_f32.prepare
def _(node, graph, S):
    view = axis_view(node, graph)
    return Call([(node.inputs[0], view), (node.outputs[0], view)], macs=graph.tensors[node.inputs[0]].size,
                inplace=True)
