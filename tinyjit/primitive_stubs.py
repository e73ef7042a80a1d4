"""The C side of users' primitives: their stub headers, per target, and the check that each C
definition equals the Python one bit for bit.

A user's primitive (``@tinyjit.primitive``, tinyjit/registry.py) keeps its C definitions in a
folder laid out as asm_stubs/: ``<isa>.h`` named after the target's built-in stub header
(``armv7em_dsp.h`` for cortex-m4, see tinyjit/targets.py) and ``generic.h``, the portable one.
For a target, the ISA header is used if the folder has one, else ``generic.h``; the headers it
includes (``#include "generic.h"``) come along, as the built-in ISA headers include theirs.
An export copies them to ``user_stubs/<folder>/`` and kernels.c includes them after the built-in
stub header, so a user's header may call the built-in primitives.
"""
from __future__ import annotations

import inspect
import itertools
import re
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np

from . import registry
from . import targets as target_db
from .errors import TinyJitError, UnsupportedError

N_RANDOM = 4096          # operand tuples when the domain is too large to enumerate
EXHAUSTIVE_MAX = 1 << 16  # enumerate every operand tuple up to this many (two int8 operands: all of them)
RUN_TIMEOUT = 300


class PrimitiveMismatch(TinyJitError):
    """A C definition of a primitive differs from its Python definition."""


# ---------------------------------------------------------------------------------------------
# headers

def _closure(folder: Path, name: str) -> list[Path]:
    """``name`` and the headers of ``folder`` it includes (quoted includes, transitively)."""
    todo, seen = [name], []
    while todo:
        n = todo.pop()
        if n in seen or not (folder / n).is_file():
            continue
        seen.append(n)
        todo += re.findall(r'#include\s+"([\w.]+\.h)"', (folder / n).read_text())
    return [folder / n for n in seen]


def _defined_in(headers: list[Path], name: str):
    from .export import lower
    for h in headers:
        proto = lower.prototypes_in(h.read_text()).get(name)
        if proto is not None:
            return proto
    return None


def _searched(headers: list[Path], missing: Path) -> str:
    return ", ".join(str(h) for h in headers) if headers else f"{missing} (no such file)"


def prototype(prim: registry.Primitive):
    """The primitive's C prototype (return numba type, parameter numba types): from ``generic.h``
    if it defines it, else from the first header of the folder that does."""
    folder = prim.stubs
    headers = sorted(folder.glob("*.h"), key=lambda h: (h.name != "generic.h", h.name)) if folder.is_dir() else []
    proto = _defined_in(headers, prim.name)
    if proto is None:
        raise UnsupportedError(f"primitive {prim.name} ({prim.file}) has no C definition: searched "
                               f"{_searched(headers, folder / 'generic.h')}")
    return proto


def headers_for(prim: registry.Primitive, target: target_db.Target) -> list[Path]:
    """The headers that give ``prim`` its C definition on ``target`` (the first includes the rest)."""
    folder = prim.stubs
    isa = target.stub if (folder / target.stub).is_file() else "generic.h"
    headers = _closure(folder, isa)
    proto = _defined_in(headers, prim.name)
    if proto is None:
        raise UnsupportedError(f"primitive {prim.name} has no C definition for {target.name}: searched "
                               f"{_searched(headers, folder / isa)}")
    if proto != prototype(prim):
        raise UnsupportedError(f"primitive {prim.name}: its C prototype for {target.name} ({_describe(proto)}, "
                               f"{_searched(headers, folder / isa)}) differs from the one the lowering uses "
                               f"({_describe(prototype(prim))}): keep one prototype in every header")
    return headers


def _describe(proto) -> str:
    ret, params = proto
    return f"{ret}({', '.join(map(str, params))})"


