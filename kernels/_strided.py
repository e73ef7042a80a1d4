"""One loop for every op that only moves data: the output is walked in order and the input
is read at ``base + sum(index_d * stride_d)``.

Transpose, Slice, Split, Expand, Tile, DepthToSpace and SpaceToDepth differ only in the dims
and strides their prepare functions compute (negative strides walk backwards, zero strides
repeat). Dims are collapsed first (size-1 dims dropped, contiguous neighbours merged), so up to
``RANK`` dims remain for any input rank that moves data in at most ``RANK`` independent ways.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._elementwise import ALL
from ._util import flat

RANK = 6


def strided_copy(x, y, base, d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        offset = base + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4
                        for i5 in range(d5):
                            y[i] = x[offset + i5 * s5]
                            i += 1


def copy_kernel(op: str, name: str, dtypes=ALL):
    """Register the strided copy as ``op``'s kernel; the caller adds the prepare function."""
    return kernel(op=op, dtypes=dtypes, name=name, body=strided_copy)(strided_copy)


def contiguous_strides(shape) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= int(d)
    return strides[::-1]


def collapse(dims, strides) -> tuple[list[int], list[int]]:
    """The same walk over fewer dims: size-1 dims dropped, contiguous neighbours merged."""
    out_d: list[int] = []
    out_s: list[int] = []
    for d, s in zip(dims, strides):
        d, s = int(d), int(s)
        if d == 1:
            continue
        if out_d and out_d[-1] != 0 and d != 0 and out_s[-1] == s * d:
            out_d[-1] *= d
            out_s[-1] = s
        else:
            out_d.append(d)
            out_s.append(s)
    return out_d, out_s


def copy_call(node, graph, x: str, y: str, dims, strides, base: int = 0) -> Call:
    """Call of the strided copy writing all of ``y`` from ``x``."""
    d, s = collapse(dims, strides)
    if len(d) > RANK:
        raise UnsupportedError(f"node {node.name} ({node.op}): the data movement needs {len(d)} dims "
                               f"(at most {RANK})")
    pad = RANK - len(d)
    size = int(np.prod(d, dtype=np.int64)) if d else 1
    return Call([flat(x, graph), flat(y, graph)], [int(base)] + [1] * pad + d + [0] * pad + s, macs=size)


def constant_call(node, graph, value) -> Call:
    """Call writing a constant array (packed with the weights) into the node's output."""
    y = graph.tensors[node.outputs[0]]
    if value is None:
        raise UnsupportedError(f"node {node.name} ({node.op}): no value to write")
    data = np.asarray(value).astype(y.dtype).reshape(-1)
    return Call([data, flat(y.name, graph)], [0] + [1] * (RANK - 1) + [y.size] + [0] * (RANK - 1) + [1],
                macs=y.size)
