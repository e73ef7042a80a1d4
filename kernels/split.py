"""Split: one strided copy per output, each starting where the previous one ended."""
from ._strided import contiguous_strides, copy_call, copy_kernel

split_copy = copy_kernel("Split", "split_copy")


@split_copy.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    axis = int(node.attrs.get("axis", 0))
    axis += len(x.shape) if axis < 0 else 0
    strides = contiguous_strides(x.shape)
    calls, offset = [], 0
    for name in node.outputs:
        if not name:
            continue
        y = graph.tensors[name]
        if y.size:
            calls.append(copy_call(node, graph, x.name, name, y.shape, strides, offset * strides[axis]))
        offset += y.shape[axis]
    return calls
