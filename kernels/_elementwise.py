"""Shared loops for elementwise ops; each op file only states its scalar function.

``@unary("Relu")`` / ``@binary("Add")`` register a kernel whose loop is written once here and
which calls the op's scalar function under the name ``scalar_op``.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import broadcast_strides, flat

FLOATS = ("float32",)
NUMBERS = ("float32", "int8", "uint8", "int16", "int32", "int64")


def unary_loop(x, y, alpha, beta):
    for i in range(x.shape[0]):
        y[i] = scalar_op(x[i], alpha, beta)  # noqa: F821  (bound per op at registration)


def binary_loop(a, b, y, d0, d1, d2, d3, sa0, sa1, sa2, sa3, sb0, sb1, sb2, sb3):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                oa = i0 * sa0 + i1 * sa1 + i2 * sa2
                ob = i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    y[i] = scalar_op(a[oa + i3 * sa3], b[ob + i3 * sb3])  # noqa: F821
                    i += 1


def unary(op: str, dtypes=FLOATS, params=None):
    """Register ``fn(x, alpha, beta)`` as the elementwise kernel of ``op``.

    ``params(node, graph) -> (alpha, beta)`` reads the op's attributes (default 0, 0).
    """
    def register(fn):
        k = kernel(op=op, dtypes=dtypes, name=fn.__name__, body=unary_loop)(fn)
        k.bind("scalar_op", fn)

        @k.prepare
        def _(node, graph, S):
            alpha, beta = params(node, graph) if params else (0.0, 0.0)
            return Call([flat(node.inputs[0], graph), flat(node.outputs[0], graph)], [alpha, beta],
                        macs=graph.tensors[node.outputs[0]].size, inplace=True)
        return k
    return register


def binary(op: str, dtypes=FLOATS):
    """Register ``fn(a, b)`` as the broadcasting elementwise kernel of ``op``."""
    def register(fn):
        k = kernel(op=op, dtypes=dtypes, name=fn.__name__, body=binary_loop)(fn)
        k.bind("scalar_op", fn)

        @k.prepare
        def _(node, graph, S):
            a, b = (graph.tensors[n] for n in node.inputs[:2])
            y = graph.tensors[node.outputs[0]]
            dims, (sa, sb) = broadcast_strides([a.shape, b.shape], y.shape)
            args = [flat(a.name, graph), flat(b.name, graph), flat(y.name, graph)]
            return Call(args, [*dims, *sa, *sb], macs=y.size,
                        inplace=a.shape == y.shape and a.dtype == y.dtype)
        return k
    return register
