"""Pad (constant, reflect, edge, wrap) of up to 4 dims; negative pads crop first (as onnxruntime)."""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

DTYPES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")
MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3, "symmetric": 4}   # symmetric: TFLite MIRROR_PAD


@kernel(op="Pad", dtypes=DTYPES)
def pad(x, y, b0, b1, b2, b3, c0, c1, c2, c3, n0, n1, n2, n3, mode, value):
    """b: leading pad, c: leading crop (a negative pad), n: the input size left after cropping."""
    out0, out1, out2, out3 = y.shape
    for o0 in range(out0):
        i0 = source_index(o0 - b0, n0, mode)
        for o1 in range(out1):
            i1 = source_index(o1 - b1, n1, mode)
            for o2 in range(out2):
                i2 = source_index(o2 - b2, n2, mode)
                for o3 in range(out3):
                    i3 = source_index(o3 - b3, n3, mode)
                    if i0 < 0 or i1 < 0 or i2 < 0 or i3 < 0:
                        y[o0, o1, o2, o3] = value
                    else:
                        y[o0, o1, o2, o3] = x[i0 + c0, i1 + c1, i2 + c2, i3 + c3]


def source_index(i, size, mode):
    """Where output index ``i`` (relative to the input's start) reads from; -1 = the constant."""
    if i >= 0 and i < size:
        return i
    if mode == 0:
        return -1
    if mode == 2:
        return 0 if i < 0 else size - 1
    if mode == 3:
        return i % size
    if mode == 4:          # mirrored including the edge element
        period = 2 * size
        i = i % period
        return i if i < size else period - 1 - i
    period = 2 * (size - 1)
    if period == 0:
        return 0
    i = abs(i) % period
    return i if i < size else period - i


pad.uses(source_index)


@pad.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    mode = node.attrs.get("mode", "constant")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in MODES:
        raise UnsupportedError(f"node {node.name}: Pad mode {mode!r} is not supported")
    pads = list(node.attrs["pads"])   # normalized by the frontend: [begin..., end...], all axes
    rank = len(x.shape)
    if rank > 4:
        raise UnsupportedError(f"node {node.name}: Pad of rank {rank} (at most 4)")
    begins = [int(p) for p in pads[:rank]]
    ends = [int(p) for p in pads[rank:]]
    lead = [0] * (4 - rank)
    crops = lead + [max(0, -b) for b in begins]
    sizes = [1] * (4 - rank) + [d - max(0, -b) - max(0, -e) for d, b, e in zip(x.shape, begins, ends)]
    begins = lead + [max(0, b) for b in begins]
    value = node.attrs.get("value", 0)
    value = float(value) if y.dtype.kind == "f" else int(value)   # bool pads with int(value) != 0
    shape4 = (1,) * (4 - rank)
    return Call([(x.name, shape4 + x.shape), (y.name, shape4 + y.shape)],
                [*begins, *crops, *sizes, MODES[mode], value], macs=y.size)
