"""CumSum along one axis, viewed as [outer, axis, inner]; exclusive and reverse as attributes."""
from tinyjit import Call, kernel

from ._elementwise import NUMBERS


@kernel(op="CumSum", dtypes=NUMBERS)
def cum_sum(x, y, exclusive, reverse):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            acc = x[o, 0, i] - x[o, 0, i]   # a zero of the input's type
            for step in range(length):
                j = length - 1 - step if reverse else step
                if exclusive:
                    y[o, j, i] = acc
                    acc += x[o, j, i]
                else:
                    acc += x[o, j, i]
                    y[o, j, i] = acc


@cum_sum.prepare
def _(node, graph, S):
    shape = graph.tensors[node.inputs[0]].shape
    axis = int(node.attrs.get("axis", 0))
    axis += len(shape) if axis < 0 else 0
    outer = 1
    for d in shape[:axis]:
        outer *= d
    inner = 1
    for d in shape[axis + 1:]:
        inner *= d
    view = (outer, shape[axis], inner)
    return Call([(node.inputs[0], view), (node.outputs[0], view)],
                [int(node.attrs.get("exclusive", 0)), int(node.attrs.get("reverse", 0))], macs=outer * inner * shape[axis])
