"""The Python → C lowering keeps Numba's semantics: each small kernel here is lowered to C (for a
32-bit target, where int64 is narrowed, and for a 64-bit one), compiled on the host into a shared
library, run through ctypes and compared with the same kernel under Numba, bit for bit."""
from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest

from tinyjit import codegen, registry
from tinyjit.export import lower

# ---- kernels in the subset (the corners where C and Python differ) ------------------------


def floor_ops(x, y, z, d):
    for i in range(x.shape[0]):
        y[i] = x[i] // d          # Python floors; C truncates
        z[i] = x[i] % d           # Python takes the sign of d


def int_widths(a, b, y, scale):
    for i in range(a.shape[0]):
        p = a[i] * b[i] * scale   # int64 in Numba: no int32 overflow
        y[i] = np.int32(p >> 3)   # then wraps to int32 explicitly


def float_literals(x, y):
    for i in range(x.shape[0]):
        y[i] = x[i] * 0.1 + 1e-3  # float32 * float64 literal: computed in double


def control_flow(x, y, limit):
    n = x.shape[0]
    for i in range(n - 1, -1, -2):
        v = x[i]
        if v > limit:
            y[i] = limit
        elif v < -limit:
            y[i] = -limit if i % 3 else 0
        else:
            y[i] = abs(v)
    j = 0
    while True:
        if j >= n:
            break
        if x[j] == 0:
            j += 1
            continue
        y[j] = max(y[j], min(x[j], 5), -7)
        j += 1


def accumulate(x, w, b, y):
    rows, depth = x.shape
    _, cols = w.shape
    for m in range(rows):
        for n in range(cols):
            acc = b[n]
            for k in range(depth):
                acc += x[m, k] * w[k, n]
            y[m, n] = acc


def with_views(x, y):
    rows, cols = x.shape
    for r in range(rows):
        row = x[r]
        out = y[r, 1:cols + 1]
        for c in range(cols):
            out[c] = row[c] * 2


def dot_wrapped(a, b, y):
    for m in range(a.shape[0]):
        s = np.int32(0)
        for k in range(a.shape[1]):
            s = np.int32(s + np.int32(a[m, k]) * np.int32(b[m, k]))   # wraps at every step
        y[m] = s


