"""InstanceNormalization over [N, C, inner]: each (n, c) row normalized, then scale[c], B[c]."""
from tinyjit import Call, kernel

from ._moments import mean_inv_std


@kernel(op="InstanceNormalization", dtypes=("float32",))
def instance_normalization(x, scale, bias, y, epsilon):
    n_batch, channels, inner = x.shape
    for n in range(n_batch):
        for c in range(channels):
            mean, inv_std = mean_inv_std(x, n, c, epsilon)
            a = scale[c] * inv_std
            b = bias[c] - mean * a
            for i in range(inner):
                y[n, c, i] = x[n, c, i] * a + b


instance_normalization.uses(mean_inv_std)


@instance_normalization.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    n, c = x.shape[:2]
    view = (n, c, x.size // max(n * c, 1))
    return Call([(x.name, view), node.inputs[1], node.inputs[2], (node.outputs[0], view)],
                [float(node.attrs.get("epsilon", 1e-5))], macs=3 * x.size, inplace=True)
