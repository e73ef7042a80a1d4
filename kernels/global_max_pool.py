"""GlobalMaxPool: the maximum over all spatial positions, per image and channel."""
from tinyjit import Call, kernel


@kernel(op="GlobalMaxPool", dtypes=("float32", "int8", "uint8"))
def global_max_pool(x, y):
    n_batch, positions, channels = x.shape
    for n in range(n_batch):
        for c in range(channels):
            y[n, c] = x[n, 0, c]
        for p in range(1, positions):
            for c in range(channels):
                y[n, c] = max(y[n, c], x[n, p, c])


@global_max_pool.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    if node.attrs.get("channels_last"):        # N, H, W, C
        view = (x.shape[0], x.size // (x.shape[0] * x.shape[-1]), x.shape[-1])
    else:                                      # N, C, spatial...: N*C rows of positions
        view = (x.shape[0] * x.shape[1], x.size // max(x.shape[0] * x.shape[1], 1), 1)
    return Call([(x.name, view), (node.outputs[0], (view[0], view[2]))], macs=x.size)
