"""GroupNormalization over [N, groups, channels/group * spatial]; scale and bias per channel
(opset 21) or, in opset 18 models, per group."""
from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._moments import mean_inv_std


@kernel(op="GroupNormalization", dtypes=("float32",))
def group_normalization(x, scale, bias, y, group_channels, epsilon):
    n_batch, groups, size = x.shape
    per_channel = size // group_channels
    per_group_params = scale.shape[0] == groups and scale.shape[0] != groups * group_channels
    for n in range(n_batch):
        for g in range(groups):
            mean, inv_std = mean_inv_std(x, n, g, epsilon)
            for i in range(size):
                c = g if per_group_params else g * group_channels + i // per_channel
                y[n, g, i] = (x[n, g, i] - mean) * inv_std * scale[c] + bias[c]


group_normalization.uses(mean_inv_std)


@group_normalization.shape
def _(x_shape, *rest):
    return x_shape   # onnx's shape inference has none for the opset-21 function


@group_normalization.prepare
def _(node, graph, S):
    if int(node.attrs.get("stash_type", 1)) != 1:
        raise UnsupportedError(f"node {node.name} (GroupNormalization): stash_type={node.attrs['stash_type']}")
    x = graph.tensors[node.inputs[0]]
    n, c = x.shape[:2]
    groups = int(node.attrs["num_groups"])
    view = (n, groups, x.size // max(n * groups, 1))
    return Call([(x.name, view), node.inputs[1], node.inputs[2], (node.outputs[0], view)],
                [c // groups, float(node.attrs.get("epsilon", 1e-5))], macs=3 * x.size, inplace=True)
