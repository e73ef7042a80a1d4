"""Slice: each sliced axis starts at its clamped start and steps by ``step`` (maybe backwards)."""
from tinyjit.errors import UnsupportedError

from ._strided import contiguous_strides, copy_call, copy_kernel

slice_copy = copy_kernel("Slice", "slice_copy")


def slice_ranges(node, shape) -> list[range]:
    """The input indices each output axis walks, with ONNX's (= Python's) clamping."""
    rank = len(shape)
    starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
    axes = list(node.attrs.get("axes", range(len(starts))))
    steps = list(node.attrs.get("steps", [1] * len(starts)))
    ranges = [range(d) for d in shape]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) + (rank if int(axis) < 0 else 0)
        if step == 0:
            raise UnsupportedError(f"node {node.name} (Slice): step 0")
        ranges[axis] = range(*slice(int(start), int(end), int(step)).indices(shape[axis]))
    return ranges


@slice_copy.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    ranges = slice_ranges(node, x.shape)
    strides = contiguous_strides(x.shape)
    base = sum(r.start * s for r, s in zip(ranges, strides) if len(r))
    return copy_call(node, graph, x.name, node.outputs[0], [len(r) for r in ranges],
                     [r.step * s for r, s in zip(ranges, strides)], base)
