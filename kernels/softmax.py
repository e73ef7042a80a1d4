"""Softmax over one axis: the tensor is viewed as [outer, axis, inner]."""
import numpy as np

from tinyjit import Call, kernel


@kernel(op="Softmax", dtypes=("float32",))
def softmax_f32(x, y, beta):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            top = axis_max(x, o, i)
            total = np.float32(0.0)
            for j in range(length):
                e = np.exp((x[o, j, i] - top) * np.float32(beta))
                y[o, j, i] = e
                total += e
            inv = np.float32(1.0) / total
            for j in range(length):
                y[o, j, i] *= inv


def axis_max(x, o, i):
    """The largest of x[o, :, i]."""
    top = x[o, 0, i]
    for j in range(1, x.shape[1]):
        top = max(top, x[o, j, i])
    return top


softmax_f32.uses(axis_max)


def axis_view(node, graph, default_axis: int = -1, flatten_before_13: bool = True) -> tuple[int, int, int]:
    """[outer, axis, inner] sizes; for the softmax family before opset 13 the axis means
    'flatten from here on'."""
    shape = graph.tensors[node.inputs[0]].shape
    legacy = (flatten_before_13 and graph.opset < 13 and node.domain == ""
              and not node.attrs.get("channels_last"))
    axis = int(node.attrs.get("axis", 1 if legacy else default_axis))
    axis += len(shape) if axis < 0 else 0
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    if legacy:
        return outer, int(np.prod(shape[axis:], dtype=np.int64)), 1
    return outer, shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64))


@softmax_f32.prepare
def _(node, graph, S):
    view = axis_view(node, graph)
    return Call([(node.inputs[0], view), (node.outputs[0], view)], [float(node.attrs.get("beta", 1.0))],
                macs=graph.tensors[node.inputs[0]].size, inplace=True)
