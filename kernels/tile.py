"""Tile: the output walked in order reads the input at (index mod input dim) along each dim, up to 6-D."""
from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._elementwise import ALL

RANK = 6


@kernel(op="Tile", dtypes=ALL)
def tile(x, y):
    n0, n1, n2, n3, n4, n5 = y.shape
    d0, d1, d2, d3, d4, d5 = x.shape
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                for i3 in range(n3):
                    for i4 in range(n4):
                        for i5 in range(n5):
                            y[i0, i1, i2, i3, i4, i5] = x[i0 % d0, i1 % d1, i2 % d2, i3 % d3, i4 % d4, i5 % d5]


@tile.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    rank = len(x.shape)
    if rank > RANK:
        raise UnsupportedError(f"node {node.name} (Tile): rank {rank} (at most {RANK})")
    pad = (1,) * (RANK - rank)
    return Call([(x.name, pad + x.shape), (y.name, pad + y.shape)], macs=y.size)
