"""TopK along one axis, viewed as [outer, axis, inner]: insertion into the k best seen so far.

Ties keep the lower index first (a later equal value never passes an earlier one), as the spec
asks; the result is always sorted.
"""
from tinyjit import Call, kernel

from ._elementwise import NUMBERS
from .softmax import axis_view


def topk_before(v, w, largest):
    return v > w if largest else v < w


@kernel(op="TopK", dtypes=NUMBERS)
def top_k(x, values, indices, largest):
    outer, length, inner = x.shape
    k = values.shape[1]
    for o in range(outer):
        for i in range(inner):
            count = 0
            for j in range(length):
                v = x[o, j, i]
                if count < k:
                    pos = count
                    count += 1
                elif k > 0 and topk_before(v, values[o, k - 1, i], largest):
                    pos = k - 1
                else:
                    continue
                while pos > 0 and topk_before(v, values[o, pos - 1, i], largest):
                    values[o, pos, i] = values[o, pos - 1, i]
                    indices[o, pos, i] = indices[o, pos - 1, i]
                    pos -= 1
                values[o, pos, i] = v
                indices[o, pos, i] = j


top_k.uses(topk_before)


@top_k.prepare
def _(node, graph, S):
    outer, length, inner = axis_view(node, graph, flatten_before_13=False)
    k = graph.tensors[node.outputs[0]].size // max(outer * inner, 1)   # K, from the output's static shape
    view = (outer, k, inner)
    outputs = [n for n in node.outputs]
    return Call([(node.inputs[0], (outer, length, inner)), (outputs[0], view), (outputs[1], view)],
                [int(node.attrs.get("largest", 1))], macs=outer * inner * length * max(k, 1))
