"""Pad (constant, reflect, edge, wrap) of up to 4 dims; negative pads crop."""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

DTYPES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")
MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}


@kernel(op="Pad", dtypes=DTYPES)
def pad(x, y, b0, b1, b2, b3, mode, value):
    in0, in1, in2, in3 = x.shape
    out0, out1, out2, out3 = y.shape
    for o0 in range(out0):
        for o1 in range(out1):
            for o2 in range(out2):
                for o3 in range(out3):
                    i0 = source_index(o0 - b0, in0, mode)
                    i1 = source_index(o1 - b1, in1, mode)
                    i2 = source_index(o2 - b2, in2, mode)
                    i3 = source_index(o3 - b3, in3, mode)
                    if i0 < 0 or i1 < 0 or i2 < 0 or i3 < 0:
                        y[o0, o1, o2, o3] = value
                    else:
                        y[o0, o1, o2, o3] = x[i0, i1, i2, i3]


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
    begins = [0] * (4 - rank) + [int(p) for p in pads[:rank]]
    value = node.attrs.get("value", 0)
    value = float(value) if y.dtype.kind == "f" else int(value)   # bool pads with int(value) != 0
    shape4 = (1,) * (4 - rank)
    return Call([(x.name, shape4 + x.shape), (y.name, shape4 + y.shape)],
                [*begins, MODES[mode], value], macs=y.size)
