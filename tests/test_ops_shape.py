"""Data-movement kernels against numpy: transpose, slice, split, concat, expand, tile, gathers, pads."""
import numpy as np
import pytest

from ops_helpers import node, run

RNG = np.random.default_rng(5)


def test_transpose_six_dims():
    x = RNG.standard_normal((2, 3, 1, 4, 2, 3)).astype(np.float32)
    perm = [4, 0, 5, 2, 1, 3]
    got = run([node("Transpose", ["x"], ["y"], perm=perm)], {"x": x}, ["y"])
    np.testing.assert_array_equal(got[0], x.transpose(perm))


def test_slice_with_negative_steps_and_clamped_bounds():
    x = RNG.standard_normal((5, 6, 7)).astype(np.float32)
    inits = {"starts": np.array([4, -2, 1], np.int64), "ends": np.array([0, -100, 100], np.int64),
             "axes": np.array([0, 1, 2], np.int64), "steps": np.array([-2, -1, 3], np.int64)}
    got = run([node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])], {"x": x}, ["y"], inits)
    np.testing.assert_array_equal(got[0], x[4:0:-2, -2::-1, 1:100:3])


def test_split_uneven_and_concat_int8():
    x = RNG.integers(-128, 127, (2, 7, 3), dtype=np.int8)
    nodes = [node("Split", ["x", "split"], ["a", "b", "c"], axis=1),
             node("Concat", ["c", "a", "b"], ["y"], axis=1)]
    got = run(nodes, {"x": x}, ["a", "b", "c", "y"], {"split": np.array([2, 4, 1], np.int64)})
    np.testing.assert_array_equal(got[0], x[:, :2])
    np.testing.assert_array_equal(got[1], x[:, 2:6])
    np.testing.assert_array_equal(got[2], x[:, 6:])
    np.testing.assert_array_equal(got[3], np.concatenate([x[:, 6:], x[:, :2], x[:, 2:6]], axis=1))


def test_expand_and_tile_five_dims():
    x = RNG.standard_normal((3, 1, 2, 1, 4)).astype(np.float32)
    inits = {"shape": np.array([2, 3, 5, 2, 3, 4], np.int64), "repeats": np.array([2, 3, 1, 2, 2], np.int64)}
    got = run([node("Expand", ["x", "shape"], ["e"]), node("Tile", ["x", "repeats"], ["t"])], {"x": x},
              ["e", "t"], inits)
    np.testing.assert_array_equal(got[0], np.broadcast_to(x, (2, 3, 5, 2, 3, 4)))
    np.testing.assert_array_equal(got[1], np.tile(x, (2, 3, 1, 2, 2)))


def test_gather_gather_elements_gather_nd():
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    idx = np.array([[3, -1], [0, 2]], np.int64)
    elements = RNG.integers(-5, 5, (3, 4, 2)).astype(np.int64)
    nd = np.array([[[1, 2]], [[3, 0]], [[0, 4]]], np.int64)        # batch_dims=1: one (row, col) per batch
    nodes = [node("Gather", ["x", "idx"], ["g"], axis=1), node("GatherElements", ["x", "el"], ["ge"], axis=2),
             node("GatherND", ["x", "nd"], ["gn"], batch_dims=1)]
    got = run(nodes, {"x": x, "idx": idx, "el": elements, "nd": nd}, ["g", "ge", "gn"])
    np.testing.assert_array_equal(got[0], np.take(x, idx, axis=1))
    np.testing.assert_array_equal(got[1], np.take_along_axis(x, elements % 5, axis=2))
    np.testing.assert_array_equal(got[2], np.stack([x[b][tuple(nd[b, 0])] for b in range(3)])[:, None])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_inverts_space_to_depth(mode):
    x = RNG.standard_normal((2, 3, 4, 6)).astype(np.float32)
    nodes = [node("SpaceToDepth", ["x"], ["d"], blocksize=2, mode=mode),
             node("DepthToSpace", ["d"], ["y"], blocksize=2, mode=mode)]
    got = run(nodes, {"x": x}, ["d", "y"], opset=26)
    b = 2
    if mode == "DCR":
        want = x.reshape(2, 3, 2, b, 3, b).transpose(0, 3, 5, 1, 2, 4).reshape(2, 12, 2, 3)
    else:
        want = x.reshape(2, 3, 2, b, 3, b).transpose(0, 1, 3, 5, 2, 4).reshape(2, 12, 2, 3)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(got[1], x)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_modes_with_a_negative_pad(mode):
    x = RNG.integers(-50, 50, (3, 5)).astype(np.int32)
    pads = np.array([2, -1, 1, 3], np.int64)
    got = run([node("Pad", ["x", "pads", "value"], ["y"], mode=mode)], {"x": x}, ["y"],
              {"pads": pads, "value": np.array(7, np.int32)}, opset=19)
    cropped = x[:, 1:]
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    np.testing.assert_array_equal(got[0], np.pad(cropped, ((2, 1), (0, 3)), mode=mode, **kwargs))


def test_top_k_ties_cum_sum_one_hot_trilu():
    x = np.array([[3, 1, 3, 2, 1, 3], [0, 5, 5, 1, 0, 5]], np.float32)
    nodes = [node("TopK", ["x", "k"], ["v", "i"], axis=1), node("TopK", ["x", "k"], ["sv", "si"], axis=1, largest=0),
             node("CumSum", ["x", "axis"], ["cs"], exclusive=1, reverse=1),
             node("OneHot", ["cls", "depth", "values"], ["oh"], axis=0),
             node("Trilu", ["x"], ["tri"], upper=0)]
    inits = {"k": np.array([4], np.int64), "axis": np.array(1, np.int64), "depth": np.array(4, np.int64),
             "values": np.array([-1, 2], np.float32)}
    cls = np.array([2, -1, 0], np.int64)
    got = run(nodes, {"x": x, "cls": cls}, ["v", "i", "sv", "si", "cs", "oh", "tri"], inits)
    order = np.argsort(-x, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(got[1], order)
    np.testing.assert_array_equal(got[0], np.take_along_axis(x, order, axis=1))
    order = np.argsort(x, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(got[3], order)
    np.testing.assert_array_equal(got[4], np.flip(np.cumsum(np.flip(x, 1), 1), 1) - x)
    np.testing.assert_array_equal(got[5], np.where(np.arange(4)[:, None] == cls % 4, 2, -1).astype(np.float32))
    np.testing.assert_array_equal(got[6], np.tril(x))
