"""Shared loops for elementwise ops; each op file only states its scalar function.

``@unary("Relu")`` / ``@binary("Add")`` register a kernel whose loop is written once here and
which calls the op's scalar function under the name ``scalar_op``: ``fn(x, alpha, beta)`` for
unary ops, ``fn(a, b, p)`` for binary ones (alpha, beta, p: the op's attributes, 0 if none). Broadcasting is resolved at
convert time: the output is walked in order over at most ``RANK`` collapsed dims and every input
is read through per-dim element strides (0 where it broadcasts).

Kernels run with Numba's Python error model, where a division by zero raises instead of giving
inf/nan, so scalar functions that divide by a runtime value guard the zero case themselves.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import broadcast_strides, flat

FLOATS = ("float32",)
INTS = ("int8", "uint8", "int16", "int32", "int64")
SIGNED = ("float32", "int8", "int16", "int32", "int64")
NUMBERS = FLOATS + INTS
ALL = NUMBERS + ("bool",)
RANK = 6


def unary_loop(x, y, alpha, beta):
    for i in range(x.shape[0]):
        y[i] = scalar_op(x[i], alpha, beta)  # noqa: F821  (bound per op at registration)


def binary_loop(a, b, y, d0, d1, d2, d3, d4, d5, sa0, sa1, sa2, sa3, sa4, sa5, sb0, sb1, sb2, sb3, sb4, sb5, p):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        oa = i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3 + i4 * sa4
                        ob = i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3 + i4 * sb4
                        for i5 in range(d5):
                            y[i] = scalar_op(a[oa + i5 * sa5], b[ob + i5 * sb5], p)  # noqa: F821
                            i += 1


def broadcast_params(node, shapes: list, out_shape: tuple) -> list:
    """Collapsed output dims followed by each input's strides, for ``RANK``-dim loops."""
    try:
        dims, strides = broadcast_strides(shapes, out_shape, rank=RANK)
    except ValueError:
        raise UnsupportedError(f"node {node.name} ({node.op}): broadcasting {shapes} to {list(out_shape)} "
                               f"needs more than {RANK} dims") from None
    return [*dims] + [s for st in strides for s in st]


def unary(op: str, dtypes=FLOATS, params=None, uses=()):
    """Register ``fn(x, alpha, beta)`` as the elementwise kernel of ``op``.

    ``params(node, graph) -> (alpha, beta)`` reads the op's attributes (default 0, 0);
    ``uses`` lists kernel-subset helpers the scalar function calls.
    """
    def register(fn):
        k = kernel(op=op, dtypes=dtypes, name=fn.__name__, body=unary_loop)(fn)
        k.uses(*uses)
        k.bind("scalar_op", fn)

        @k.prepare
        def _(node, graph, S):
            alpha, beta = params(node, graph) if params else (0.0, 0.0)
            return Call([flat(node.inputs[0], graph), flat(node.outputs[0], graph)], [alpha, beta],
                        macs=graph.tensors[node.outputs[0]].size, inplace=True)
        return k
    return register


def binary(op: str, dtypes=FLOATS, params=None, uses=()):
    """Register ``fn(a, b, p)`` as the broadcasting elementwise kernel of ``op``.

    ``params(node, graph) -> p`` reads the op's attribute (default 0).
    """
    def register(fn):
        k = kernel(op=op, dtypes=dtypes, name=fn.__name__, body=binary_loop)(fn)
        k.uses(*uses)
        k.bind("scalar_op", fn)

        @k.prepare
        def _(node, graph, S):
            a, b = (graph.tensors[n] for n in node.inputs[:2])
            y = graph.tensors[node.outputs[0]]
            args = [flat(a.name, graph), flat(b.name, graph), flat(y.name, graph)]
            p = params(node, graph) if params else 0
            return Call(args, broadcast_params(node, [a.shape, b.shape], y.shape) + [p], macs=y.size,
                        inplace=a.shape == y.shape and a.dtype == y.dtype)
        return k
    return register


def attr(name: str, default: float):
    """A ``params`` function reading one float attribute (``beta`` stays 0)."""
    return lambda node, graph: (float(node.attrs.get(name, default)), 0.0)


def attrs(first: str, first_default: float, second: str, second_default: float):
    """A ``params`` function reading two float attributes."""
    return lambda node, graph: (float(node.attrs.get(first, first_default)),
                                float(node.attrs.get(second, second_default)))


# kernel-subset helpers some scalar functions call ----------------------------------------

def safe_divide(a, b):
    """a / b with IEEE results for b == 0 (Numba's Python error model would raise)."""
    if b == 0:
        if a != a or a == 0:
            return np.nan
        return np.copysign(np.inf, a) * np.copysign(1.0, b)   # the sign of the zero counts
    return a / b


def stable_sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)
