"""Helpers for prepare functions (host side, convert time): not kernels."""
import numpy as np

FLOAT_MIN = float(np.finfo(np.float32).min)
FLOAT_MAX = float(np.finfo(np.float32).max)


def activation_range(node) -> tuple[float, float]:
    """The clamp a fused activation leaves on the output (attrs set by the fusion pass)."""
    return float(node.attrs.get("act_min", FLOAT_MIN)), float(node.attrs.get("act_max", FLOAT_MAX))


def flat(name: str, graph) -> tuple:
    """A 1-D view of a tensor, for kernels that walk it linearly."""
    return (name, (graph.tensors[name].size,))


def broadcast_strides(shapes: list[tuple], out_shape: tuple, rank: int = 4) -> tuple[tuple, list[tuple]]:
    """Collapse a broadcast to at most ``rank`` dims; per input, element strides (0 = broadcast)."""
    out = list(out_shape)
    padded = [[1] * (len(out) - len(s)) + list(s) for s in shapes]
    # merge adjacent dims that broadcast the same way in every input
    dims: list[int] = []
    per_in: list[list[int]] = [[] for _ in shapes]
    for d in range(len(out)):
        if out[d] == 1:
            continue
        kinds = tuple(p[d] == 1 for p in padded)
        if dims and kinds == prev:
            dims[-1] *= out[d]
            for j, p in enumerate(padded):
                per_in[j][-1] *= p[d]
        else:
            dims.append(out[d])
            for j, p in enumerate(padded):
                per_in[j].append(p[d])
        prev = kinds
    if len(dims) > rank:
        raise ValueError(f"broadcast of {shapes} needs more than {rank} dims")
    dims = [1] * (rank - len(dims)) + dims
    strides = []
    for j in range(len(shapes)):
        sizes = [1] * (rank - len(per_in[j])) + per_in[j]
        st, acc = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            st[d] = 0 if sizes[d] == 1 else acc
            acc *= sizes[d]
        strides.append(tuple(st))
    return tuple(dims), strides


def conv_geometry(node):
    """Strides, top/left pads and dilations of a 2-D conv or pool node (pads already explicit)."""
    sh, sw = node.attrs.get("strides", (1, 1))
    dh, dw = node.attrs.get("dilations", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    return [int(sh), int(sw), int(pads[0]), int(pads[1]), int(dh), int(dw)]



def check_conv2d_nhwc(node, graph):
    if not node.attrs.get("channels_last") or len(graph.tensors[node.inputs[0]].shape) != 4:
        from tinyjit.errors import UnsupportedError
        raise UnsupportedError(f"node {node.name}: {node.op} kernels take 2-D NHWC tensors")
