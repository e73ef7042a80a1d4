"""Transpose of up to 6 dims: walks the output in order, reading the input through strides."""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import flat

RANK = 6


@kernel(op="Transpose", dtypes=("float32", "int8", "uint8", "int16", "int32", "int64", "bool"))
def transpose(x, y, d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    base = i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3
                    for i4 in range(d4):
                        for i5 in range(d5):
                            y[i] = x[base + i4 * s4 + i5 * s5]
                            i += 1


def transpose_params(in_shape, perm) -> list[int]:
    """Output dims and matching input strides, padded to RANK dims."""
    if len(in_shape) > RANK:
        raise UnsupportedError(f"Transpose of rank {len(in_shape)} (at most {RANK})")
    strides = [int(np.prod(in_shape[d + 1:], dtype=np.int64)) for d in range(len(in_shape))]
    pad = RANK - len(in_shape)
    dims = [1] * pad + [int(in_shape[p]) for p in perm]
    steps = [0] * pad + [strides[p] for p in perm]
    return dims + steps


@transpose.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    perm = node.attrs.get("perm") or list(range(len(x.shape)))[::-1]
    return Call([flat(node.inputs[0], graph), flat(node.outputs[0], graph)],
                transpose_params(x.shape, perm), macs=x.size)
