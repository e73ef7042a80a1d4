"""Gemm: y = act(alpha * A' @ B' + beta * C) with B and C constant (a fully connected layer).

B is packed at convert time to [column blocks, K, block] with alpha folded in (zero columns pad
the last block), so a block's weights are one contiguous stream. A row of the output is computed
one block of columns at a time in a register tile of MR x block accumulators: the MR rows are
partial sums over every MR-th k (independent FMA chains, so a batch-1 matrix-vector product is
not bound by the FMA latency), added up at the end.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import activation_range
from .conv import channel_block


@kernel(op="Gemm", dtypes=("float32",), schedule={"MR": (4, 2, 6, 8), "NR": (16, 8, 32)})
def gemm_f32(a, w, bias, y, trans_a, block, act_min, act_max):
    rows, cols = y.shape
    n_blocks, depth, _ = w.shape
    bias_rows = bias.shape[0]
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    split = depth - depth % MR
    acc = local_array_f32(MR, NR)  # noqa: F821  (primitive) acc[:, :block]
    for m in range(rows):
        r = m if bias_rows > 1 else 0
        for cb in range(n_blocks):
            c0 = cb * block
            for i in range(MR):
                for j in range(block):
                    acc[i, j] = bias[r, c0 + j] if i == 0 else np.float32(0.0)
            for k in range(0, split, MR):
                for i in range(MR):
                    av = a[k + i, m] if trans_a else a[m, k + i]
                    for j in range(block):
                        acc[i, j] = fma_f32(av, w[cb, k + i, j], acc[i, j])  # noqa: F821
            for k in range(split, depth):
                av = a[k, m] if trans_a else a[m, k]
                for j in range(block):
                    acc[0, j] = fma_f32(av, w[cb, k, j], acc[0, j])  # noqa: F821
            for i in range(1, MR):
                for j in range(block):
                    acc[0, j] += acc[i, j]
            if c0 + block <= cols:
                out = y[m, c0:c0 + block]
                for j in range(block):
                    out[j] = min(max(acc[0, j], lo), hi)
            else:
                for j in range(block):
                    if c0 + j < cols:
                        y[m, c0 + j] = min(max(acc[0, j], lo), hi)


@gemm_f32.prepare
def _(node, graph, S):
    b = graph.const(node.inputs[1])
    if b is None:
        raise UnsupportedError(f"node {node.name}: Gemm with a non-constant B is not supported")
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 1.0))
    w = (b.T if node.attrs.get("transB", 0) else b).astype(np.float32) * np.float32(alpha)
    y = graph.tensors[node.outputs[0]]
    rows, cols = y.shape
    c = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if len(node.inputs) > 2 and node.inputs[2] and c is None:
        raise UnsupportedError(f"node {node.name}: Gemm with a non-constant C is not supported")
    block = channel_block(S["NR"], cols)
    n_blocks = -(-cols // block)
    if c is None:
        bias = np.zeros((1, n_blocks * block), np.float32)
    else:
        c2 = np.broadcast_to(c.astype(np.float32) * np.float32(beta), (rows, cols))
        c2 = c2[:1] if (c2 == c2[:1]).all() else c2
        bias = np.zeros((c2.shape[0], n_blocks * block), np.float32)
        bias[:, :cols] = c2
    depth = w.shape[0]
    padded = np.zeros((depth, n_blocks * block), np.float32)
    padded[:, :cols] = w
    packed = np.ascontiguousarray(padded.reshape(depth, n_blocks, block).transpose(1, 0, 2))
    # the block width is a parameter: the plan passes it as a literal, so LLVM unrolls the tile
    return Call([node.inputs[0], packed, bias, node.outputs[0]],
                [int(node.attrs.get("transA", 0)), block, *activation_range(node)], macs=rows * cols * depth)
