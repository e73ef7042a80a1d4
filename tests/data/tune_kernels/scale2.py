"""A kernel for the tuning tests: y = 2 x, unrolled by U, where U = 3 forgets the tail.

A schedule that computes something else must never win a tuning run, however fast it is.
"""
import numpy as np

import tinyjit


@tinyjit.kernel(op="Scale2", domain="test.tune", dtypes=("float32",), schedule={"U": (1, 2, 4, 3)})
def scale2(x, y, S):
    n = x.size
    body = n - n % S.U
    for i in range(0, body, S.U):
        for u in range(S.U):
            y.flat[i + u] = np.float32(2) * x.flat[i + u]
    if S.U != 3:
        for i in range(body, n):
            y.flat[i] = np.float32(2) * x.flat[i]


@scale2.shape
def _(x_shape, attrs):
    return x_shape


@scale2.reference
def _(x):
    return (2 * x).astype(np.float32)
