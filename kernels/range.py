"""Range: y[i] = start + i * delta; the length must be static (it is when the frontend could fold
the inputs; otherwise the convert fails earlier for want of a static shape)."""
from tinyjit import Call, kernel


@kernel(op="Range", dtypes=("float32", "int16", "int32", "int64"))
def range_fill(start, delta, y):
    first = start[0]
    step = delta[0]
    for i in range(y.shape[0]):
        y[i] = first + i * step


@range_fill.prepare
def _(node, graph, S):
    return Call([(node.inputs[0], (1,)), (node.inputs[2], (1,)), node.outputs[0]],
                macs=graph.tensors[node.outputs[0]].size)
