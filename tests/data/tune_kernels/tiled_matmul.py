"""A register-tiled matmul for the tuning tests: y[M, N] = x[M, K] @ w[K, N] (w constant).

MR rows x NR columns per tile; prepare packs w as [N / NR blocks, K, NR], zero-padded, so the
packing depends on the schedule like the built-in conv's. Every schedule is correct.
"""
import numpy as np

import tinyjit
from tinyjit import Call


@tinyjit.kernel(op="TiledMatMul", domain="test.tune", dtypes=("float32",),
                schedule={"MR": (2, 1, 4, 8), "NR": (8, 4, 16, 32)})
def tiled_matmul(x, w, y):
    m_, k_ = x.shape
    n_ = y.shape[1]
    for nb in range(w.shape[0]):
        for mb in range(0, m_, MR):  # noqa: F821  (schedule knob)
            for i in range(MR):  # noqa: F821
                if mb + i < m_:
                    for j in range(NR):  # noqa: F821
                        if nb * NR + j < n_:  # noqa: F821
                            y[mb + i, nb * NR + j] = 0.0  # noqa: F821
                    for kk in range(k_):
                        xv = x[mb + i, kk]
                        for j in range(NR):  # noqa: F821
                            if nb * NR + j < n_:  # noqa: F821
                                y[mb + i, nb * NR + j] += xv * w[nb, kk, j]  # noqa: F821


@tiled_matmul.shape
def _(x_shape, w_shape, attrs):
    return (x_shape[0], w_shape[1])


@tiled_matmul.prepare
def _(node, graph, S):
    w = graph.const(node.inputs[1]).astype(np.float32)
    k_, n_ = w.shape
    nr = S["NR"]
    blocks = -(-n_ // nr)
    packed = np.zeros((blocks * nr, k_), np.float32)
    packed[:n_] = w.T
    packed = packed.reshape(blocks, nr, k_).transpose(0, 2, 1)
    x, y = node.inputs[0], node.outputs[0]
    return Call([x, np.ascontiguousarray(packed), y], macs=graph.tensors[y].size * k_)
