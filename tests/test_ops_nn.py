"""Layers against references: MatMul/Gemm (numpy), ConvTranspose, pools and normalizations
(onnxruntime), Resize in every mode (onnx's reference implementation)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tinyjit

from conftest import max_rel_err, ort_session
from ops_helpers import node, run

RNG = np.random.default_rng(13)


def typed_model(nodes, inputs: dict, outputs: dict, inits: dict | None = None, opset: int = 18) -> bytes:
    """A model with typed outputs (onnxruntime wants them): ``outputs`` is name -> TensorProto type."""
    graph = helper.make_graph(
        nodes, "nn", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                      for n, a in inputs.items()],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def check_against_ort(model: bytes, inputs: dict, tol: float = 1e-5):
    got = tinyjit.InferenceSession(model).run(None, inputs)
    want = ort_session(model).run(None, inputs)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if g.dtype.kind == "f":
            assert max_rel_err(g, w) < tol, max_rel_err(g, w)
        else:
            np.testing.assert_array_equal(g, w)


def test_matmul_batched_broadcast_and_vectors():
    a = RNG.standard_normal((2, 1, 3, 4)).astype(np.float32)
    b = RNG.standard_normal((5, 4, 6)).astype(np.float32)
    v = RNG.standard_normal(4).astype(np.float32)
    nodes = [node("MatMul", ["a", "b"], ["ab"]), node("MatMul", ["v", "b"], ["vb"]), node("MatMul", ["a", "v"], ["av"])]
    got = run(nodes, {"a": a, "b": b, "v": v}, ["ab", "vb", "av"])
    for g, w in zip(got, (a @ b, v @ b, a @ v)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 1)])
def test_gemm_with_computed_b_and_c(trans_a, trans_b):
    a = RNG.standard_normal((4, 3) if trans_a else (3, 4)).astype(np.float32)
    b = RNG.standard_normal((5, 4) if trans_b else (4, 5)).astype(np.float32)
    c = RNG.standard_normal(5).astype(np.float32)
    got = run([node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transA=trans_a, transB=trans_b)],
              {"a": a, "b": b, "c": c}, ["y"])
    want = 0.5 * ((a.T if trans_a else a) @ (b.T if trans_b else b)) + 2.0 * c
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spatial,attrs", [
    (1, {"strides": [2], "pads": [1, 0], "output_padding": [1]}),
    (2, {"strides": [2, 1], "dilations": [1, 2], "group": 2, "pads": [0, 1, 1, 0]}),
    (2, {"strides": [2, 2], "output_shape": [9, 9]}),
    (2, {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    (3, {"strides": [1, 2, 1], "pads": [1, 0, 0, 0, 1, 1]}),
])
def test_conv_transpose(spatial, attrs):
    group = attrs.get("group", 1)
    x = RNG.standard_normal((1, 4) + (5,) * spatial).astype(np.float32)
    w = RNG.standard_normal((4, 6 // group) + (3,) * spatial).astype(np.float32)
    b = RNG.standard_normal(6 // group * group).astype(np.float32)
    model = typed_model([node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)], {"x": x},
                        {"y": TensorProto.FLOAT}, {"w": w, "b": b}, opset=17)
    check_against_ort(model, {"x": x})


@pytest.mark.parametrize("spatial", [1, 3])
def test_max_pool_1d_3d_with_indices(spatial):
    x = RNG.standard_normal((2, 3) + (7,) * spatial).astype(np.float32)
    attrs = {"kernel_shape": [3] * spatial, "strides": [2] * spatial, "pads": [1] * 2 * spatial}
    model = typed_model([node("MaxPool", ["x"], ["y", "i"], **attrs)], {"x": x},
                        {"y": TensorProto.FLOAT, "i": TensorProto.INT64})
    check_against_ort(model, {"x": x})


def test_average_and_lp_pools_in_1d_and_3d():
    x1 = RNG.standard_normal((1, 3, 9)).astype(np.float32)
    x3 = RNG.standard_normal((1, 2, 5, 6, 7)).astype(np.float32)
    nodes = [node("AveragePool", ["x1"], ["a1"], kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=1),
             node("AveragePool", ["x3"], ["a3"], kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 0],
                  ceil_mode=1),
             node("LpPool", ["x3"], ["l3"], kernel_shape=[2, 2, 2], p=3),
             node("GlobalMaxPool", ["x3"], ["g3"]), node("GlobalAveragePool", ["x1"], ["g1"])]
    outs = {n: TensorProto.FLOAT for n in ("a1", "a3", "l3", "g3", "g1")}
    check_against_ort(typed_model(nodes, {"x1": x1, "x3": x3}, outs), {"x1": x1, "x3": x3})


def test_normalizations_against_onnxruntime():
    x = RNG.standard_normal((2, 6, 4, 5)).astype(np.float32)
    c = lambda n, s=0.1: (1 + s * RNG.standard_normal(n)).astype(np.float32)  # noqa: E731
    inits = {"scale": c(6), "bias": c(6) - 1, "mean": c(6) - 1, "var": c(6, 0.3) ** 2, "ln_scale": c(20).reshape(4, 5),
             "ln_bias": c(20).reshape(4, 5) - 1}
    nodes = [node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
             node("InstanceNormalization", ["x", "scale", "bias"], ["inorm"]),
             node("GroupNormalization", ["x", "scale", "bias"], ["gn"], num_groups=3),
             node("LayerNormalization", ["x", "ln_scale", "ln_bias"], ["ln", "ln_mean", "ln_inv_std"], axis=2),
             node("LRN", ["x"], ["lrn"], size=3, alpha=1e-3, beta=0.7, bias=1.5),
             node("LpNormalization", ["x"], ["lp"], axis=1, p=1),
             node("MeanVarianceNormalization", ["x"], ["mvn"], axes=[0, 2, 3])]
    outs = {n: TensorProto.FLOAT for n in ("bn", "inorm", "gn", "ln", "ln_mean", "ln_inv_std", "lrn", "lp", "mvn")}
    check_against_ort(typed_model(nodes, {"x": x}, outs, inits, opset=21), {"x": x}, tol=1e-4)


def test_batch_normalization_statistics_at_run_time():
    """Statistics fed as graph inputs (not foldable into a Conv): the kernel reads them per inference."""
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    stats = {k: (RNG.random(3) + 0.5).astype(np.float32) for k in ("s", "b", "m", "v")}
    got = run([node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])], {"x": x, **stats}, ["y"])
    s, b, m, v = (stats[k][:, None] for k in "sbmv")
    np.testing.assert_allclose(got[0], (x - m) / np.sqrt(v + 1e-5) * s + b, rtol=1e-5, atol=1e-6)


RESIZE_CASES = [
    ("nearest", "asymmetric", {"nearest_mode": "floor"}, [1, 1, 2.0, 3.0]),
    ("nearest", "half_pixel", {"nearest_mode": "round_prefer_ceil"}, [1, 1, 0.6, 1.7]),
    ("nearest", "align_corners", {"nearest_mode": "round_prefer_floor"}, [1, 1, 1.5, 2.5]),
    ("linear", "half_pixel", {}, [1, 1, 1.6, 0.7]),
    ("linear", "pytorch_half_pixel", {}, [1, 1, 2.0, 2.0]),
    ("linear", "align_corners", {}, [1, 1, 0.5, 3.0]),
    ("linear", "half_pixel_symmetric", {}, [1, 1, 1.3, 0.8]),
    ("linear", "half_pixel", {"antialias": 1}, [1, 1, 0.4, 0.6]),
    ("cubic", "half_pixel", {"cubic_coeff_a": -0.5, "exclude_outside": 1}, [1, 1, 1.5, 0.75]),
    ("cubic", "asymmetric", {"antialias": 1}, [1, 1, 0.5, 1.25]),
    ("linear", "tf_crop_and_resize", {"extrapolation_value": 9.0}, [1, 1, 1.4, 1.2]),
]


@pytest.mark.parametrize("mode,coord,attrs,scales", RESIZE_CASES)
def test_resize_matches_onnx_reference(mode, coord, attrs, scales):
    x = RNG.standard_normal((1, 2, 7, 9)).astype(np.float32)
    roi = np.array([0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3], np.float32) if coord == "tf_crop_and_resize" \
        else np.array([], np.float32)
    inits = {"roi": roi, "scales": np.array(scales, np.float32)}
    resize = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode=mode,
                              coordinate_transformation_mode=coord, **attrs)
    model = typed_model([resize], {"x": x}, {"y": TensorProto.FLOAT}, inits, opset=19)
    want = ReferenceEvaluator(onnx.load_from_string(model)).run(None, {"x": x})[0]
    got = tinyjit.InferenceSession(model).run(None, {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_resize_sizes_with_axes_and_aspect_policy():
    x = RNG.standard_normal((1, 3, 6, 10)).astype(np.float32)
    resize = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear", axes=[3, 2],
                              keep_aspect_ratio_policy="not_larger")
    model = typed_model([resize], {"x": x}, {"y": TensorProto.FLOAT}, {"sizes": np.array([5, 9], np.int64)},
                        opset=19)
    want = ReferenceEvaluator(onnx.load_from_string(model)).run(None, {"x": x})[0]
    got = tinyjit.InferenceSession(model).run(None, {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
