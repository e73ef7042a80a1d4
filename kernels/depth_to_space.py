"""DepthToSpace: reshape to 6-D, transpose, reshape (as the spec defines it), in one strided copy."""
from tinyjit.errors import UnsupportedError

from ._strided import contiguous_strides, copy_call, copy_kernel

depth_to_space = copy_kernel("DepthToSpace", "depth_to_space")


def reshape_transpose(node, graph, tmp_shape, perm):
    strides = contiguous_strides(tmp_shape)
    return copy_call(node, graph, node.inputs[0], node.outputs[0],
                     [tmp_shape[p] for p in perm], [strides[p] for p in perm])


@depth_to_space.prepare
def _(node, graph, S):
    n, c, h, w = graph.tensors[node.inputs[0]].shape
    b = int(node.attrs["blocksize"])
    mode = node.attrs.get("mode", "DCR")
    if mode == "DCR":
        return reshape_transpose(node, graph, (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2))
    if mode == "CRD":
        return reshape_transpose(node, graph, (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3))
    raise UnsupportedError(f"node {node.name} (DepthToSpace): mode {mode!r} is not supported")
