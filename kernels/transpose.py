"""Transpose: the output walked in order reads the input through permuted strides."""
from ._strided import contiguous_strides, copy_call, copy_kernel

transpose = copy_kernel("Transpose", "transpose")


@transpose.prepare
def _(node, graph, S):
    shape = graph.tensors[node.inputs[0]].shape
    perm = node.attrs.get("perm") or list(range(len(shape)))[::-1]
    strides = contiguous_strides(shape)
    return copy_call(node, graph, node.inputs[0], node.outputs[0],
                     [shape[p] for p in perm], [strides[p] for p in perm])
