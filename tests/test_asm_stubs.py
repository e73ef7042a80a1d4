"""Every primitive of kernels/primitives.py, in every asm_stubs/ header, equals its Python
definition bit for bit: on edge operands (-128, 127, INT32_MIN, INT32_MAX, shifts 0..31, ...) and
random ones, compiled for each ISA and run under QEMU (natively for x86 and generic C)."""
from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from tinyjit import primitive_stubs, targets
from tinyjit.export import lower, project

N = 4096
I32_EDGES = [-2**31, -2**31 + 1, -2**30 - 1, -2**30, -32769, -32768, -129, -128, -127, -2, -1, 0, 1, 2,
             126, 127, 128, 255, 256, 32767, 32768, 2**30 - 1, 2**30, 2**31 - 2, 2**31 - 1]
# stub header -> the target it is compiled and run for
STUBS = {"generic.h": ["x86_64", "cortex-m4", "rv32imac"], "x86_sse.h": ["x86_64"],
         "armv7em_dsp.h": ["cortex-m4", "cortex-m7"], "armv81m_mve.h": ["cortex-m55"],
         "riscv_base.h": ["rv32imac"], "riscv_v.h": ["rv64gcv"]}


def _not_a_stub(name: str) -> bool:
    return name.startswith("local_array_")   # a lowering construct (a C local array), not a function


def _edge_ints(rng, lo, hi, n):
    edges = np.array([v for v in I32_EDGES if lo <= v <= hi], dtype=np.int64)
    rand = rng.integers(lo, hi, size=n - len(edges), endpoint=True, dtype=np.int64)
    return np.concatenate([edges, rand])


def _operands(name: str, ptypes: list, rng) -> list[np.ndarray]:
    """Operands inside each primitive's documented domain, edge values first."""
    i32 = (-2**31, 2**31 - 1)
    if name == "rounding_divide_by_pot":
        x = _edge_ints(rng, *i32, N)
        return [x, np.arange(N) % 32]
    if name == "multiply_by_quantized_multiplier":
        x = _edge_ints(rng, *i32, N)
        mult = rng.integers(2**30, 2**31 - 1, size=N, endpoint=True)
        mult[::17] = 0
        mult[1::17] = 2**30
        mult[2::17] = 2**31 - 1
        shift = np.arange(N) % 62 - 31
        return [x, mult, shift]
    if name == "saturating_rounding_doubling_high_mul":
        a = _edge_ints(rng, *i32, N)
        b = np.concatenate([_edge_ints(rng, *i32, N)[::-1]])
        b[:len(I32_EDGES)] = np.array(I32_EDGES)         # every edge against every other, somewhere
        a[-len(I32_EDGES):] = np.array(I32_EDGES)
        b[-len(I32_EDGES):] = np.array(I32_EDGES)       # includes INT32_MIN * INT32_MIN
        return [a, b]
    out = []
    for t in ptypes:
        if t == numba.types.int64:
            v = _edge_ints(rng, -2**63, 2**63 - 1, N)
            v[-8:] = [2**31, 2**32 + 5, -2**31 - 1, -2**40, 2**63 - 1, -2**63, 0xFFFFFFFF, 0x80000000]
            out.append(v)
        elif lower.is_int(t):
            lo, hi = lower.INT_LIMITS[t]
            out.append(_edge_ints(rng, lo, hi, N))
        elif t == numba.types.float32:
            v = (rng.standard_normal(N) * 100).astype(np.float32)
            v[:12] = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-40, -1e-40, 0.5, 6.0]
            out.append(v)
        else:
            pytest.fail(f"{name}: no operand generator for {t}")
    if name == "clamp_f32":       # lo <= hi, as a clamp is called
        lo, hi = np.minimum(out[1], out[2]), np.maximum(out[1], out[2])
        out[1], out[2] = lo, hi
    return out


def _python_reference(name: str, fn, arity: int):
    """A jitted loop applying the primitive (a Numba function or intrinsic) element-wise."""
    args = ", ".join(f"a{i}[i]" for i in range(arity))
    params = ", ".join(f"a{i}" for i in range(arity))
    src = f"def run({params}, out):\n    for i in range(out.shape[0]):\n        out[i] = prim({args})\n"
    ns = {"prim": fn}
    exec(src, ns)
    return numba.njit(ns["run"])


def _cases():
    protos = lower.primitive_prototypes()
    prims = lower.primitive_functions()
    return protos, prims


def test_every_primitive_has_a_c_stub():
    protos, prims = _cases()
    missing = sorted(n for n in set(prims) - set(protos) if not _not_a_stub(n))
    assert not missing, f"primitives with no C definition in asm_stubs/generic.h: {missing}"