def dot2_wrapped(a, b, y):
    for m in range(b.shape[0] // 2):
        s0 = np.int32(m)
        s1 = np.int32(-m)
        for k in range(a.shape[0]):       # one row of a against two rows of b: tj_dot2_*
            s0 = np.int32(s0 + np.int32(a[k]) * np.int32(b[2 * m, k]))
            s1 = np.int32(s1 + np.int32(a[k]) * np.int32(b[2 * m + 1, k]))
        y[2 * m] = s0
        y[2 * m + 1] = s1


def dot2x2_wrapped(a, b, y):
    for m in range(2):
        s00 = np.int32(m)
        s01 = np.int32(0)
        s10 = np.int32(-m)
        s11 = np.int32(7)
        for k in range(a.shape[1]):       # two rows of a against two rows of b: tj_dot2x2_*
            s00 = np.int32(s00 + np.int32(a[0, k]) * np.int32(b[2 * m, k]))
            s01 = np.int32(s01 + np.int32(a[0, k]) * np.int32(b[2 * m + 1, k]))
            s10 = np.int32(s10 + np.int32(a[1, k]) * np.int32(b[2 * m, k]))
            s11 = np.int32(s11 + np.int32(a[1, k]) * np.int32(b[2 * m + 1, k]))
        y[m, 0] = s00
        y[m, 1] = s01
        y[m, 2] = s10
        y[m, 3] = s11


CASES = {   # name: (function, arrays (dtype, shape, readonly), scalar params)
    "floor_ops": (floor_ops, [("int32", (64,), True), ("int32", (64,), False), ("int32", (64,), False)], [-7]),
    "floor_ops_pos": (floor_ops, [("int16", (64,), True), ("int16", (64,), False), ("int16", (64,), False)], [5]),
    "int_widths": (int_widths, [("int32", (64,), True), ("int32", (64,), True), ("int32", (64,), False)], [70001]),
    "float_literals": (float_literals, [("float32", (64,), True), ("float32", (64,), False)], []),
    "control_flow": (control_flow, [("int8", (64,), True), ("int8", (64,), False)], [100]),
    "accumulate": (accumulate, [("int8", (3, 40), True), ("int8", (40, 5), True), ("int32", (5,), True),
                                ("int32", (3, 5), False)], []),
    "dot_wrapped": (dot_wrapped, [("int16", (4, 300), True), ("int16", (4, 300), True), ("int32", (4,), False)], []),
    "dot2x2_wrapped": (dot2x2_wrapped, [("int8", (2, 37), True), ("int8", (4, 37), True), ("int32", (2, 4), False)], []),
    "dot2_wrapped": (dot2_wrapped, [("int8", (37,), True), ("int8", (4, 37), True), ("int32", (4,), False)], []),
    "with_views": (with_views, [("float32", (4, 6), True), ("float32", (4, 8), False)], []),
}


def _kernel(fn):
    return registry.Kernel(fn, "Test", ("float32",), {}, "tests", name=fn.__name__)


def _data(dtype, shape, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 10).astype(dt)
    ii = np.iinfo(dt)
    a = rng.integers(ii.min, ii.max, size=shape, endpoint=True).astype(dt)
    flat = a.reshape(-1)
    flat[:4] = [ii.min, ii.max, 0, -1 if ii.min < 0 else 1]
    if dt == np.int16 and a.ndim == 2:      # rows of -32768: sums that overflow int32
        a[0] = ii.min
    return a


@pytest.mark.parametrize("narrow", [True, False], ids=["32bit", "64bit"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_c_equals_numba(case, narrow, tmp_path):
    fn, arrays, params = CASES[case]
    k = _kernel(fn)
    names = list(__import__("inspect").signature(fn).parameters)
    specs = []
    rng = np.random.default_rng(0)
    data = [_data(dt, shape, rng) for dt, shape, ro in arrays]
    for name, (dt, shape, ro), d in zip(names, arrays, data):
        specs.append(lower.ArgSpec(name, dt, shape, readonly=ro,
                                   value_range=(int(d.min()), int(d.max())) if ro and d.dtype.kind in "iu" else None))
    for name, p in zip(names[len(arrays):], params):
        specs.append(lower.ArgSpec(name, "int64" if isinstance(p, int) else "float64", value=p))
    kl = lower.KernelLowering(narrow=narrow)
    text = kl.lower_call(k, {}, specs, "kernel_c")
    source = (lower.runtime_header(kl.runtime) + '#include "generic.h"\n' + kl.support_code() + "\n"
              + text.replace("static void", "void", 1))
    (tmp_path / "k.c").write_text(source)
    lib = tmp_path / "k.so"
    proc = subprocess.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                           "-I", str(lower.stubs_dir()), "k.c", "-o", str(lib), "-lm"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + "\n" + source

    want = [d.copy() for d in data]
    codegen.load_kernel(k, {})(*want, *params)
    got = [d.copy() for d in data]
    ctypes.CDLL(str(lib)).kernel_c(*[g.ctypes.data_as(ctypes.c_void_p) for g in got])
    for g, w in zip(got, want):
        assert np.array_equal(g.view(np.uint8), w.view(np.uint8)), f"{case}:\n{source}"


def test_dot_product_idiom_is_recognized():
    k = _kernel(dot_wrapped)
    specs = [lower.ArgSpec("a", "int16", (4, 300), readonly=True), lower.ArgSpec("b", "int16", (4, 300), readonly=True),
             lower.ArgSpec("y", "int32", (4,))]
    text = lower.KernelLowering(narrow=True).lower_call(k, {}, specs, "dot")
    assert "s = tj_dot_i16_i16(&a[m * 300], &b[m * 300], 300, s);" in text
    k = _kernel(dot2_wrapped)
    specs = [lower.ArgSpec("a", "int8", (37,), readonly=True), lower.ArgSpec("b", "int8", (4, 37), readonly=True),
             lower.ArgSpec("y", "int32", (4,))]
    text = lower.KernelLowering(narrow=True).lower_call(k, {}, specs, "dot2")
    assert "tj_dot2_i8_i8(&a[0], &b[2 * m * 37], &b[(2 * m + 1) * 37], 37, &s0, &s1);" in text, text
    text = lower.KernelLowering(narrow=True).lower_call(_kernel(dot2x2_wrapped), {}, [
        lower.ArgSpec("a", "int8", (2, 37), readonly=True), lower.ArgSpec("b", "int8", (4, 37), readonly=True),
        lower.ArgSpec("y", "int32", (2, 4))], "dot2x2")
    assert "tj_dot2x2_i8_i8(&a[0], &a[37], &b[2 * m * 37], &b[(2 * m + 1) * 37], 37, &s00, &s01, &s10, &s11);" in text, text


def test_names_and_loops_are_kept():
    k = _kernel(accumulate)
    specs = [lower.ArgSpec("x", "int8", (3, 40)), lower.ArgSpec("w", "int8", (40, 5), readonly=True),
             lower.ArgSpec("b", "int32", (5,), readonly=True), lower.ArgSpec("y", "int32", (3, 5))]
    text = lower.KernelLowering(narrow=True).lower_call(k, {}, specs, "acc")
    assert "for (int32_t m = 0; m < rows; m++)" in text
    assert "x[m * 40 + k] * w[k * 5 + n]" in text     # flat index arithmetic, names kept
    assert "const int8_t *w" in text                    # weights are const (flash)


def test_unsupported_construct_names_file_and_line():
    def bad(x, y):
        for i in range(x.shape[0]):
            y[i] = sum([x[i], x[i]])

    k = _kernel(bad)
    specs = [lower.ArgSpec("x", "float32", (4,)), lower.ArgSpec("y", "float32", (4,))]
    with pytest.raises(lower.LoweringError, match=r"test_export_lowering.py:\d+: .*outside the kernel subset"):
        lower.KernelLowering().lower_call(k, {}, specs, "bad")


def loop_var_reused(x, y):
    n = x.shape[0]
    for t in range(0, n, 4):
        i = min(t, n - 4)          # a plain variable here ...
        y[i] = x[i] + 1
    for i in range(n):             # ... and a loop variable here: fine
        y[i] += x[i]


def loop_var_after_loop(x, y):
    for i in range(x.shape[0]):
        y[i] = x[i]
    y[0] = i                       # Python: the last i; C has no i here


def test_loop_variable_reuse_and_stale_reads():
    specs = [lower.ArgSpec("x", "int32", (10,)), lower.ArgSpec("y", "int32", (10,))]
    text = lower.KernelLowering().lower_call(_kernel(loop_var_reused), {}, specs, "ok")
    assert "for (int64_t i = 0; i < n; i++)" in text
    with pytest.raises(lower.LoweringError, match=r"loop variable 'i' read after its loop"):
        lower.KernelLowering().lower_call(_kernel(loop_var_after_loop), {}, specs, "bad")
