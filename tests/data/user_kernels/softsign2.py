"""A user kernel for a custom-domain op, written in the kernel subset."""
import numpy as np

import tinyjit


@tinyjit.kernel(op="Softsign2", domain="com.example", dtypes=("float32",), schedule={"unroll": (1, 4)})
def softsign2(x, y, S):
    n = x.size
    for i in range(0, n, S.unroll):
        for u in range(S.unroll):
            if i + u < n:
                v = x.flat[i + u]
                y.flat[i + u] = 2 * v / (np.float32(1) + abs(v))


@softsign2.shape
def _(x_shape, attrs):
    return x_shape


@softsign2.reference
def _(x):
    return (2 * x / (1 + np.abs(x))).astype(np.float32)