def project_headers(names, target: target_db.Target) -> tuple[list[str], dict[str, str]]:
    """For the primitives ``names`` a lowering called: the user headers kernels.c includes (paths
    relative to the project) and the files to write (path -> text). Built-in names are skipped."""
    prims = registry.user_primitives()
    folders: dict[Path, str] = {}
    includes, files = [], {}
    for name in sorted(set(names) & set(prims)):
        prim = prims[name]
        headers = headers_for(prim, target)
        if prim.stubs not in folders:
            tag = re.sub(r"\W", "_", prim.stubs.parent.name) or "user"
            folders[prim.stubs] = tag if tag not in folders.values() else f"{tag}_{len(folders)}"
        base = f"user_stubs/{folders[prim.stubs]}"
        if f"{base}/{headers[0].name}" not in includes:
            includes.append(f"{base}/{headers[0].name}")
        files.update({f"{base}/{h.name}": h.read_text() for h in headers})
    return includes, files


# ---------------------------------------------------------------------------------------------
# operands

def _int_edges(lo, hi) -> list:
    """Boundary values of [lo, hi]: the ends, their neighbours, zero and ±1, and the int8/int16/int32 limits."""
    out = [lo, lo + 1, hi - 1, hi, -1, 0, 1]
    for bits in (8, 16, 32):
        out += [-(1 << (bits - 1)), (1 << (bits - 1)) - 1, 1 << (bits - 1), (1 << bits) - 1]
    return sorted({v for v in out if lo <= v <= hi})


def _float_edges(dtype: np.dtype, domain) -> list:
    """Signed zeros, ±1, ½, and, with no domain given, infinities, NaN, the largest and a subnormal value."""
    if domain is not None:
        lo, hi = domain
        return sorted({lo, hi, *(v for v in (-1.0, -0.5, 0.0, 0.5, 1.0) if lo <= v <= hi)}) + ([-0.0] if lo <= 0 <= hi else [])
    info = np.finfo(dtype)
    return [0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan, float(info.max), -float(info.max),
            float(info.smallest_subnormal), -float(info.smallest_subnormal)]


def _domains(prim: registry.Primitive, names: list, ptypes: list) -> list:
    """(lo, hi) per parameter: the primitive's ``domain``, else every value of an integer C type
    (None for a float without one)."""
    from .export.lower import INT_LIMITS, is_float, is_int
    unknown = set(prim.domain) - set(names)
    if unknown:
        raise TinyJitError(f"primitive {prim.name}: domain names {sorted(unknown)}, not parameters ({', '.join(names)})")
    domains = []
    for pname, t in zip(names, ptypes):
        if not (is_int(t) or is_float(t)):
            raise UnsupportedError(f"primitive {prim.name}: no operands for a C parameter of type {t}")
        domain = prim.domain.get(pname)
        if is_int(t):
            limits = INT_LIMITS[t]
            domain = tuple(domain or limits)
            if not limits[0] <= domain[0] <= domain[1] <= limits[1]:
                raise TinyJitError(f"primitive {prim.name}: domain {domain} of {pname} is not inside its C type {t}")
        domains.append(domain)
    return domains


