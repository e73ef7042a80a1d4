"""The float kernels (Conv, DepthwiseConv, Gemm, AveragePool, GlobalAveragePool) on their own,
against numpy references, for shapes that exercise every path (strides, pads, dilations, groups,
channel counts that are not a multiple of the tile, narrow images, batches) and every value of
every schedule knob (one knob at a time, the others at their x86_64 defaults).

Each case is a one-node ONNX model, imported and optimized as usual; the layout transposes the
pipeline puts around the node are dropped so the plan holds only the kernel under test, which then
runs exactly as in a model: the generated plan passes its parameters as literals.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper

from conftest import max_rel_err
from tinyjit import pipeline, plan, registry, schedule
from tinyjit.executor import Executor

MAX_REL_ERR = 1e-5


# --- running one node -------------------------------------------------------------------------

def one_node_model(op, x_shape, consts=(), relu=None, **attrs):
    """y = op(x, *consts), optionally followed by Relu or Clip(lo, hi) (fused into the kernel)."""
    names = ["x"] + [name for name, _ in consts]
    nodes = [helper.make_node(op, names, ["y" if relu is None else "z"], **attrs)]
    if relu == "relu":
        nodes.append(helper.make_node("Relu", ["z"], ["y"]))
    elif relu is not None:
        lo, hi = relu
        nodes.append(helper.make_node("Clip", ["z"], ["y"], min=lo, max=hi))
    graph = helper.make_graph(
        nodes, op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor(name, TensorProto.FLOAT, v.shape, v.ravel()) for name, v in consts])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)]).SerializeToString()


def run_kernel(model: bytes, kernel_name: str, knobs: dict, x: np.ndarray) -> np.ndarray:
    """The model's one kernel on ``x`` (NCHW for spatial ops), output in the model's layout."""
    graph = pipeline.import_model(model)
    from tinyjit import passes
    graph = passes.optimize(graph)
    nodes = [n for n in graph.nodes if n.op not in ("Transpose", "Reshape")]   # the layout changes
    assert len(nodes) == 1, [n.op for n in graph.nodes]
    node = nodes[0]
    assert registry.find(node.op, "float32").name == kernel_name
    spatial = len(graph.tensors[node.inputs[0]].shape) == 4 and node.attrs.get("channels_last")
    graph.nodes = nodes
    graph.inputs, graph.outputs = [node.inputs[0]], [node.outputs[0]]
    k = registry.by_name(kernel_name)
    sched = {**schedule.for_target("x86_64").lookup(k, node, graph)[0], **knobs}

    class Forced(schedule.TargetSchedules):
        def lookup(self, kern, node, graph):
            return (dict(sched), False) if kern.name == kernel_name else super().lookup(kern, node, graph)

    original = schedule.for_target
    schedule.for_target = lambda target="x86_64", tuned_path=None: Forced(target, {}, {})
    try:
        p = plan.build(graph)
    finally:
        schedule.for_target = original
    (step,) = p.steps
    assert step.schedule == sched
    feed = x.transpose(0, 2, 3, 1) if spatial else x
    out = Executor(p).run([np.ascontiguousarray(feed, np.float32)])[0]
    return out.transpose(0, 3, 1, 2) if spatial else out


def knob_values(kernel_name: str):
    """Every value of every knob, one knob at a time (the others at the x86_64 defaults)."""
    k = registry.by_name(kernel_name)
    defaults = {**k.default_schedule(), **schedule.for_target("x86_64").defaults.get(kernel_name, {})}
    cases = [dict(defaults)]
    for knob, values in k.schedule_space.items():
        cases += [{**defaults, knob: v} for v in values if v != defaults[knob]]
    return cases


def sched_id(s):
    return ",".join(f"{k}={v}" for k, v in sorted(s.items()))


# --- numpy references -------------------------------------------------------------------------

def conv_ref(x, w, b, strides, pads, dilations, group):
    """ONNX Conv, NCHW, with explicit pads [top, left, bottom, right]."""
    n, c, h, wd = x.shape
    co, cig, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, co, oh, ow))
    cog = co // group
    for g in range(group):
        xs = xp[:, g * cig:(g + 1) * cig]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, g * cog:(g + 1) * cog] += np.einsum("nchw,oc->nohw", patch, w[g * cog:(g + 1) * cog, :, i, j])
    return y + b.reshape(1, -1, 1, 1)


def avg_pool_ref(x, kernel, strides, pads, count_include_pad):
    n, c, h, wd = x.shape
    kh, kw = kernel
    sh, sw = strides
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ones = np.pad(np.ones((h, wd)), ((pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - kh) // sh + 1
    ow = (wd + pads[1] + pads[3] - kw) // sw + 1
    total = np.zeros((n, c, oh, ow))
    count = np.zeros((oh, ow))
    for i in range(kh):
        for j in range(kw):
            total += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            count += ones[i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    return total / (kh * kw if count_include_pad else count)


def activation(y, relu):
    if relu == "relu":
        return np.maximum(y, 0)
    if relu is not None:
        return np.clip(y, *relu)
    return y


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- Conv and DepthwiseConv -------------------------------------------------------------------

# (n, ci, h, w, co, kernel, strides, pads [t, l, b, r], dilations, group, activation)
CONV = {
    "pointwise": (1, 16, 5, 7, 24, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "relu"),
    "pointwise_odd": (1, 13, 3, 11, 37, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, None),
    "3x3_same": (1, 12, 10, 9, 20, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, (0.0, 6.0)),
    "3x3_stride2": (1, 16, 11, 13, 32, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 1, "relu"),
    "first_layer": (1, 3, 17, 15, 8, (3, 3), (2, 2), (1, 0, 1, 1), (1, 1), 1, "relu"),
    "tall_kernel": (1, 1, 21, 6, 19, (7, 4), (2, 2), (3, 1, 3, 2), (1, 1), 1, None),
    "dilated": (2, 5, 12, 12, 9, (3, 2), (1, 2), (2, 1, 2, 1), (2, 3), 1, None),
    "grouped": (1, 12, 7, 8, 18, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 3, (-1.0, 1.0)),
    "narrow_image": (1, 24, 9, 2, 40, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "relu"),
    "wide_1x1_stride2": (1, 8, 9, 14, 70, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1, None),
}
DEPTHWISE = {
    "3x3_same": (1, 24, 10, 11, 24, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 24, (0.0, 6.0)),
    "3x3_stride2": (1, 16, 12, 13, 16, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 16, "relu"),
    "odd_channels": (2, 13, 7, 9, 13, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 13, None),
    "narrow_image": (1, 64, 12, 3, 64, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 64, "relu"),
    "5x5_dilated": (1, 8, 14, 14, 8, (5, 5), (1, 1), (4, 4, 4, 4), (2, 2), 8, None),
    "multiplier_2": (1, 6, 8, 7, 12, (3, 3), (1, 2), (1, 1, 1, 1), (1, 1), 6, None),
}


def conv_case(case, seed=0):
    n, ci, h, wd, co, kernel, strides, pads, dilations, group, act = case
    w = rand((co, ci // group, *kernel), seed + 1)
    b = rand((co,), seed + 2)
    model = one_node_model("Conv", (n, ci, h, wd), [("W", w), ("B", b)], relu=act, kernel_shape=list(kernel),
                           strides=list(strides), pads=list(pads), dilations=list(dilations), group=group)
    x = rand((n, ci, h, wd), seed)
    return model, x, activation(conv_ref(x, w, b, strides, pads, dilations, group), act)


CONV_CASES = [("conv2d_f32", name, knobs) for name in CONV for knobs in knob_values("conv2d_f32")] + \
    [("depthwise_conv2d_f32", name, knobs) for name in DEPTHWISE for knobs in knob_values("depthwise_conv2d_f32")]


@pytest.mark.parametrize("kernel_name,name,knobs", CONV_CASES,
                         ids=[f"{k}-{n}-{sched_id(s)}" for k, n, s in CONV_CASES])
def test_conv(kernel_name, name, knobs):
    model, x, want = conv_case((CONV if kernel_name == "conv2d_f32" else DEPTHWISE)[name])
    got = run_kernel(model, kernel_name, knobs, x)
    assert got.shape == want.shape
    assert max_rel_err(got, want) <= MAX_REL_ERR


# --- Gemm -------------------------------------------------------------------------------------

# (m, k, n, transA, transB, alpha, beta, C shape, activation)
GEMM = {
    "fc": (1, 640, 128, 0, 1, 1.0, 1.0, "row", "relu"),
    "fc_odd": (1, 37, 21, 0, 0, 1.0, 1.0, "row", None),
    "few_columns": (1, 256, 2, 0, 1, 1.0, 1.0, "row", None),
    "batch_trans": (3, 19, 45, 1, 1, 0.5, 2.0, "full", (-1.0, 1.0)),
    "no_bias_rows": (5, 7, 33, 0, 0, 1.5, 0.0, "scalar", "relu"),
}


@pytest.mark.parametrize("knobs", knob_values("gemm_f32"), ids=sched_id)
@pytest.mark.parametrize("name", list(GEMM))
def test_gemm(name, knobs):
    m, k, n, trans_a, trans_b, alpha, beta, c_shape, act = GEMM[name]
    b = rand((n, k) if trans_b else (k, n), 1)
    c = rand({"row": (n,), "full": (m, n), "scalar": (1,)}[c_shape], 2)
    model = one_node_model("Gemm", (k, m) if trans_a else (m, k), [("B", b), ("C", c)], relu=act,
                           transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)
    x = rand((k, m) if trans_a else (m, k), 0)
    a64 = (x.T if trans_a else x).astype(np.float64)
    want = activation(alpha * a64 @ (b.T if trans_b else b) + beta * c, act)
    got = run_kernel(model, "gemm_f32", knobs, x)
    assert max_rel_err(got, want) <= MAX_REL_ERR


# --- pools ------------------------------------------------------------------------------------

# (n, c, h, w, kernel, strides, pads, count_include_pad, activation)
AVG_POOL = {
    "global_window": (1, 64, 25, 5, (25, 5), (1, 1), (0, 0, 0, 0), 0, None),
    "3x3_stride2_pad": (1, 40, 9, 8, (3, 3), (2, 2), (1, 1, 1, 1), 0, "relu"),
    "count_pad_odd": (2, 13, 9, 7, (3, 2), (2, 1), (1, 0, 1, 1), 1, None),
    "narrow": (1, 5, 6, 6, (2, 2), (2, 2), (0, 0, 0, 0), 0, (0.0, 0.5)),
}


@pytest.mark.parametrize("knobs", knob_values("average_pool_f32"), ids=sched_id)
@pytest.mark.parametrize("name", list(AVG_POOL))
def test_average_pool(name, knobs):
    n, c, h, wd, kernel, strides, pads, include, act = AVG_POOL[name]
    model = one_node_model("AveragePool", (n, c, h, wd), relu=act, kernel_shape=list(kernel),
                           strides=list(strides), pads=list(pads), count_include_pad=include)
    x = rand((n, c, h, wd), 0)
    want = activation(avg_pool_ref(x, kernel, strides, pads, include), act)
    assert max_rel_err(run_kernel(model, "average_pool_f32", knobs, x), want) <= MAX_REL_ERR


@pytest.mark.parametrize("knobs", knob_values("global_average_pool_f32"), ids=sched_id)
@pytest.mark.parametrize("shape", [(1, 64, 8, 8), (2, 21, 5, 3), (1, 7, 1, 1)])
def test_global_average_pool(shape, knobs):
    model = one_node_model("GlobalAveragePool", shape)
    x = rand(shape, 0)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    assert max_rel_err(run_kernel(model, "global_average_pool_f32", knobs, x), want) <= MAX_REL_ERR


# --- the pieces the kernels rely on -----------------------------------------------------------

def test_register_tiles_are_vectorized():
    """The conv's tile compiles to packed FMAs (SLP is on, the tile unrolled into registers)."""
    import numba
    from numba import types
    from tinyjit import codegen
    from tinyjit.kernels import primitives  # noqa: F401  (switches SLP on)
    assert numba.config.SLP_VECTORIZE
    k = registry.by_name("conv2d_f32")
    source = codegen.kernel_module_source(k, k.default_schedule()).replace("cache=True", "cache=False")
    namespace = {}
    exec(compile(source, "<conv2d_f32>", "exec"), namespace)
    f32 = types.float32
    arrays = (types.Array(f32, 4, "C"), types.Array(f32, 4, "C", readonly=True),
              types.Array(f32, 3, "C", readonly=True), types.Array(f32, 4, "C"))
    # a 3x3 conv as the plan calls it: the integer parameters are literals
    params = (3, 3, 1, 1, 1, 1, 1, 1, k.default_schedule()["MR"], k.default_schedule()["NR"], 16)  # 16 input channels
    sig = arrays + tuple(types.literal(p) for p in params) + (types.float64, types.float64)
    dispatcher = namespace["kernel"]
    dispatcher.compile(sig)
    asm = dispatcher.inspect_asm(sig)
    packed = [line for line in asm.splitlines() if "vfmadd" in line and "ps" in line and ("ymm" in line or "zmm" in line)]
    assert len(packed) >= k.default_schedule()["MR"], "the register tile is not vectorized"
    assert "gather" not in asm, "the tile's loops stayed rolled (vector gathers of the tile)"

