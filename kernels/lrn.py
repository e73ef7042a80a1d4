"""LRN across channels over [N, C, inner]: y = x / (bias + alpha / size * sum of x^2 over the window)^beta."""
import numpy as np

from tinyjit import Call, kernel


@kernel(op="LRN", dtypes=("float32",))
def lrn(x, y, size, alpha, beta, bias):
    n_batch, channels, inner = x.shape
    before = (size - 1) // 2
    after = size - 1 - before
    for n in range(n_batch):
        for c in range(channels):
            lo = max(0, c - before)
            hi = min(channels - 1, c + after)
            for i in range(inner):
                total = np.float32(0.0)
                for k in range(lo, hi + 1):
                    total += x[n, k, i] * x[n, k, i]
                y[n, c, i] = x[n, c, i] / (bias + alpha / size * total) ** beta


@lrn.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    n, c = x.shape[:2]
    view = (n, c, x.size // max(n * c, 1))
    size = int(node.attrs["size"])
    return Call([(x.name, view), (node.outputs[0], view)],
                [size, float(node.attrs.get("alpha", 1e-4)), float(node.attrs.get("beta", 0.75)),
                 float(node.attrs.get("bias", 1.0))], macs=x.size * size)