def operands(prim: registry.Primitive, ptypes: list, seed: int = 0) -> tuple[list[np.ndarray], bool]:
    """Every operand tuple if the integer domain has at most EXHAUSTIVE_MAX of them (then True);
    else every combination of edge values (as many as fit in half of N_RANDOM) and random tuples."""
    from .export.lower import is_int
    names = list(inspect.signature(prim.fn.py_func).parameters)
    if len(names) != len(ptypes):
        raise UnsupportedError(f"primitive {prim.name}: the Python definition takes {len(names)} arguments, "
                               f"its C definition {len(ptypes)}")
    domains = _domains(prim, names, ptypes)
    dtypes = [np.dtype(str(t)) for t in ptypes]
    if all(is_int(t) for t in ptypes) and np.prod([float(hi - lo + 1) for lo, hi in domains]) <= EXHAUSTIVE_MAX:
        grids = np.meshgrid(*[np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in domains], indexing="ij")
        return [g.reshape(-1).astype(dt) for g, dt in zip(grids, dtypes)], True
    rng = np.random.default_rng(seed)
    edge_sets = [_int_edges(*d) if is_int(t) else _float_edges(dt, d) for d, t, dt in zip(domains, ptypes, dtypes)]
    tuples = list(itertools.islice(itertools.product(*edge_sets), N_RANDOM // 2))
    n_rand = N_RANDOM - len(tuples)
    cols = []
    for j, (domain, t, dt) in enumerate(zip(domains, ptypes, dtypes)):
        if is_int(t):
            rand = rng.integers(domain[0], domain[1], size=n_rand, endpoint=True, dtype=dt)
        elif domain is None:
            rand = (rng.standard_normal(n_rand) * 100).astype(dt)
        else:
            rand = rng.uniform(domain[0], domain[1], size=n_rand).astype(dt)
        cols.append(np.concatenate([np.array([tup[j] for tup in tuples], dtype=dt), rand]))
    return cols, False


def python_results(fn, ops: list[np.ndarray], ret) -> np.ndarray:
    """``fn`` (a Numba function) applied to each operand tuple, in int64 or float64."""
    from .export.lower import is_float
    params = ", ".join(f"a{i}" for i in range(len(ops)))
    args = ", ".join(f"a{i}[i]" for i in range(len(ops)))
    namespace = {"prim": fn}
    exec(f"def apply({params}, out):\n    for i in range(out.shape[0]):\n        out[i] = prim({args})\n", namespace)
    out = np.zeros(len(ops[0]), np.float64 if is_float(ret) else np.int64)
    numba.njit(namespace["apply"])(*ops, out)
    return out


# ---------------------------------------------------------------------------------------------
# the C side, built for a target and run (under QEMU for MCU targets)

def c_program(includes: list[str], calls: list[tuple[str, object, list]], n: int) -> str:
    """A program that reads each call's operands from operands.bin (one array per parameter, calls
    in order) and writes its results to results.bin: ``calls`` are (name, return type, parameter types)."""
    from .export.lower import ctype
    widest = max(sum(np.dtype(str(t)).itemsize for t in ptypes) for _, _, ptypes in calls)
    lines = ["#include <stdbool.h>", "#include <stdint.h>", *[f'#include "{h}"' for h in includes],
             '#include "tj_platform.h"', f"#define N {n}", f"static uint8_t in_buf[N * {widest}];",
             "static uint8_t out_buf[N * 8];", "", "int main(void)", "{",
             '    int in = tj_open("operands.bin", 0), out = tj_open("results.bin", 1);',
             "    if (in < 0 || out < 0) return 1;"]
    for name, ret, ptypes in calls:
        offsets = list(itertools.accumulate([n * np.dtype(str(t)).itemsize for t in ptypes], initial=0))
        args = ", ".join(f"(({ctype(t)} *)(in_buf + {o}))[i]" for t, o in zip(ptypes, offsets))
        lines += [f"    if (tj_read(in, in_buf, {offsets[-1]}) != {offsets[-1]}) return 2;",
                  "    for (int i = 0; i < N; i++)",
                  f"        (({ctype(ret)} *)out_buf)[i] = {name}({args});",
                  f"    tj_write(out, out_buf, N * sizeof({ctype(ret)}));"]
    lines += ["    tj_close(in);", "    tj_close(out);",
              '    tj_puts("tinyjit-stats counter=0 unit_ppm=0 stack=0\\n");', "    return 0;", "}", ""]
    return "\n".join(lines)


def build_and_run(workdir: Path, target: target_db.Target, program: str, headers: dict[str, str],
                  operand_bytes: bytes) -> bytes:
    """Compile ``program`` (test.c) with ``headers`` (path in workdir -> text) and the emulator harness
    of tinyjit export for ``target``, run it on ``operand_bytes``, return results.bin."""
    from .export import project
    from .export.verify import check_tools
    check_tools(target)
    builtin = {name: project.stub_text(name) for name in project.stub_closure(target.stub)}
    files = {**builtin, **headers, "tj_platform.h": project.template("tj_platform.h"), "test.c": program}
    flags = [*target.cflags, *project.OPT_FLAGS, *project.WARN_FLAGS, "-std=c11", "-I", "."]
    if target.native:
        files["platform_host.c"] = project.template("platform_host.c")
        cmd = [target.cc, *flags, "test.c", "platform_host.c", "-o", "test.elf", "-lm"]
    else:
        startup = "startup_arm.c" if target.arch == "arm" else "startup_riscv.S"
        files.update({"platform_semihost.c": project.template("platform_semihost.c"),
                      startup: project.template(startup),
                      "link.ld": project.Writer.linker_script(SimpleNamespace(target=target))})
        specs = "--specs=nano.specs" if target.arch == "arm" else "--specs=picolibc.specs"
        cmd = [target.cc, specs, *flags, "-DTJ_NS_PER_TICK_PPM=0", "test.c", "platform_semihost.c", startup,
               "-o", "test.elf", "-nostartfiles", "-T", "link.ld", "-lm", "-lc", "-lgcc"]
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    (workdir / "operands.bin").write_bytes(operand_bytes)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyJitError(f"the stub headers do not compile for {target.name}: {proc.stderr.strip()[-1500:]}")
    run = ["./test.elf"] if target.native else [*target.qemu, "-kernel", "test.elf"]
    proc = subprocess.run(run, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise TinyJitError(f"the primitives' test program failed on {target.name} (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr).strip()[-400:]}")
    return (workdir / "results.bin").read_bytes()


def differences(got: np.ndarray, want: np.ndarray, ret) -> np.ndarray:
    """Where C and Python differ: integers by value (a Python result outside the C return type
    differs), floats bit for bit in the C type (any NaN equals any NaN)."""
    from .export.lower import is_float
    if not is_float(ret):
        return got.astype(np.int64) != want
    want_c = want.astype(got.dtype)
    bits = np.uint32 if got.dtype == np.float32 else np.uint64
    return (got.view(bits) != want_c.view(bits)) & ~(np.isnan(got) & np.isnan(want_c))


def check(prims: list[registry.Primitive], target_name: str, seed: int = 0) -> list[str]:
    """Each primitive's C definition for ``target_name`` against its Python definition, on every
    operand tuple or on edge and random ones. Raises PrimitiveMismatch naming the operands where
    they differ; returns one summary line per primitive."""
    target = target_db.get(target_name)
    lines = []
    for prim in prims:
        headers = headers_for(prim, target)
        ret, ptypes = prototype(prim)
        ops, exhaustive = operands(prim, ptypes, seed)
        want = python_results(prim.fn, ops, ret)
        n = len(ops[0])
        folder = "user"
        program = c_program([target.stub, f"{folder}/{headers[0].name}"], [(prim.name, ret, ptypes)], n)
        with tempfile.TemporaryDirectory(prefix="tinyjit-primitive-") as tmp:
            raw = build_and_run(Path(tmp), target, program, {f"{folder}/{h.name}": h.read_text() for h in headers},
                                b"".join(o.tobytes() for o in ops))
        got = np.frombuffer(raw, dtype=str(ret), count=n)
        bad = np.flatnonzero(differences(got, want, ret))
        if bad.size:
            shown = "; ".join(f"{prim.name}({', '.join(repr(o[i].item()) for o in ops)}) = {got[i].item()!r} in C, "
                              f"{want[i].item()!r} in Python" for i in bad[:3])
            raise PrimitiveMismatch(f"primitive {prim.name}: the C definition in {headers[0]} for {target.name} "
                                    f"differs from the Python definition on {bad.size} of {n} operand tuples: {shown}")
        how = "every operand tuple" if exhaustive else "edge and random operand tuples"
        lines.append(f"primitive {prim.name} on {target.name} ({headers[0].name}): C equals Python bit for bit "
                     f"on {n} operand tuples ({how})")
    return lines