def _c_program(stub: str, names: list, protos: dict) -> str:
    return primitive_stubs.c_program([stub], [(name, *protos[name]) for name in names], N)


def _build_and_run(tmp: Path, stub: str, target: str, program: str) -> None:
    """The harness `tinyjit kernel test --target` runs users' primitives in (tinyjit/primitive_stubs.py)."""
    headers = {name: project.stub_text(name) for name in project.stub_closure(stub)}
    operands = tmp / "operands.bin"
    results = primitive_stubs.build_and_run(tmp, targets.get(target), program, headers, operands.read_bytes())
    (tmp / "results.bin").write_bytes(results)


@pytest.mark.parametrize("stub,target", [(s, t) for s, ts in STUBS.items() for t in ts])
def test_stub_equals_python(stub, target, tmp_path):
    protos, prims = _cases()
    names = sorted(n for n in protos if n in prims)
    rng = np.random.default_rng(1234)
    operands, expected = {}, {}
    blob = bytearray()
    for name in names:
        ret, ptypes = protos[name]
        ops = [np.asarray(o).astype(str(t)) for o, t in zip(_operands(name, ptypes, rng), ptypes)]
        operands[name] = ops
        ref = _python_reference(name, prims[name], len(ptypes))
        out = np.zeros(N, dtype=np.float64 if lower.is_float(ret) else np.int64)
        ref(*ops, out)
        expected[name] = out.astype(str(ret))
        for o in ops:
            blob += o.tobytes()
    (tmp_path / "operands.bin").write_bytes(bytes(blob))
    _build_and_run(tmp_path, stub, target, _c_program(stub, names, protos))
    raw = (tmp_path / "results.bin").read_bytes()
    pos = 0
    failures = []
    for name in names:
        ret = protos[name][0]
        n = N * np.dtype(str(ret)).itemsize
        got = np.frombuffer(raw[pos:pos + n], dtype=str(ret))
        pos += n
        want = expected[name]
        if ret == numba.types.float32:   # bit for bit; a NaN's sign and payload are the FPU's own
            same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
        else:
            same = got == want
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            args = ", ".join(str(o[i]) for o in operands[name])
            failures.append(f"{name}({args}) = {got[i]} in C, {want[i]} in Python ({int((~same).sum())} of {N} differ)")
    assert not failures, f"{stub} on {target}:\n" + "\n".join(failures)


def _dot_program(fn: str, stub: str) -> str:
    return f"""#include <stdint.h>
#include "{stub}"
#include "tj_platform.h"
static int8_t a[4096], b[4096];
static int32_t r[64];
int main(void)
{{
    int in = tj_open("operands.bin", 0), out = tj_open("results.bin", 1);
    if (in < 0 || out < 0) return 1;
    tj_read(in, a, sizeof a);
    tj_read(in, b, sizeof b);
    for (int k = 0; k < 64; k++)
        r[k] = {fn}(a + 64 * k, b + 64 * k, 8 * (k % 8 + 1), k - 32);
    tj_write(out, r, sizeof r);
    tj_close(in);
    tj_close(out);
    return 0;
}}
"""


@pytest.mark.parametrize("stub,fn,target", [("armv81m_mve.h", "tj_mve_dot_s8", "cortex-m55"),
                                            ("riscv_v.h", "tj_rvv_dot_s8", "rv64gcv")])
def test_vector_dot_products(stub, fn, target, tmp_path):
    """The int8 dot products of the vector headers (for kernels that use them) against numpy."""
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 127, 4096, endpoint=True).astype(np.int8)
    b = rng.integers(-128, 127, 4096, endpoint=True).astype(np.int8)
    a[:64], b[:64] = -128, -128
    (tmp_path / "operands.bin").write_bytes(a.tobytes() + b.tobytes())
    _build_and_run(tmp_path, stub, target, _dot_program(fn, stub))
    got = np.frombuffer((tmp_path / "results.bin").read_bytes(), np.int32)
    want = [int(np.dot(a[64 * k:64 * k + 8 * (k % 8 + 1)].astype(np.int64),
                       b[64 * k:64 * k + 8 * (k % 8 + 1)].astype(np.int64))) + k - 32 for k in range(64)]
    assert got.tolist() == want


