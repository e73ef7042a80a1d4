"""Reductions and axis ops against numpy, over non-contiguous axes and any axis."""
import numpy as np
import pytest

from ops_helpers import node, run

RNG = np.random.default_rng(11)

REFERENCES = {
    "ReduceSum": np.sum, "ReduceMean": np.mean, "ReduceMax": np.max, "ReduceMin": np.min, "ReduceProd": np.prod,
    "ReduceL1": lambda x, **k: np.sum(np.abs(x), **k), "ReduceL2": lambda x, **k: np.sqrt(np.sum(x * x, **k)),
    "ReduceSumSquare": lambda x, **k: np.sum(x * x, **k), "ReduceLogSum": lambda x, **k: np.log(np.sum(x, **k)),
    "ReduceLogSumExp": lambda x, **k: np.log(np.sum(np.exp(x), **k)),
}


@pytest.mark.parametrize("keepdims", [0, 1])
def test_reductions_over_non_contiguous_axes(keepdims):
    x = (RNG.random((3, 4, 5, 2)) + 0.5).astype(np.float32)
    axes = np.array([0, -2], np.int64)
    nodes = [node(op, ["x", "axes"], [op], keepdims=keepdims) for op in REFERENCES]
    got = run(nodes, {"x": x}, list(REFERENCES), {"axes": axes})
    for (op, ref), g in zip(REFERENCES.items(), got):
        want = ref(x.astype(np.float64), axis=(0, 2), keepdims=bool(keepdims))
        np.testing.assert_allclose(g, want, rtol=1e-5, err_msg=op)


def test_integer_and_bool_reductions_and_noop():
    x = RNG.integers(-100, 100, (4, 3, 5)).astype(np.int32)
    b = RNG.random((4, 3)) > 0.5
    nodes = [node("ReduceSum", ["x", "a1"], ["s"], keepdims=0), node("ReduceMax", ["b", "a1"], ["m"], keepdims=0),
             node("ReduceMean", ["x", "none"], ["noop"], noop_with_empty_axes=1),
             node("ReduceL2", ["f", "none"], ["noop_l2"], noop_with_empty_axes=1)]
    f = RNG.standard_normal((2, 3)).astype(np.float32)
    got = run(nodes, {"x": x, "b": b, "f": f}, ["s", "m", "noop", "noop_l2"],
              {"a1": np.array([1], np.int64), "none": np.array([], np.int64)})
    np.testing.assert_array_equal(got[0], x.sum(axis=1))
    np.testing.assert_array_equal(got[1], b.max(axis=1))
    np.testing.assert_array_equal(got[2], x)
    np.testing.assert_array_equal(got[3], f)


def test_arg_max_arg_min_with_ties():
    x = np.array([[[1, 5, 5], [2, 2, 0]], [[7, 7, 7], [-1, 3, 3]]], np.float32)
    nodes = [node("ArgMax", ["x"], ["first"], axis=2), node("ArgMax", ["x"], ["last"], axis=2, select_last_index=1),
             node("ArgMin", ["x"], ["low"], axis=0, keepdims=0)]
    got = run(nodes, {"x": x}, ["first", "last", "low"])
    np.testing.assert_array_equal(got[0], np.argmax(x, axis=2)[..., None])
    np.testing.assert_array_equal(got[1], (2 - np.argmax(x[..., ::-1], axis=2))[..., None])
    np.testing.assert_array_equal(got[2], np.argmin(x, axis=0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_on_any_axis(axis):
    x = (4 * RNG.standard_normal((3, 4, 5))).astype(np.float32)
    nodes = [node(op, ["x"], [op], axis=axis) for op in ("Softmax", "LogSoftmax", "Hardmax")]
    got = run(nodes, {"x": x}, ["Softmax", "LogSoftmax", "Hardmax"])
    shifted = x - x.max(axis=axis, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(got[0], np.exp(log_softmax), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[1], log_softmax, rtol=1e-5, atol=1e-6)
    hard = np.zeros_like(x)
    np.put_along_axis(hard, np.expand_dims(np.argmax(x, axis=axis), axis), 1, axis=axis)
    np.testing.assert_array_equal(got[2], hard)
