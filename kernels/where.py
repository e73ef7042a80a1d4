"""Where: condition ? x : y with three-way broadcasting."""
from tinyjit import Call, kernel

from ._elementwise import broadcast_params
from ._util import flat


@kernel(op="Where", dtypes=("bool",))
def where(c, a, b, y, d0, d1, d2, d3, d4, d5, sc0, sc1, sc2, sc3, sc4, sc5,
          sa0, sa1, sa2, sa3, sa4, sa5, sb0, sb1, sb2, sb3, sb4, sb5):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        oc = i0 * sc0 + i1 * sc1 + i2 * sc2 + i3 * sc3 + i4 * sc4
                        oa = i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3 + i4 * sa4
                        ob = i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3 + i4 * sb4
                        for i5 in range(d5):
                            if c[oc + i5 * sc5]:
                                y[i] = a[oa + i5 * sa5]
                            else:
                                y[i] = b[ob + i5 * sb5]
                            i += 1


@where.prepare
def _(node, graph, S):
    ins = [graph.tensors[n] for n in node.inputs]
    y = graph.tensors[node.outputs[0]]
    return Call([flat(t.name, graph) for t in ins] + [flat(y.name, graph)],
                broadcast_params(node, [t.shape for t in ins], y.shape), macs=y.size)