def _lowering_dot_program(stub: str) -> str:
    calls = []
    for ta in ("i8", "i16"):
        for tb in ("i8", "i16"):
            a = "a8" if ta == "i8" else "a16"
            b = "b8" if tb == "i8" else "b16"
            calls.append(f"        r[j++] = tj_dot_{ta}_{tb}({a} + off, {b} + off2, n, n - 77);")
            calls.append(f"        s0 = n - 77; s1 = 5 - n; tj_dot2_{ta}_{tb}({a} + off, {b} + off2, {b} + off2 + 60, n, &s0, &s1);"
                         " r[j++] = s0; r[j++] = s1;")
    for t, a, b in (("i8", "a8", "b8"), ("i16", "a16", "b16")):
        calls.append(f"        s0 = n; s1 = -n; s2 = 3; s3 = INT32_MIN; tj_dot2x2_{t}_{t}({a} + off, {a} + off + 50, {b} + off2,"
                     f" {b} + off2 + 60, n, &s0, &s1, &s2, &s3); r[j++] = s0; r[j++] = s1; r[j++] = s2; r[j++] = s3;")
    calls.append("        s0 = n; s1 = -n; s2 = 7; s3 = INT32_MAX - 5; tj_mac4_i8_i8(a8 + n, b8 + off2, t * 37 % 256 - 128,"
                 " &s0, &s1, &s2, &s3); r[j++] = s0; r[j++] = s1; r[j++] = s2; r[j++] = s3;")
    return f"""#include <stdint.h>
#include "{stub}"
#include "tj_platform.h"
static int8_t a8[1100], b8[1100];
static int16_t a16[1100], b16[1100];
static int32_t r[24 * 40];
int main(void)
{{
    int in = tj_open("operands.bin", 0), out = tj_open("results.bin", 1);
    int32_t s0, s1, s2, s3;
    if (in < 0 || out < 0) return 1;
    tj_read(in, a8, sizeof a8);
    tj_read(in, b8, sizeof b8);
    tj_read(in, a16, sizeof a16);
    tj_read(in, b16, sizeof b16);
    int j = 0;
    for (int t = 0; t < 40; t++) {{
        int n = t < 20 ? t : 25 * t, off = t % 4, off2 = (t / 4) % 3;
{chr(10).join(calls)}
    }}
    tj_write(out, r, sizeof r);
    tj_close(in);
    tj_close(out);
    return 0;
}}
"""


@pytest.mark.parametrize("stub,target", [(s, t) for s, ts in STUBS.items() for t in ts])
def test_lowering_dot_products(stub, target, tmp_path):
    """tj_dot_<a>_<b> and tj_dot2_<a>_<b>, which the lowering calls for `acc += a[i + k] * b[j + k]`
    loops (one, two sharing a, or 2 x 2), and tj_mac4_i8_i8 (four lanes with an offset), in every stub: lengths 0..19 and up to 975, unaligned starts, int8 and int16 extremes."""
    rng = np.random.default_rng(11)
    a8 = rng.integers(-128, 127, 1100, endpoint=True).astype(np.int8)
    b8 = rng.integers(-128, 127, 1100, endpoint=True).astype(np.int8)
    a16 = rng.integers(-32768, 32767, 1100, endpoint=True).astype(np.int16)
    b16 = rng.integers(-32768, 32767, 1100, endpoint=True).astype(np.int16)
    a8[:40], b8[:40], a16[:40], b16[:40] = -128, -128, -32768, -32768
    (tmp_path / "operands.bin").write_bytes(a8.tobytes() + b8.tobytes() + a16.tobytes() + b16.tobytes())
    _build_and_run(tmp_path, stub, target, _lowering_dot_program(stub))
    got = np.frombuffer((tmp_path / "results.bin").read_bytes(), np.int32)
    want = []
    for t in range(40):
        n, off, off2 = (t if t < 20 else 25 * t), t % 4, (t // 4) % 3
        for a in (a8, a16):
            for b in (b8, b16):
                for b_off, init in ((off2, n - 77), (off2, n - 77), (off2 + 60, 5 - n)):   # tj_dot, then tj_dot2's two
                    s = int(np.dot(a[off:off + n].astype(np.int64), b[b_off:b_off + n].astype(np.int64))) + init
                    want.append((s + 2**31) % 2**32 - 2**31)
        for a, b in ((a8, b8), (a16, b16)):         # tj_dot2x2: two windows x two rows
            for a_off, b_off, init in ((off, off2, n), (off, off2 + 60, -n), (off + 50, off2, 3), (off + 50, off2 + 60, -2**31)):
                s = int(np.dot(a[a_off:a_off + n].astype(np.int64), b[b_off:b_off + n].astype(np.int64))) + init
                want.append((s + 2**31) % 2**32 - 2**31)
        zp = t * 37 % 256 - 128                 # tj_mac4_i8_i8: four lanes with an offset, wrapping
        for j, init in enumerate((n, -n, 7, 2**31 - 6)):
            s = init + (int(a8[n + j]) - zp) * int(b8[off2 + j])
            want.append((s + 2**31) % 2**32 - 2**31)
    assert got.tolist() == [int(w) for w in want]
