"""ArgMax over one axis, viewed as [outer, axis, inner] -> [outer, inner] int64."""
from tinyjit import Call, kernel

from ._elementwise import NUMBERS
from .softmax import axis_view


def arg_loop(x, y, last):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            best = x[o, 0, i]
            index = 0
            for j in range(1, length):
                v = x[o, j, i]
                if arg_better(v, best) or (last and v == best):  # noqa: F821  (bound per op)
                    best = v
                    index = j
            y[o, i] = index


def arg_call(node, graph, S):
    outer, length, inner = axis_view(node, graph, default_axis=0, flatten_before_13=False)
    return Call([(node.inputs[0], (outer, length, inner)), (node.outputs[0], (outer, inner))],
                [int(node.attrs.get("select_last_index", 0))], macs=outer * length * inner)


def greater(v, best):
    return v > best


arg_max = kernel(op="ArgMax", dtypes=NUMBERS, name="arg_max", body=arg_loop)(arg_loop)
arg_max.bind("arg_better", greater)
arg_max.prepare(arg_call)
