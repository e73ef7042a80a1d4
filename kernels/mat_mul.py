"""MatMul with numpy semantics: batched, batch dims broadcast, 1-D operands promoted and dropped.

A is viewed as [batches_a, M, K], B as [batches_b, K, N]; the broadcast batch dims are collapsed
to at most 3 loops whose strides count whole matrices (0 where an operand is broadcast). The
inner loop runs over contiguous outputs.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import broadcast_strides, flat


@kernel(op="MatMul", dtypes=("float32", "int32", "int64"))
def mat_mul(a, b, y, d0, d1, d2, sa0, sa1, sa2, sb0, sb1, sb2, m, k, n):
    out = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                a0 = (i0 * sa0 + i1 * sa1 + i2 * sa2) * m * k
                b0 = (i0 * sb0 + i1 * sb1 + i2 * sb2) * k * n
                for i in range(m):
                    row = out + i * n
                    for j in range(n):
                        y[row + j] = 0
                    for p in range(k):
                        av = a[a0 + i * k + p]
                        bp = b0 + p * n
                        for j in range(n):
                            y[row + j] += av * b[bp + j]
                out += m * n


@mat_mul.prepare
def _(node, graph, S):
    a, b = (graph.tensors[name] for name in node.inputs[:2])
    y = graph.tensors[node.outputs[0]]
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    m, k = a_shape[-2:]
    n = b_shape[-1]
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    try:
        dims, (sa, sb) = broadcast_strides([a_shape[:-2], b_shape[:-2]], batch, rank=3)
    except ValueError:
        raise UnsupportedError(f"node {node.name} (MatMul): batch broadcast {a.shape} x {b.shape} "
                               "needs more than 3 dims") from None
    return Call([flat(a.name, graph), flat(b.name, graph), flat(y.name, graph)],
                [*dims, *sa, *sb, int(m), int(k), int(n)], macs=int(np.prod(batch, dtype=np.int64)) * m * k * n)
