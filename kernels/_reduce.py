"""One loop for the Reduce* ops: each op file states its step ``acc = step(acc, x)``, its final
``y = final(acc, count)`` and its starting value.

The kept dims and the reduced dims are collapsed separately (any axes, any order) to at most
``RANK`` each; every output element walks its reduced elements through their strides.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import TinyJitError, UnsupportedError

from ._strided import collapse, contiguous_strides
from ._util import flat

RANK = 4


def reduce_loop(x, y, init, o0, o1, o2, o3, so0, so1, so2, so3, r0, r1, r2, r3, sr0, sr1, sr2, sr3, count):
    i = 0
    for a0 in range(o0):
        for a1 in range(o1):
            for a2 in range(o2):
                for a3 in range(o3):
                    base = a0 * so0 + a1 * so1 + a2 * so2 + a3 * so3
                    acc = init[0]
                    for b0 in range(r0):
                        for b1 in range(r1):
                            for b2 in range(r2):
                                offset = base + b0 * sr0 + b1 * sr1 + b2 * sr2
                                for b3 in range(r3):
                                    acc = reduce_step(acc, x[offset + b3 * sr3])  # noqa: F821
                    y[i] = reduce_final(acc, count)  # noqa: F821
                    i += 1


def keep(acc, count):
    return acc


def reduced_axes(node, rank: int) -> list[int]:
    axes = node.attrs.get("axes")
    if axes is None or (isinstance(axes, list) and not axes):
        if node.attrs.get("noop_with_empty_axes", 0):
            raise TinyJitError(f"node {node.name} ({node.op}): a no-op reduction should have become "
                               "an Identity in the lowering pass")
        return list(range(rank))
    axes = axes if isinstance(axes, list) else [axes]
    return sorted({int(a) + (rank if int(a) < 0 else 0) for a in axes})


def reduce_params(node, shape) -> tuple[list, int]:
    axes = set(reduced_axes(node, len(shape)))
    strides = contiguous_strides(shape)
    kept = collapse([d for i, d in enumerate(shape) if i not in axes],
                    [s for i, s in enumerate(strides) if i not in axes])
    red = collapse([d for i, d in enumerate(shape) if i in axes], [s for i, s in enumerate(strides) if i in axes])
    if len(kept[0]) > RANK or len(red[0]) > RANK:
        raise UnsupportedError(f"node {node.name} ({node.op}): the reduction needs more than {RANK} "
                               "kept or reduced dims")
    params = []
    for dims, steps in (kept, red):
        pad = RANK - len(dims)
        params += [1] * pad + dims + [0] * pad + steps
    count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    return params, count


def accumulator(dtype: np.dtype) -> np.dtype:
    """float32 sums for floats, int64 for integers (wrapped to the output type at the end)."""
    if dtype.kind == "f":
        return np.dtype(np.float32)
    if dtype.kind == "b":
        return np.dtype(np.bool_)
    return np.dtype(np.int64)


def reduction(op: str, dtypes, init, final=keep, acc=accumulator):
    """Register ``step(acc, x)`` as ``op``'s reduction; ``init(dtype)`` is the empty reduction's
    accumulator, ``acc(dtype)`` the accumulator's type."""
    def register(step):
        k = kernel(op=op, dtypes=dtypes, name=step.__name__, body=reduce_loop)(step)
        k.bind("reduce_step", step)
        k.bind("reduce_final", final)

        @k.prepare
        def _(node, graph, S):
            x = graph.tensors[node.inputs[0]]
            params, count = reduce_params(node, x.shape)
            dtype = acc(x.dtype)
            start = np.array([init(x.dtype)], dtype)
            return Call([flat(x.name, graph), flat(node.outputs[0], graph), start], params + [count],
                        macs=x.size)
        return k
    return register


def lowest(dtype: np.dtype):
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def highest(dtype: np.dtype):
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max
