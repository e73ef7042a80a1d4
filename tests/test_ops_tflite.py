"""The TFLite builtins of tinyjit/frontends/tflite_ops.py, each in a small generated .tflite model,
against LiteRT (ai_edge_litert)."""
import numpy as np
import pytest

from test_tflite_frontend import ModelWriter, check_against_litert, litert_run, tinyjit_run, weights

RNG = np.random.default_rng(17)


def model_with(code, options, inputs: list, out_shapes: list, out_dtype=np.float32, **fields) -> tuple[bytes, list]:
    """``inputs``: a shape (a float32 model input) or an array (a constant)."""
    m = ModelWriter()
    ins, feeds = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, tuple):
            ins.append(m.tensor(f"in{i}", x))
            feeds.append(x)
        else:
            ins.append(m.const(f"c{i}", x))
    outs = [m.tensor(f"out{i}", s, out_dtype) for i, s in enumerate(out_shapes)]
    m.op(code, ins, outs, options, **fields)
    return m.build([i for i, x in zip(ins, inputs) if isinstance(x, tuple)], outs), feeds


def check(code, options, inputs, out_shapes, out_dtype=np.float32, positive=False, **fields):
    model, shapes = model_with(code, options, inputs, out_shapes, out_dtype, **fields)
    if not positive and out_dtype == np.float32:
        check_against_litert(model, *shapes)
        return
    feeds = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    if positive:
        feeds = [np.abs(f) + 0.1 for f in feeds]
    want, got = litert_run(model, feeds), tinyjit_run(model, feeds)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


X = (1, 6, 5, 4)


@pytest.mark.parametrize("code", ["SQRT", "RSQRT", "LOG"])
def test_unary_on_positive_inputs(code):
    check(code, None, [X], [X], positive=True)


@pytest.mark.parametrize("code", ["EXP", "ABS", "NEG"])
def test_unary(code):
    check(code, None, [X], [X])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(approximate):
    check("GELU", "GeluOptions", [X], [X], Approximate=approximate)


def test_squared_difference_and_prelu_broadcast():
    check("SQUARED_DIFFERENCE", None, [X, (1, 1, 5, 4)], [X])
    check("PRELU", None, [X, weights(RNG, 1, 1, 4)], [X])


def test_log_softmax():
    check("LOG_SOFTMAX", None, [(3, 7)], [(3, 7)])


@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, True)])
def test_batch_matmul(adj_x, adj_y):
    a = (2, 5, 3) if adj_x else (2, 3, 5)
    b = (1, 4, 5) if adj_y else (1, 5, 4)
    check("BATCH_MATMUL", "BatchMatMulOptions", [a, b], [(2, 3, 4)], AdjX=adj_x, AdjY=adj_y)


@pytest.mark.parametrize("code", ["SUM", "REDUCE_MAX"])
@pytest.mark.parametrize("keep", [False, True])
def test_reducers(code, keep):
    out = (1, 1, 5, 1) if keep else (1, 5)
    check(code, "ReducerOptions", [X, np.array([1, 3], np.int32)], [out], KeepDims=keep)


SAME, VALID = 0, 1


@pytest.mark.parametrize("padding,stride,k,out_hw", [(VALID, 2, 3, (13, 11)), (SAME, 2, 2, (12, 10)),
                                                     (SAME, 2, 3, (11, 9)), (VALID, 1, 3, (8, 7))])
def test_transpose_conv(padding, stride, k, out_hw):
    x = (1, 6, 5, 4)
    w = weights(RNG, 3, k, k, 4)
    out = (1, *out_hw, 3)
    check("TRANSPOSE_CONV", "TransposeConvOptions",
          [np.array(out, np.int32), w, x, (0.1 * RNG.standard_normal(3)).astype(np.float32)], [out],
          Padding=padding, StrideH=stride, StrideW=stride)


def test_pack_and_unpack():
    check("PACK", "PackOptions", [(2, 3), (2, 3), (2, 3)], [(2, 3, 3)], ValuesCount=3, Axis=2)
    check("UNPACK", "UnpackOptions", [(2, 3, 4)], [(2, 4)] * 3, Num=3, Axis=1)


def test_split_and_split_v():
    check("SPLIT", "SplitOptions", [np.array(2, np.int32), X], [(1, 6, 1, 4)] * 5, NumSplits=5)
    check("SPLIT_V", "SplitVOptions", [X, np.array([1, 3, 2], np.int32), np.array(1, np.int32)],
          [(1, 1, 5, 4), (1, 3, 5, 4), (1, 2, 5, 4)], NumSplits=3)


def test_slice_and_strided_slice():
    check("SLICE", None, [X, np.array([0, 1, 2, 0], np.int32), np.array([1, -1, 2, 3], np.int32)], [(1, 5, 2, 3)])
    check("STRIDED_SLICE", "StridedSliceOptions",
          [X, np.array([0, 5, 0, 1], np.int32), np.array([1, 0, 5, 3], np.int32), np.array([1, -2, 2, 1], np.int32)],
          [(6 // 2 - 0, 3, 2)], BeginMask=0b0100, EndMask=0, ShrinkAxisMask=0b0001)


@pytest.mark.parametrize("mode", [0, 1])
def test_mirror_pad(mode):
    check("MIRROR_PAD", "MirrorPadOptions", [X, np.array([[0, 0], [2, 1], [1, 2], [0, 0]], np.int32)],
          [(1, 9, 8, 4)], Mode=mode)


def test_gather():
    check("GATHER", "GatherOptions", [X, np.array([4, 0, 2], np.int32)], [(1, 6, 3, 4)], Axis=2)


@pytest.mark.parametrize("code", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
@pytest.mark.parametrize("align,half", [(False, False), (True, False), (False, True)])
def test_resize(code, align, half):
    options = "ResizeNearestNeighborOptions" if code.endswith("NEIGHBOR") else "ResizeBilinearOptions"
    check(code, options, [X, np.array([9, 13], np.int32)], [(1, 9, 13, 4)], AlignCorners=align,
          HalfPixelCenters=half)


def test_depth_to_space_and_space_to_depth():
    check("DEPTH_TO_SPACE", "DepthToSpaceOptions", [(1, 3, 2, 8)], [(1, 6, 4, 2)], BlockSize=2)
    check("SPACE_TO_DEPTH", "SpaceToDepthOptions", [(1, 6, 4, 2)], [(1, 3, 2, 8)], BlockSize=2)


@pytest.mark.parametrize("code,options", [("ARG_MAX", "ArgMaxOptions"), ("ARG_MIN", "ArgMinOptions")])
def test_arg_max_min(code, options):
    check(code, options, [X, np.array([2], np.int32)], [(1, 6, 4)], out_dtype=np.int64, OutputType=4)
