"""GatherElements: y[i0, .., ik, ..] = x[i0, .., indices[i0, .., ik, ..], ..] (k = axis), up to 4-D."""
from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._elementwise import ALL


@kernel(op="GatherElements", dtypes=ALL)
def gather_elements(x, indices, y, axis):
    n0, n1, n2, n3 = indices.shape
    length = x.shape[axis]
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                for i3 in range(n3):
                    k = indices[i0, i1, i2, i3]
                    if k < 0:
                        k += length
                    if axis == 0:
                        y[i0, i1, i2, i3] = x[k, i1, i2, i3]
                    elif axis == 1:
                        y[i0, i1, i2, i3] = x[i0, k, i2, i3]
                    elif axis == 2:
                        y[i0, i1, i2, i3] = x[i0, i1, k, i3]
                    else:
                        y[i0, i1, i2, i3] = x[i0, i1, i2, k]


@gather_elements.prepare
def _(node, graph, S):
    x, idx = (graph.tensors[n] for n in node.inputs[:2])
    rank = len(x.shape)
    if rank > 4:
        raise UnsupportedError(f"node {node.name} (GatherElements): rank {rank} (at most 4)")
    axis = int(node.attrs.get("axis", 0))
    axis += rank if axis < 0 else 0
    pad = (1,) * (4 - rank)
    return Call([(x.name, pad + x.shape), (idx.name, pad + idx.shape), (node.outputs[0], pad + idx.shape)],
                [axis + 4 - rank], macs=idx.size)
