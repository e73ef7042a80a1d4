"""Trilu: keep the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims."""
from tinyjit import Call, kernel

from ._elementwise import ALL


@kernel(op="Trilu", dtypes=ALL)
def trilu(x, y, k, upper):
    batch, rows, cols = x.shape
    for b in range(batch):
        for i in range(rows):
            for j in range(cols):
                keep = j - i >= k if upper else j - i <= k
                y[b, i, j] = x[b, i, j] if keep else 0


@trilu.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    rows, cols = x.shape[-2:]
    view = (x.size // max(rows * cols, 1), rows, cols)
    k = node.attrs.get("k", 0)
    if len(node.inputs) > 1 and node.inputs[1]:
        k = graph.const(node.inputs[1])
        if k is None:
            from tinyjit.errors import UnsupportedError
            raise UnsupportedError(f"node {node.name} (Trilu): input 1 (k) must be a constant")
    return Call([(x.name, view), (node.outputs[0], view)], [int(k), int(node.attrs.get("upper", 1))],
                macs=x.size, inplace=True)
