"""LpNormalization (p = 1 or 2) along one axis, viewed as [outer, axis, inner]; a zero norm gives 0."""
from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from .softmax import axis_view


@kernel(op="LpNormalization", dtypes=("float32",))
def lp_normalization(x, y, p):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            total = 0.0
            for j in range(length):
                v = x[o, j, i]
                total += abs(v) if p == 1 else v * v
            norm = total if p == 1 else total ** 0.5
            for j in range(length):
                y[o, j, i] = 0.0 if norm == 0 else x[o, j, i] / norm


@lp_normalization.prepare
def _(node, graph, S):
    p = int(node.attrs.get("p", 2))
    if p not in (1, 2):
        raise UnsupportedError(f"node {node.name} (LpNormalization): p={p} (1 or 2 are defined)")
    view = axis_view(node, graph, flatten_before_13=False)
    return Call([(node.inputs[0], view), (node.outputs[0], view)], [p], macs=2 * graph.tensors[node.inputs[0]].size)
