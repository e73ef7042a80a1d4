"""Elementwise kernels against numpy: broadcasting up to 6-D, special values, integer semantics."""
import numpy as np
import pytest

from ops_helpers import node, run

RNG = np.random.default_rng(3)


def test_six_dim_broadcasting_add_where_and_compare():
    a = RNG.standard_normal((2, 1, 3, 1, 4, 5)).astype(np.float32)
    b = RNG.standard_normal((3, 2, 1, 5)).astype(np.float32)
    c = RNG.random((1, 2, 3, 2, 1, 1)) > 0.5
    nodes = [node("Add", ["a", "b"], ["sum"]), node("Less", ["a", "b"], ["less"]),
             node("Where", ["c", "a", "b"], ["picked"])]
    got = run(nodes, {"a": a, "b": b, "c": c}, ["sum", "less", "picked"])
    np.testing.assert_allclose(got[0], a + b, rtol=1e-6)
    np.testing.assert_array_equal(got[1], a < b)
    np.testing.assert_array_equal(got[2], np.where(c, a, b))


def test_float_special_values_follow_numpy():
    x = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, 1.5, np.inf, -np.inf, np.nan, 100.0, -100.0, 1e-8],
                 np.float32)
    ops = ["Sqrt", "Log", "Reciprocal", "Round", "Sign", "Sigmoid", "Softplus", "Exp", "Abs", "Floor", "Ceil"]
    got = run([node(op, ["x"], [op]) for op in ops], {"x": x}, ops)
    with np.errstate(all="ignore"):
        want = [np.sqrt(x), np.log(x), 1 / x, np.round(x), np.sign(x), 1 / (1 + np.exp(-x.astype(np.float64))),
                np.log1p(np.exp(x.astype(np.float64))), np.exp(x), np.abs(x), np.floor(x), np.ceil(x)]
    for op, g, w in zip(ops, got, want):
        np.testing.assert_allclose(g, w.astype(np.float32), rtol=1e-5, atol=0, equal_nan=True, err_msg=op)


def test_division_by_zero_gives_ieee_results_not_an_exception():
    a = np.array([1.0, -1.0, 0.0, 3.0], np.float32)
    b = np.array([0.0, 0.0, 0.0, 2.0], np.float32)
    got = run([node("Div", ["a", "b"], ["q"]), node("Mod", ["a", "b"], ["m"], fmod=1)], {"a": a, "b": b},
              ["q", "m"])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[0], a / b)
        np.testing.assert_array_equal(got[1], np.fmod(a, b))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_integer_div_truncates_and_mod_takes_the_divisor_sign(dtype):
    a = np.array([7, -7, 7, -7, 0, 5], dtype)
    b = np.array([2, 2, -2, -2, 3, 7], dtype)
    got = run([node("Div", ["a", "b"], ["q"]), node("Mod", ["a", "b"], ["m"]), node("Mod", ["a", "b"], ["f"], fmod=1)],
              {"a": a, "b": b}, ["q", "m", "f"])
    np.testing.assert_array_equal(got[0], (np.trunc(a / b)).astype(dtype))
    np.testing.assert_array_equal(got[1], np.mod(a, b))
    np.testing.assert_array_equal(got[2], np.fmod(a, b))


def test_integer_arithmetic_wraps_like_numpy():
    a = np.array([100, -100, 120, 7], np.int8)
    b = np.array([100, -100, 10, 3], np.int8)
    got = run([node("Mul", ["a", "b"], ["p"]), node("Sub", ["a", "b"], ["d"]),
               node("BitwiseXor", ["a", "b"], ["x"]), node("Clip", ["a"], ["c"])],
              {"a": a, "b": b}, ["p", "d", "x", "c"])
    np.testing.assert_array_equal(got[0], a * b)
    np.testing.assert_array_equal(got[1], a - b)
    np.testing.assert_array_equal(got[2], a ^ b)
    np.testing.assert_array_equal(got[3], a)


def test_cast_between_tinyml_types():
    x = np.array([-2.7, -0.5, 0.0, 0.4, 1.9, 100.2], np.float32)
    targets = {"i8": (3, np.int8), "i32": (6, np.int32), "b": (9, np.bool_), "u8": (2, np.uint8)}
    nodes = [node("Cast", ["x"], [n], to=t) for n, (t, _) in targets.items()]
    nodes.append(node("Cast", ["i32"], ["back"], to=1))
    got = run(nodes, {"x": x}, list(targets) + ["back"])
    np.testing.assert_array_equal(got[0], x.astype(np.int8))
    np.testing.assert_array_equal(got[1], x.astype(np.int32))
    np.testing.assert_array_equal(got[2], x.astype(bool))
    np.testing.assert_array_equal(got[3][1:], x[1:].astype(np.uint8))   # -2.7 is out of uint8's range
    np.testing.assert_array_equal(got[4], x.astype(np.int32).astype(np.float32))


@pytest.mark.parametrize("count", [1, 3, 4])
def test_variadic_ops_with_broadcasting(count):
    xs = {f"x{i}": RNG.standard_normal((2, 3, 4)[i % 3:]).astype(np.float32) for i in range(count)}
    names = list(xs)
    nodes = [node(op, names, [op]) for op in ("Sum", "Max", "Min", "Mean")]
    got = run(nodes, xs, ["Sum", "Max", "Min", "Mean"])
    arrays = np.broadcast_arrays(*xs.values())
    np.testing.assert_allclose(got[0], np.sum(arrays, axis=0), rtol=1e-5)
    np.testing.assert_array_equal(got[1], np.max(arrays, axis=0))
    np.testing.assert_array_equal(got[2], np.min(arrays, axis=0))
    np.testing.assert_allclose(got[3], np.mean(arrays, axis=0), rtol=1e-5)


def test_activations_match_their_formulas():
    x = np.linspace(-8, 8, 65, dtype=np.float32)
    cases = {
        "HardSigmoid": ({"alpha": 0.3, "beta": 0.4}, np.clip(0.3 * x + 0.4, 0, 1)),
        "HardSwish": ({}, x * np.clip(x / 6 + 0.5, 0, 1)),
        "LeakyRelu": ({"alpha": 0.1}, np.where(x >= 0, x, 0.1 * x)),
        "Elu": ({"alpha": 0.7}, np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
        "Gelu": ({"approximate": "tanh"},
                 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
        "Mish": ({}, x * np.tanh(np.log1p(np.exp(x)))),
        "Swish": ({"alpha": 1.5}, x / (1 + np.exp(-1.5 * x))),
        "Celu": ({"alpha": 2.0}, np.maximum(0, x) + np.minimum(0, 2 * (np.exp(x / 2) - 1))),
    }
    nodes = [node(op, ["x"], [op], **attrs) for op, (attrs, _) in cases.items()]
    got = run(nodes, {"x": x}, list(cases), opset=24)
    for (op, (_, want)), g in zip(cases.items(), got):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=op)


def test_elementwise_chain_reading_through_views():
    """Relu then Add: Relu's output is read only through flat views (arena planning regression)."""
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    got = run([node("Relu", ["x"], ["r"]), node("Add", ["r", "x"], ["y"])], {"x": x}, ["y"])
    np.testing.assert_allclose(got[0], np.maximum(x, 0) + x)
