"""SpaceToDepth: reshape to 6-D, transpose, reshape, in one strided copy."""
from tinyjit.errors import UnsupportedError

from ._strided import copy_kernel
from .depth_to_space import reshape_transpose

space_to_depth = copy_kernel("SpaceToDepth", "space_to_depth")


@space_to_depth.prepare
def _(node, graph, S):
    n, c, h, w = graph.tensors[node.inputs[0]].shape
    b = int(node.attrs["blocksize"])
    mode = node.attrs.get("mode", "DCR")
    tmp = (n, c, h // b, b, w // b, b)
    if mode == "DCR":
        return reshape_transpose(node, graph, tmp, (0, 3, 5, 1, 2, 4))
    if mode == "CRD":
        return reshape_transpose(node, graph, tmp, (0, 1, 3, 5, 2, 4))
    raise UnsupportedError(f"node {node.name} (SpaceToDepth): mode {mode!r} is not supported")
