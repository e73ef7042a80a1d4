"""Python → C lowering of kernels (the kernel subset of ../DESIGN.md).

The C is generated from the same source Numba compiles: the kernel's AST with its schedule
constants substituted (as tinyjit/codegen.py does). Every C type comes from Numba:

- each local variable's type is Numba's type inference for the exact argument types of the
  call in the plan (the typemap of the kernel compiled for that signature; SSA versions of a
  name are unified as Numba's phi nodes do);
- each operator's operand and result types come from Numba's typing context (the templates
  its type inference uses), and the C casts operands the way Numba's implementation does, so
  int8/int16/int32/int64 widths, overflow and float32/float64 agree with the JIT.

Python semantics that C lacks are kept: ``//`` and ``%`` floor (tj_floordiv/tj_mod), min/max
pick as Python does (NaN included), float64 literals stay double, ``abs`` of int8 wraps.

A call in the plan is specialized completely: shapes and scalar parameters become constants
(declared by name at the top of the function), multi-dim indexing becomes flat index arithmetic.
On 32-bit targets an interval analysis over those constants (and the weights' actual values)
narrows Numba's int64 to int32 where no value can leave int32, which is then exactly equal.

Anything outside the subset raises UnsupportedError naming the file and line.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import math
import operator
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numba
import numpy as np
from numba.core import types

from .. import codegen
from .. import registry as kernel_registry
from ..errors import UnsupportedError

# ---------------------------------------------------------------------------------------------
# types

CTYPE = {
    types.int8: "int8_t", types.int16: "int16_t", types.int32: "int32_t", types.int64: "int64_t",
    types.uint8: "uint8_t", types.uint16: "uint16_t", types.uint32: "uint32_t", types.uint64: "uint64_t",
    types.float32: "float", types.float64: "double", types.boolean: "bool",
}
# primitives that return a value of this type for any argument (a wrap or a saturation)
RANGE_PRIMITIVES = {"wrap_int32": types.int32, "saturate_int8": types.int8, "saturate_uint8": types.uint8,
                    "saturate_int16": types.int16}

SUFFIX = {
    types.int8: "i8", types.int16: "i16", types.int32: "i32", types.int64: "i64",
    types.uint8: "u8", types.uint16: "u16", types.uint32: "u32", types.uint64: "u64",
    types.float32: "f32", types.float64: "f64", types.boolean: "b",
}
FROM_CTYPE = {v: k for k, v in CTYPE.items()}
FROM_CTYPE.update({"int": types.int32, "unsigned": types.uint32, "_Bool": types.boolean})

INT_LIMITS = {t: (int(np.iinfo(str(t)).min), int(np.iinfo(str(t)).max))
              for t in (types.int8, types.int16, types.int32, types.int64,
                        types.uint8, types.uint16, types.uint32, types.uint64)}

C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern float for
goto if inline int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while bool true false errno assert main NULL""".split())

_typing_context = None


def typing_context():
    global _typing_context
    if _typing_context is None:
        from numba.core.registry import cpu_target
        cpu_target.target_context.refresh()     # loads numba's @overload registries (np.sum, ...) first:
        _typing_context = cpu_target.typing_context    # else typing fails on them before any JIT compile
        _typing_context.refresh()
    return _typing_context


def nb_dtype(dtype) -> types.Type:
    return numba.from_dtype(np.dtype(dtype))


def unlit(t):
    return types.unliteral(t)


def is_int(t) -> bool:
    return isinstance(t, types.Integer)


def is_float(t) -> bool:
    return isinstance(t, types.Float)


def ctype(t) -> str:
    t = unlit(t)
    if isinstance(t, types.Boolean):
        return "bool"
    try:
        return CTYPE[t]
    except KeyError:
        raise TypeError(f"no C type for {t}") from None


# ---------------------------------------------------------------------------------------------
# what a call in the plan passes

@dataclass
class ArgSpec:
    """One kernel argument of one call: an array (pointer + static shape) or a constant scalar."""
    name: str                       # the kernel's parameter name
    dtype: str                      # numpy dtype name (scalars: int64/float64, as the executor passes them)
    shape: tuple | None = None      # arrays only
    value: object = None            # scalars only
    readonly: bool = False          # arrays in flash (weights)
    value_range: tuple | None = None  # arrays: (min, max) of their actual data, when known (weights)

    @property
    def is_array(self) -> bool:
        return self.shape is not None


class LoweringError(UnsupportedError):
    pass


# ---------------------------------------------------------------------------------------------
# primitives: their C prototypes come from asm_stubs/generic.h

def stubs_dir():
    from importlib import resources
    try:
        path = resources.files("tinyjit.asm_stubs")
        if path.joinpath("generic.h").is_file():
            return path
    except ModuleNotFoundError:
        pass
    from pathlib import Path
    installed = Path(__file__).resolve().parents[1] / "asm_stubs"      # a wheel: tinyjit/asm_stubs
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "asm_stubs"


_PROTO = re.compile(r"static\s+inline\s+(?:__attribute__\(\(\w+\)\)\s+)?([A-Za-z_][\w ]*?)\s+(\w+)\s*\(([^)]*)\)\s*\{")


@lru_cache(maxsize=None)
def primitive_prototypes() -> dict:
    """name -> (return numba type, [param numba types]) of every primitive in generic.h."""
    return prototypes_in(stubs_dir().joinpath("generic.h").read_text())


def prototypes_in(text: str) -> dict:
    """name -> (return numba type, [param numba types]) of the functions a C header defines."""
    protos = {}
    for ret, name, params in _PROTO.findall(text):
        if name.startswith("tj_"):
            continue
        ptypes = []
        for p in params.split(","):
            p = p.strip()
            if not p or p == "void":
                continue
            ctype_ = " ".join(p.replace("const", "").split()[:-1])
            if ctype_ not in FROM_CTYPE:
                break
            ptypes.append(FROM_CTYPE[ctype_])
        else:
            if ret.strip() in FROM_CTYPE:
                protos[name] = (FROM_CTYPE[ret.strip()], ptypes)
    return protos


def primitive_functions() -> dict:
    """name -> jitted object of every primitive in kernels/primitives.py (Python definitions, and
    Numba intrinsics that only have C stubs)."""
    from numba.core.extending import _Intrinsic
    from tinyjit.kernels import primitives
    out = {}
    for name, obj in vars(primitives).items():
        if name.startswith("_"):
            continue
        py = getattr(obj, "py_func", None)
        if py is not None and getattr(py, "__module__", "") == primitives.__name__:
            out[name] = obj
        elif isinstance(obj, _Intrinsic):
            out[name] = obj
    out.update({name: p.fn for name, p in kernel_registry.user_primitives().items()})
    return out


def user_primitive_prototype(name: str):
    """A user primitive's C prototype (from its stub headers); None for other names."""
    from .. import primitive_stubs
    prim = kernel_registry.user_primitives().get(name)
    return None if prim is None else primitive_stubs.prototype(prim)


def _is_primitive(obj) -> bool:
    return any(obj is p for p in primitive_functions().values())


def _primitive_name(obj) -> str:
    return next(n for n, p in primitive_functions().items() if p is obj)


_BUILTIN_CALLABLES = (min, max, abs, len, pow, round, int, float, bool)


# ---------------------------------------------------------------------------------------------
# C expressions

# C precedence, higher binds tighter
P_ATOM, P_POSTFIX, P_UNARY, P_MUL, P_ADD, P_SHIFT, P_REL, P_EQ, P_BAND, P_BXOR, P_BOR, P_LAND, P_LOR, P_COND = (
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3)

BINOPS = {  # python op -> (operator function, C op, precedence)
    ast.Add: (operator.add, "+", P_ADD), ast.Sub: (operator.sub, "-", P_ADD),
    ast.Mult: (operator.mul, "*", P_MUL), ast.Div: (operator.truediv, "/", P_MUL),
    ast.FloorDiv: (operator.floordiv, None, P_MUL), ast.Mod: (operator.mod, None, P_MUL),
    ast.LShift: (operator.lshift, "<<", P_SHIFT), ast.RShift: (operator.rshift, ">>", P_SHIFT),
    ast.BitAnd: (operator.and_, "&", P_BAND), ast.BitOr: (operator.or_, "|", P_BOR),
    ast.BitXor: (operator.xor, "^", P_BXOR), ast.Pow: (operator.pow, None, P_POSTFIX),
}
CMPOPS = {ast.Lt: (operator.lt, "<", P_REL), ast.LtE: (operator.le, "<=", P_REL),
          ast.Gt: (operator.gt, ">", P_REL), ast.GtE: (operator.ge, ">=", P_REL),
          ast.Eq: (operator.eq, "==", P_EQ), ast.NotEq: (operator.ne, "!=", P_EQ)}

NP_CASTS = {"float32": types.float32, "float64": types.float64, "int8": types.int8, "int16": types.int16,
            "int32": types.int32, "int64": types.int64, "uint8": types.uint8, "uint16": types.uint16,
            "uint32": types.uint32, "uint64": types.uint64, "bool_": types.boolean, "intp": types.intp}
# scalar math: python callable -> C name (float64; float32 adds "f")
MATH_FUNCS = {}
for _name in ("exp", "log", "sqrt", "tanh", "sin", "cos", "tan", "atan", "asin", "acos", "sinh", "cosh",
              "exp2", "log2", "log10", "expm1", "log1p", "erf", "erfc", "fabs", "trunc", "floor", "ceil"):
    for _mod in (math, np):
        if hasattr(_mod, _name):
            MATH_FUNCS[getattr(_mod, _name)] = _name
MATH_FUNCS[np.absolute] = "fabs"
MATH_FUNCS[np.arctan] = "atan"
MATH_FUNCS[np.arcsin] = "asin"
MATH_FUNCS[np.arccos] = "acos"
INT_RESULT_MATH = {math.floor: "floor", math.ceil: "ceil", math.trunc: "trunc"}


@dataclass
class E:
    """A C expression: its text, Numba type, C precedence, and value when it is a compile-time constant."""
    code: str
    ty: object
    prec: int = P_ATOM
    const: object = None
    rng: tuple | None = None       # integer interval, when known

    def wrap(self, prec: int) -> str:
        return f"({self.code})" if self.prec < prec else self.code


def c_int_literal(v: int, t=types.int64) -> str:
    v = int(v)
    t = unlit(t)
    if is_int(t) and not t.signed:
        return f"{v}u" if v <= 0xFFFFFFFF else f"UINT64_C({v})"
    if -2**31 < v < 2**31:
        return str(v)
    if v == -2**63:
        return "INT64_MIN"
    return f"INT64_C({v})"


def c_float_literal(v: float, t) -> str:
    v = float(v)
    if math.isnan(v):
        return "NAN" if t == types.float32 else "(double)NAN"
    if math.isinf(v):
        s = "INFINITY" if t == types.float32 else "(double)INFINITY"
        return s if v > 0 else "-" + s
    if t == types.float32:
        f32 = float(np.float32(v))
        text = np.format_float_scientific(np.float32(v), unique=True, trim="-")
        text = _tidy_float(text)
        return text + "f" if f32 == v else f"(float){_tidy_float(repr(v))}"
    return _tidy_float(repr(v))


def _tidy_float(text: str) -> str:
    if "e" in text:
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        exp_i = int(exp)
        if -5 <= exp_i <= 6:
            s = repr(float(text))
            return s if ("." in s or "e" in s) else s + ".0"
        return f"{mant}e{exp_i}"
    return text if ("." in text or "inf" in text or "nan" in text) else text + ".0"


# ---------------------------------------------------------------------------------------------
# intervals (for narrowing int64 to int32 on 32-bit targets)

FULL = (-math.inf, math.inf)


def _rng_join(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]))


def _rng_binop(op, a, b):
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = a, b
    if op is operator.add:
        return (al + bl, ah + bh)
    if op is operator.sub:
        return (al - bh, ah - bl)
    if op is operator.mul:
        cands = [x * y for x in (al, ah) for y in (bl, bh) if not (math.isinf(x) and y == 0 or math.isinf(y) and x == 0)]
        cands = cands or [0]
        return (min(cands), max(cands))
    if op is operator.floordiv:
        if bl > 0:
            cands = [math.floor(x / y) if not math.isinf(x) else x * (1 if y > 0 else -1) for x in (al, ah) for y in (bl, bh)]
            return (min(cands), max(cands))
        return None
    if op is operator.mod:
        if bl > 0:
            if al >= 0:
                return (0, min(ah, bh - 1))
            return (0, bh - 1)
        return None
    if op is operator.rshift and bl >= 0:
        cands = [x // 2 ** y if not math.isinf(x) and not math.isinf(y) else (x if y == bl else 0)
                 for x in (al, ah) for y in (bl, bh)]
        return (min(cands + [0 if al >= 0 else al]), max(cands))
    if op is operator.lshift and bl >= 0 and bh <= 62:
        cands = [x * 2 ** y for x in (al, ah) for y in (bl, bh)]
        return (min(cands), max(cands))
    if op is operator.and_ and (al >= 0 or bl >= 0):
        hi = min(x for x in (ah if al >= 0 else math.inf, bh if bl >= 0 else math.inf))
        return (0, hi)
    return None


def _fits(rng, t) -> bool:
    if rng is None:
        return False
    lo, hi = INT_LIMITS[t]
    return lo <= rng[0] and rng[1] <= hi


# ---------------------------------------------------------------------------------------------
# the lowering of one function

@dataclass
class ArrayInfo:
    ty: object            # element numba type
    shape: tuple
    readonly: bool
    local: bool = False
    value_range: tuple | None = None
    view: bool = False       # a pointer into another array (``a[i]``, ``a[i, j:j+n]``)


class FunctionLowering:
    """Lowers one Python function (a kernel or a helper) with known argument types."""

    def __init__(self, fdef: ast.FunctionDef, pyfunc, typemap: dict, arg_types: list, *, c_name: str,
                 file: str, line0: int, module_globals: dict, args: list | None, return_type=None,
                 narrow: bool = False, owner: "KernelLowering" = None, is_helper: bool = False):
        self.fdef = fdef
        self.pyfunc = pyfunc
        self.typemap = typemap
        self.c_name = c_name
        self.file = file
        self.line0 = line0
        self.globals = module_globals
        self.arg_types = arg_types
        self.args = args              # ArgSpec per parameter: arrays (shapes), constants, run-time scalars
        self.is_helper = is_helper
        self.return_type = return_type
        self.narrow = narrow
        self.owner = owner
        self.arrays: dict[str, ArrayInfo] = {}
        self.consts: dict[str, object] = {}      # int/bool compile-time constants (params, shapes, folds)
        self.var_types: dict[str, object] = {}
        self.var_ranges: dict[str, tuple] = {}
        self.declared: set[str] = set()
        self.lines: list[str] = []
        self.indent = 1
        self.loop_vars: list[str] = []
        self.cnames: dict[str, str] = {}

    # errors ----------------------------------------------------------------------------
    def error(self, node, what: str):
        line = self.line0 + getattr(node, "lineno", 1) - 1
        raise LoweringError(f"{self.file}:{line}: {what} is outside the kernel subset the C lowering supports "
                            f"(in {self.fdef.name})")

    # names -----------------------------------------------------------------------------
    def cname(self, name: str) -> str:
        if name not in self.cnames:
            c = name if name not in C_KEYWORDS and not name.startswith("tj_") else name + "_"
            self.cnames[name] = c
        return self.cnames[name]

    def type_of_var(self, name: str, node=None):
        if name in self.var_types:
            return self.var_types[name]
        pat = re.compile(rf"^{re.escape(name)}(\.\d+)?$")
        found = [unlit(t) for k, t in self.typemap.items() if pat.match(k)]
        if not found:
            self.error(node, f"variable {name!r} with no type from Numba")
        t = found[0]
        ctx = typing_context()
        for other in found[1:]:
            if other != t:
                u = ctx.unify_types(t, other)
                if u is None:
                    self.error(node, f"variable {name!r} with several types ({t}, {other})")
                t = unlit(u)
        self.var_types[name] = t
        return t

    def c_var_type(self, name: str, node=None):
        """The C type of a scalar variable: Numba's, narrowed to int32 when its range allows."""
        t = self.type_of_var(name, node)
        if self.narrow and t == types.int64 and _fits(self.var_ranges.get(name), types.int32):
            return types.int32
        return t

    # entry -----------------------------------------------------------------------------
    def lower(self) -> str:
        fdef = self.fdef
        params = [a.arg for a in fdef.args.args]
        if fdef.args.vararg or fdef.args.kwarg or fdef.args.kwonlyargs or fdef.args.defaults:
            self.error(fdef, "varargs, keyword-only or default arguments")
        if len(params) != len(self.arg_types):
            self.error(fdef, f"{len(params)} parameters for {len(self.arg_types)} arguments")
        self.params = params
        runtime_params = []          # (index, name) of scalars passed at run time (helpers)
        const_decls = []
        for i, (p, t, spec) in enumerate(zip(params, self.arg_types, self.args)):
            if isinstance(t, types.Array):
                self.arrays[p] = ArrayInfo(unlit(t.dtype), tuple(spec.shape),
                                           spec.readonly or not self._stores_to(p), value_range=spec.value_range)
            elif spec.value is not None:      # a constant of this call (kernel parameters)
                self.var_types[p] = unlit(t)
                if is_int(t) or isinstance(t, types.Boolean):
                    self.consts[p] = int(spec.value)
                    self.var_ranges[p] = (int(spec.value), int(spec.value))
                const_decls.append((p, t, spec.value))
            else:
                self.var_types[p] = unlit(t)
                if is_int(t):
                    self.var_ranges[p] = spec.value_range or INT_LIMITS[unlit(t)]
                runtime_params.append(p)
        self._find_constants(fdef.body)
        body = _Pruner(self).prune(fdef.body)
        self._scan_locals(body)
        self._ranges(body)
        self.return_range = self._return_range(body)
        if self.return_type is not None and is_int(self.return_type):
            self.return_ctype = self.narrowed(self.return_type, self.return_range)
        else:
            self.return_ctype = self.return_type
        used = self.used_names = _names_loaded(body)
        sig_parts = []
        self.param_ctypes = []
        for p, t in zip(params, self.arg_types):
            if p in self.arrays:
                info = self.arrays[p]
                sig_parts.append(f"{'const ' if info.readonly else ''}{ctype(info.ty)} *{self.cname(p)}")
                self.param_ctypes.append(None)
            elif p in runtime_params:
                ct = self.c_var_type(p)
                sig_parts.append(f"{ctype(ct)} {self.cname(p)}")
                self.param_ctypes.append(ct)
                self.declared.add(p)
            if p not in used and (p in self.arrays or p in runtime_params):
                self.emit(f"(void){self.cname(p)};")
        for p, t, value in const_decls:
            if p in used:
                ct = self.c_var_type(p)
                lit = (c_float_literal(value, unlit(t)) if is_float(t) else
                       ("true" if value else "false") if ct == types.boolean else c_int_literal(value, ct))
                self.emit(f"const {ctype(ct)} {self.cname(p)} = {lit};")
                self.declared.add(p)
        self.block(body)
        if self.return_type is None:
            ret = "void"
        elif isinstance(self.return_type, types.BaseTuple):
            ret = self.owner.tuple_type(self.return_type)
        else:
            ret = ctype(self.return_ctype)
        self.lines = _drop_unused_consts(self.lines)
        text = "\n".join(self.lines)
        folded = [f"(void){self.cname(p)};" for p in params if p in used and (p in self.arrays or p in runtime_params)
                  and not re.search(rf"\b{re.escape(self.cname(p))}\b", text)]     # every use folded to a constant
        self.lines = folded + self.lines
        storage = "static inline" if self.is_helper else "static"
        head = f"{storage} {ret} {self.c_name}({', '.join(sig_parts) or 'void'})"
        return head + "\n{\n" + "\n".join(self.lines) + "\n}\n"

    def _return_range(self, body):
        rng = None
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Return) and node.value is not None:
                r = self._erange(node.value)
                if r is None:
                    return None
                rng = _rng_join(rng, r)
        return rng

    def _stores_to(self, name: str) -> bool:
        """Whether the function writes array ``name`` (or passes it to a function, which might)."""
        for node in ast.walk(self.fdef):
            if isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id == name or
                                                  isinstance(a, ast.Subscript) and isinstance(a.value, ast.Name)
                                                  and a.value.id == name for a in node.args):
                return True
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript)
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == name
                    and isinstance(self.typemap_type_safe(node.targets[0]), types.Array)):
                return True         # a view of it, which may be written
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for sub in ast.walk(t):
                        if isinstance(sub, ast.Subscript) and _subscripted_array(sub) == name:
                            return True
        return False

    # constants -------------------------------------------------------------------------
    def _assign_counts(self, body) -> dict:
        counts: dict[str, int] = {}
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.For):
                targets = [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        counts[sub.id] = counts.get(sub.id, 0) + 1
        return counts

    def _find_constants(self, body):
        """Names assigned once at the top level from a constant integer expression (shapes, params...)."""
        counts = self._assign_counts(body)
        for p in self.params:
            if counts.get(p):
                self.consts.pop(p, None)
        self.assign_counts = counts
        for stmt in body:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                continue
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and counts.get(target.id) == 1:
                value = self.const_value(stmt.value)
                t = self.typemap_type(target.id)
                if value is not None and (t is None or is_int(t) or isinstance(t, types.Boolean)):
                    self.consts[target.id] = value
            elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
                shape = self._shape_of(stmt.value)
                if shape is not None and len(shape) == len(target.elts):
                    for e, d in zip(target.elts, shape):
                        if counts.get(e.id) == 1:
                            self.consts[e.id] = int(d)

    def typemap_type_safe(self, target):
        return self.typemap_type(target.id) if isinstance(target, ast.Name) else None

    def typemap_type(self, name):
        try:
            return self.type_of_var(name)
        except LoweringError:
            return None

    def _shape_of(self, node):
        if (isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name)
                and node.value.id in self.arrays):
            return self.arrays[node.value.id].shape
        return None

    def const_value(self, node):
        """The value of an integer/bool expression known at export time, else None."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return node.value
            if isinstance(node.value, int):
                return node.value
            return None
        if isinstance(node, ast.Name):
            if node.id in self.consts:
                return self.consts[node.id]
            g = self.globals.get(node.id) if node.id not in self.typemap else None
            if isinstance(g, (int, np.integer)) and not isinstance(g, (bool, np.bool_)):
                return int(g)
            return None
        if isinstance(node, ast.Subscript):
            shape = self._shape_of(node.value)
            idx = self.const_value(node.slice)
            if shape is not None and idx is not None and -len(shape) <= idx < len(shape):
                return int(shape[idx])
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.arrays:
            info = self.arrays[node.value.id]
            if node.attr == "size":
                return int(np.prod(info.shape, dtype=np.int64))
            if node.attr == "ndim":
                return len(info.shape)
            return None
        if isinstance(node, ast.UnaryOp):
            v = self.const_value(node.operand)
            if v is None:
                return None
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Invert):
                return ~v
            return None
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS and not isinstance(node.op, (ast.Div, ast.Pow)):
            a, b = self.const_value(node.left), self.const_value(node.right)
            if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
                return None
            if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0:
                return None
            if isinstance(node.op, (ast.LShift, ast.RShift)) and not (0 <= b < 64):
                return None
            v = BINOPS[type(node.op)][0](a, b)
            return v if -2**63 <= v < 2**63 else None
        if isinstance(node, ast.Compare):
            vals = [self.const_value(node.left)] + [self.const_value(c) for c in node.comparators]
            if any(v is None for v in vals):
                return None
            return all(CMPOPS[type(op)][0](vals[i], vals[i + 1]) for i, op in enumerate(node.ops))
        if isinstance(node, ast.BoolOp):
            vals = [self.const_value(v) for v in node.values]
            if any(v is None for v in vals):
                # short circuit on a known value
                if isinstance(node.op, ast.And) and any(v is not None and not v for v in vals):
                    first_false = next(i for i, v in enumerate(vals) if v is not None and not v)
                    if all(v is not None for v in vals[:first_false]):
                        return False
                return None
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.IfExp):
            c = self.const_value(node.test)
            if c is None:
                return None
            return self.const_value(node.body if c else node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = node.func.id
            vals = [self.const_value(a) for a in node.args]
            if any(v is None for v in vals) or not vals:
                return None
            if fn == "min":
                return min(vals)
            if fn == "max":
                return max(vals)
            if fn == "abs" and len(vals) == 1:
                return abs(vals[0])
            if fn == "int" and len(vals) == 1:
                return int(vals[0])
            if fn == "len" and isinstance(node.args[0], ast.Name) and node.args[0].id in self.arrays:
                return self.arrays[node.args[0].id].shape[0]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name) and node.args[0].id in self.arrays:
            return self.arrays[node.args[0].id].shape[0]
        return None

    # locals: where each is declared ------------------------------------------------------
    def _scan_locals(self, body):
        """Local fixed-size arrays (np.zeros/np.empty with constant shapes)."""
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                t = self.typemap_type(name)
                if isinstance(t, types.Array) and isinstance(node.value, ast.Subscript):
                    _, info = self.view(node.value)
                    old = self.arrays.get(name)
                    if old is not None and (old.shape != info.shape or not old.view):
                        self.error(node, f"view {name!r} assigned with different shapes")
                    self.arrays[name] = info
                    continue
                if isinstance(t, types.Array):
                    shape = self._local_array_shape(node.value)
                    if shape is None:
                        self.error(node, f"array {name!r} that is not np.zeros/np.empty of a constant shape")
                    if name in self.arrays and not self.arrays[name].local:
                        self.error(node, f"reassignment of array parameter {name!r}")
                    self.arrays[name] = ArrayInfo(unlit(t.dtype), shape, False, local=True)

    def _local_array_shape(self, node):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("local_array_")
                and not node.keywords):
            shape = tuple(self.const_value(a) for a in node.args)
            return None if any(d is None for d in shape) else shape
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"
                and node.func.attr in ("zeros", "empty") and node.args):
            return None
        shape_node = node.args[0]
        dims = shape_node.elts if isinstance(shape_node, ast.Tuple) else [shape_node]
        shape = tuple(self.const_value(d) for d in dims)
        if any(d is None for d in shape):
            return None
        return shape

    # emission --------------------------------------------------------------------------
    def emit(self, line: str):
        self.lines.append("    " * self.indent + line)

    def block(self, stmts):
        plan = _declaration_plan(stmts, self)
        skip = 0
        for i, stmt in enumerate(stmts):
            for name in plan.get(id(stmt), []):
                self.declare(name, stmt)
            if skip:
                skip -= 1
            elif self._lane_macs(stmts[i:i + 4]):
                skip = 3
            else:
                self.stmt(stmt)

    def _lane_macs(self, stmts) -> bool:
        """Four statements ``s<j> = np.int32(s<j> + (np.int32(a[.., base + j]) - z) * np.int32(b[.., base2 + j]))``
        for j = 0..3 (``- z`` optional; int8 ``a`` and ``b``, four distinct int32 accumulators) become
        one ``tj_mac4_i8_i8(&a[.., base], &b[.., base2], z, &s0, &s1, &s2, &s3)``: four channels of a
        depthwise convolution in one word each (SXTB16 + SMLABB/SMLATT on Armv7E-M)."""
        if len(stmts) != 4:
            return False
        lanes = [self._lane_mac(st) for st in stmts]
        if any(m is None for m in lanes) or len({m[0] for m in lanes}) != 4:
            return False
        bases = lanes[0][1]
        offset = lanes[0][2]
        for j, (_, refs, z) in enumerate(lanes):
            if ast.dump(z) != ast.dump(offset):
                return False
            for (arr, items), (arr0, items0) in zip(refs, bases):
                want = items0[-1] if j == 0 else ast.BinOp(items0[-1], ast.Add(), ast.Constant(j))
                if arr != arr0 or [ast.dump(i) for i in items[:-1]] != [ast.dump(i) for i in items0[:-1]] \
                        or ast.dump(items[-1]) != ast.dump(want):
                    return False
        ptrs = []
        for arr, items in bases:
            sub = ast.copy_location(ast.Subscript(value=ast.Name(arr, ast.Load()), slice=ast.Tuple(items, ast.Load())
                                                  if len(items) > 1 else items[0], ctx=ast.Load()), stmts[0])
            ptrs.append(f"&{self.element(sub)[0]}")
        z = self.cast(self.expr(offset), types.int32).code
        accs = ", ".join(f"&{self.cname(m[0])}" for m in lanes)
        self.owner.primitives.add("tj_mac4_i8_i8")
        self.emit(f"tj_mac4_i8_i8({ptrs[0]}, {ptrs[1]}, {z}, {accs});   /* s<j> += (a[j] - z) * b[j], j = 0..3 */")
        return True

    def _lane_mac(self, st):
        """(acc, ((array a, index items), (array b, index items)), offset z) of one
        ``acc = np.int32(acc + (np.int32(a[...]) - z) * np.int32(b[...]))`` over int8 arrays, or None."""
        found = _mac_statement(st, self)
        if found is None:
            return None
        acc, product, wraps = found
        if acc in self.arrays or self.c_var_type(acc, st) != types.int32:
            return None
        if not wraps and not _fits(self.var_ranges.get(acc), types.int32):
            return None
        offset = ast.Constant(0)
        refs = []
        for side in (product.left, product.right):
            side = _strip_casts(side, self)
            if isinstance(side, ast.BinOp) and isinstance(side.op, ast.Sub) and not refs \
                    and isinstance(side.right, (ast.Name, ast.Constant)):
                offset, side = side.right, _strip_casts(side.left, self)
            if not (isinstance(side, ast.Subscript) and isinstance(side.value, ast.Name) and side.value.id in self.arrays
                    and self.arrays[side.value.id].ty == types.int8):
                return None
            idx = side.slice
            items = list(idx.elts) if isinstance(idx, ast.Tuple) else [idx]
            if len(items) != len(self.arrays[side.value.id].shape) or any(isinstance(i, ast.Slice) for i in items):
                return None
            refs.append((side.value.id, items))
        if isinstance(offset, ast.Name) and (offset.id in self.arrays or acc == offset.id):
            return None
        rng = self._erange(offset)
        if rng is None or rng[0] < -128 or rng[1] > 127:     # a - offset must fit the stub's int16 halves
            return None
        return acc, tuple(refs), offset

    def declare(self, name: str, at_stmt):
        if name in self.declared:
            return
        self.declared.add(name)
        merge = _first_is_def(at_stmt, name)
        if name in self.arrays:
            info = self.arrays[name]
            n = int(np.prod(info.shape, dtype=np.int64))
            if merge:
                self._pending_decl = name
                return
            if info.view:
                self.emit(f"{'const ' if info.readonly else ''}{ctype(info.ty)} *{self.cname(name)} = 0;")
            else:
                self.emit(f"{ctype(info.ty)} {self.cname(name)}[{n}];")
            return
        if merge:
            self._pending_decl = name
            return
        t = self.c_var_type(name, at_stmt)
        zero = "false" if t == types.boolean else ("0" if is_int(t) else ("0.0f" if t == types.float32 else "0.0"))
        self.emit(f"{ctype(t)} {self.cname(name)} = {zero};")

    _pending_decl = None

    def stmt(self, node):
        m = getattr(self, "s_" + type(node).__name__, None)
        if m is None:
            self.error(node, f"a {type(node).__name__} statement")
        m(node)

    def s_Pass(self, node):
        pass

    def s_Expr(self, node):
        if not isinstance(node.value, ast.Call):
            return      # a docstring or a bare value: nothing to do
        e = self.expr(node.value)
        self.emit(f"{e.code};" if e.ty in (types.none, None) else f"(void){e.wrap(P_UNARY)};")

    def s_Return(self, node):
        if node.value is None:
            self.emit("return;")
            return
        if self.return_type is None:
            self.error(node, "a kernel returning a value")
        if isinstance(self.return_type, types.BaseTuple):
            if not isinstance(node.value, ast.Tuple) or len(node.value.elts) != len(self.return_type):
                self.error(node, "returning a tuple other than a literal (a, b, ...)")
            parts = [self.cast(self.expr(v), t).code for v, t in zip(node.value.elts, self.return_type)]
            self.emit(f"return ({self.owner.tuple_type(self.return_type)}){{{', '.join(parts)}}};")
            return
        e = self.expr(node.value)
        self.emit(f"return {self.cast(e, self.return_ctype).code};")

    def s_Break(self, node):
        self.emit("break;")

    def s_Continue(self, node):
        self.emit("continue;")

    def s_Assign(self, node):
        if len(node.targets) != 1:
            self.error(node, "chained assignment")
        target = node.targets[0]
        if isinstance(target, ast.Tuple):
            return self._tuple_assign(node, target)
        if isinstance(target, ast.Name) and target.id in self.arrays and self.arrays[target.id].view:
            if target.id not in self.used_names:
                return                  # a view only a pruned branch read
            ptr, info = self.view(node.value)
            var = self.cname(target.id)
            ct = f"{'const ' if info.readonly else ''}{ctype(info.ty)} *"
            if self._pending_decl == target.id:
                self._pending_decl = None
                self.emit(f"{ct}{var} = {ptr};")
            else:
                self.emit(f"{var} = {ptr};")
            return
        if isinstance(target, ast.Name) and target.id in self.arrays and self.arrays[target.id].local:
            info = self.arrays[target.id]
            n = int(np.prod(info.shape, dtype=np.int64))
            zero = isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "zeros"
            var = self.cname(target.id)
            if self._pending_decl == target.id:
                self._pending_decl = None
                self.emit(f"{ctype(info.ty)} {var}[{n}]{' = {0}' if zero else ''};")
            elif zero:
                self.emit(f"for (int {var}_i = 0; {var}_i < {n}; {var}_i++) {var}[{var}_i] = 0;")
            return
        self.assign(target, node.value, node)

    def _tuple_assign(self, node, target):
        shape = self._shape_of(node.value)
        if shape is not None:
            if len(shape) != len(target.elts):
                self.error(node, f"unpacking {len(shape)} dims into {len(target.elts)} names")
            for e, d in zip(target.elts, shape):
                if not isinstance(e, ast.Name):
                    self.error(node, "unpacking .shape into something other than names")
                if e.id in self.consts and e.id in _names_loaded_fn(self):
                    t = self.c_var_type(e.id, node)
                    if e.id not in self.declared:
                        self.declared.add(e.id)
                        self.emit(f"const {ctype(t)} {self.cname(e.id)} = {c_int_literal(d, t)};")
                elif e.id in _names_loaded_fn(self):
                    self.assign(e, ast.Constant(int(d)), node)
            return
        if isinstance(node.value, ast.Tuple) and len(node.value.elts) == len(target.elts):
            temps = []
            for i, (tgt, val) in enumerate(zip(target.elts, node.value.elts)):
                e = self.expr(val)
                tmp = f"tj_tmp{len(self.lines)}_{i}"
                self.emit(f"{ctype(e.ty)} {tmp} = {e.code};")
                temps.append((tgt, tmp, e.ty))
            for tgt, tmp, ty in temps:
                self.assign(tgt, None, node, E(tmp, ty))
            return
        if isinstance(node.value, ast.Call):
            e = self.expr(node.value)
            if not isinstance(e.ty, types.BaseTuple) or len(e.ty) != len(target.elts):
                self.error(node, f"unpacking {e.ty} into {len(target.elts)} names")
            tmp = f"tj_ret{len(self.lines)}"
            self.emit(f"{self.owner.tuple_type(e.ty)} {tmp} = {e.code};")
            for i, (tgt, ty) in enumerate(zip(target.elts, e.ty)):
                self.assign(tgt, None, node, E(f"{tmp}.v{i}", unlit(ty), P_POSTFIX))
            return
        self.error(node, "tuple assignment from something other than .shape, a tuple or a call")

    def assign(self, target, value_node, node, value: E | None = None):
        if isinstance(target, ast.Name):
            name = target.id
            if name in self.loop_vars:
                self.error(node, f"assignment to loop variable {name!r}")
            if name in self.consts and name not in self.params:
                if name in _names_loaded_fn(self) and name not in self.declared:
                    t = self.c_var_type(name, node)
                    self.declared.add(name)
                    v = self.consts[name]
                    lit = ("true" if v else "false") if t == types.boolean else c_int_literal(v, t)
                    self.emit(f"const {ctype(t)} {self.cname(name)} = {lit};")
                return
            if name not in self.used_names and name not in self.params:
                if value is None and _has_call(value_node):
                    self.emit(f"(void){self.expr(value_node).wrap(P_UNARY)};")
                return
            t = self.c_var_type(name, node)
            rng = self.var_ranges.get(name)
            if value is None and is_int(t) and rng is not None and rng[0] == rng[1] and _without_effects(value_node, self):
                code = c_int_literal(rng[0], t)      # one value whatever the inputs (``max(shift, 0)`` of shifts <= 0)
            else:
                e = value if value is not None else self.expr(value_node, want=t)
                code = self.cast(e, t).code
            if self._pending_decl == name:
                self._pending_decl = None
                self.emit(f"{ctype(t)} {self.cname(name)} = {code};")
            else:
                self.emit(f"{self.cname(name)} = {code};")
            return
        if isinstance(target, ast.Subscript):
            ref, elem_t = self.element(target)
            e = value if value is not None else self.expr(value_node, want=elem_t)
            self.emit(f"{ref} = {self.cast(e, elem_t).code};")
            return
        self.error(node, f"assignment to a {type(target).__name__}")

    def s_AugAssign(self, node):
        if type(node.op) not in BINOPS:
            self.error(node, "this augmented assignment")
        target = node.target
        if isinstance(target, ast.Name):
            if target.id in self.loop_vars:
                self.error(node, f"assignment to loop variable {target.id!r}")
            if target.id not in _names_loaded_fn(self) and not _has_call(node.value):
                return
            t = self.c_var_type(target.id, node)
            cur = E(self.cname(target.id), t, rng=self.var_ranges.get(target.id))
            store = t
            ref = self.cname(target.id)
        elif isinstance(target, ast.Subscript):
            ref, store = self.element(target)
            cur = E(ref, store, P_POSTFIX, rng=self._elem_range(target))
        else:
            self.error(node, "augmented assignment to this target")
        rhs = self.expr(node.value)
        res = self.binop(node.op, cur, rhs, node, inplace=True)
        # `a op= b` when C computes exactly what Numba does: same result type, no cast on `a`
        op_c = BINOPS[type(node.op)][1]
        if (op_c is not None and unlit(res.ty) == store and getattr(res, "_plain", None) is not None
                and res._plain[0] == cur.code):
            self.emit(f"{ref} {op_c}= {res._plain[1]};")
        else:
            self.emit(f"{ref} = {self.cast(res, store).code};")

    def s_If(self, node):
        test = self.cond(node.test)
        self.emit(f"if ({test}) {{")
        self._sub(node.body)
        orelse = node.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If):
            self.emit(f"}} else if ({self.cond(orelse[0].test)}) {{")
            self._sub(orelse[0].body)
            orelse = orelse[0].orelse
        if orelse:
            self.emit("} else {")
            self._sub(orelse)
        self.emit("}")

    def _sub(self, stmts):
        self.indent += 1
        if stmts:
            self.block(stmts)
        self.indent -= 1

    def s_While(self, node):
        if node.orelse:
            self.error(node, "while ... else")
        self.emit(f"while ({self.cond(node.test)}) {{")
        self._sub(node.body)
        self.emit("}")

    def s_For(self, node):
        if node.orelse:
            self.error(node, "for ... else")
        if not isinstance(node.target, ast.Name):
            self.error(node, "a for loop over something other than one name")
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and 1 <= len(it.args) <= 3 and not it.keywords):
            self.error(node, "a for loop that is not over range(...)")
        name = node.target.id
        if name in _stale_loop_reads(self):
            self.error(node, f"loop variable {name!r} read after its loop (C would see the value past the end)")
        if self._dot_product(node):
            return
        t = self.c_var_type(name, node)
        args = [self.expr(a) for a in it.args]
        start, stop, step = (E("0", types.int64, const=0), args[0], E("1", types.int64, const=1)) if len(args) == 1 \
            else (args[0], args[1], args[2] if len(args) == 3 else E("1", types.int64, const=1))
        step_v = step.const
        if step_v == 0:
            self.error(node, "range() with step 0")
        var = self.cname(name)
        assigned_in_body = _assigned_names(node.body)
        # Python evaluates the bounds once: hoist a bound that the body could change
        stop_code = self.cast(stop, t).code
        if not self._invariant(it.args[1] if len(it.args) > 1 else it.args[0], assigned_in_body):
            tmp = f"{var}_end"
            self.emit(f"const {ctype(t)} {tmp} = {stop_code};")
            stop_code = tmp
        step_code = self.cast(step, t).code
        if step_v is None:
            if not self._invariant(it.args[2], assigned_in_body):
                self.emit(f"const {ctype(t)} {var}_step = {step_code};")
                step_code = f"{var}_step"
            cond = f"({step_code} > 0 ? {var} < {stop_code} : {var} > {stop_code})"
            inc = f"{var} += {step_code}"
        else:
            cond = f"{var} {'<' if step_v > 0 else '>'} {stop_code}"
            inc = f"{var}++" if step_v == 1 else (f"{var}--" if step_v == -1 else
                                                   f"{var} {'+' if step_v > 0 else '-'}= {abs(step_v)}")
        self.emit(f"for ({ctype(t)} {var} = {self.cast(start, t).code}; {cond}; {inc}) {{")
        self.loop_vars.append(name)
        saved = self.declared.copy()
        self.declared.add(name)
        self._sub(node.body)
        self.declared = saved | (self.declared - {name} - _assigned_names(node.body))
        self.loop_vars.pop()
        self.emit("}")

    def _dot_product(self, node) -> bool:
        """``for k in range(n): acc += a[.., base_a + k] * b[.., base_b + k]`` over int8/int16 arrays
        with an int32 ``acc`` (proved by the range analysis) becomes one call of the stub header's
        ``tj_dot_<a>_<b>(&a[base_a], &b[base_b], n, acc)`` (SMLAD on Armv7E-M, VMLADAV on MVE): the
        same sum, since no partial sum in any order can leave int32. Two such statements that share
        one operand (one input window against two weight rows) become one
        ``tj_dot2_<a>_<b>(&a[..], &b0[..], &b1[..], n, &acc0, &acc1)``: the shared operand is loaded
        and widened once for both."""
        it = node.iter
        if len(node.body) not in (1, 2, 4) or not (len(it.args) == 1 or (len(it.args) == 2 and self.const_value(it.args[0]) == 0)):
            return False
        macs = [self._dot_statement(st, node.target.id) for st in node.body]
        if any(m is None for m in macs) or len({acc for acc, _ in macs}) != len(macs):
            return False
        n = self.cast(self.expr(it.args[-1]), types.int32)
        if len(macs) == 1:
            acc, ((ra, ta), (rb, tb)) = macs[0]
            fname = f"tj_dot_{SUFFIX[ta]}_{SUFFIX[tb]}"
            self.owner.primitives.add(fname)
            var = self.cname(acc)
            self.emit(f"{var} = {fname}(&{ra}, &{rb}, {n.code}, {var});   /* for {node.target.id} in range(...): {acc} += a * b */")
            return True
        if len(macs) == 4:
            return self._dot_2x2(node, macs, n)
        (acc0, ops0), (acc1, ops1) = macs
        for i, j in ((0, 1), (1, 0)):           # the operand both products share (a product commutes)
            if ops0[i] == ops1[i] and ops0[j][1] == ops1[j][1]:
                (ra, ta), (rb0, tb), (rb1, _) = ops0[i], ops0[j], ops1[j]
                break
        else:
            return False
        fname = f"tj_dot2_{SUFFIX[ta]}_{SUFFIX[tb]}"
        self.owner.primitives.add(fname)
        v0, v1 = self.cname(acc0), self.cname(acc1)
        self.emit(f"{fname}(&{ra}, &{rb0}, &{rb1}, {n.code}, &{v0}, &{v1});   "
                  f"/* for {node.target.id} in range(...): {acc0} += a * b0; {acc1} += a * b1 */")
        return True

    def _dot_2x2(self, node, macs, n) -> bool:
        """Four statements ``s00 += a0 * b0; s01 += a0 * b1; s10 += a1 * b0; s11 += a1 * b1`` (two
        windows against two weight rows) -> ``tj_dot2x2_<a>_<b>``: every loaded word serves two
        products."""
        (_, (a0, b0)), (_, (a0_, b1)), (_, (a1, b0_)), (_, (a1_, b1_)) = macs
        if not (a0 == a0_ and a1 == a1_ and b0 == b0_ and b1 == b1_ and a0[1] == a1[1] and b0[1] == b1[1]):
            return False
        fname = f"tj_dot2x2_{SUFFIX[a0[1]]}_{SUFFIX[b0[1]]}"
        self.owner.primitives.add(fname)
        accs = ", ".join(f"&{self.cname(acc)}" for acc, _ in macs)
        self.emit(f"{fname}(&{a0[0]}, &{a1[0]}, &{b0[0]}, &{b1[0]}, {n.code}, {accs});   "
                  f"/* for {node.target.id} in range(...): s<i><j> += a<i> * b<j> */")
        return True

    def _dot_statement(self, st, k: str):
        """(acc, ((ref_a, type_a), (ref_b, type_b))) of one ``acc += a[.., i + k] * b[.., j + k]`` statement
        of a dot-product loop over ``k``, or None."""
        found = _mac_statement(st, self)
        if found is None:
            return None
        acc, product, wraps = found
        if acc == k or acc in self.arrays or self.c_var_type(acc, st) != types.int32:
            return None
        if not wraps and not _fits(self.var_ranges.get(acc), types.int32):
            return None       # `acc += a * b` in int64: exact in int32 only when no partial sum can leave it
        operands = []
        for side in (product.left, product.right):
            side = _strip_casts(side, self)      # widening casts of int8/int16 values change nothing
            if not (isinstance(side, ast.Subscript) and isinstance(side.value, ast.Name) and side.value.id in self.arrays):
                return None
            info = self.arrays[side.value.id]
            if info.ty not in (types.int8, types.int16):
                return None
            idx = side.slice
            items = list(idx.elts) if isinstance(idx, ast.Tuple) else [idx]
            if len(items) != len(info.shape) or any(k in _names_in(i) for i in items[:-1]):
                return None
            last = items[-1]
            if isinstance(last, ast.Name) and last.id == k:
                rest = ast.Constant(0)
            elif (isinstance(last, ast.BinOp) and isinstance(last.op, ast.Add) and isinstance(last.right, ast.Name)
                  and last.right.id == k and k not in _names_in(last.left)):
                rest = last.left
            elif (isinstance(last, ast.BinOp) and isinstance(last.op, ast.Add) and isinstance(last.left, ast.Name)
                  and last.left.id == k and k not in _names_in(last.right)):
                rest = last.right
            else:
                return None
            base = ast.copy_location(ast.Subscript(value=side.value, slice=ast.Tuple(items[:-1] + [rest], ast.Load())
                                                   if len(items) > 1 else rest, ctx=ast.Load()), side)
            ref, _ = self.element(base)
            operands.append((ref, info.ty))
        return acc, tuple(operands)

    def _invariant(self, expr_node, assigned: set) -> bool:
        return not (_names_loaded([expr_node]) & assigned) and not _has_call(expr_node)

    # conditions ------------------------------------------------------------------------
    def cond(self, node) -> str:
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            prec = P_LAND if isinstance(node.op, ast.And) else P_LOR
            parts = []
            for v in node.values:
                c = self.cond(v)
                parts.append(f"({c})" if _c_prec(c, v) < prec + 1 and isinstance(v, ast.BoolOp) else c)
            return op.join(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.cond(node.operand)
            return f"!({inner})" if not _is_atom(inner) else f"!{inner}"
        e = self.expr(node)
        if e.ty == types.boolean:
            return e.code
        return f"{e.wrap(P_EQ + 1)} != 0" if is_int(e.ty) or is_float(e.ty) else e.code

    # expressions -----------------------------------------------------------------------
    def expr(self, node, want=None) -> E:
        m = getattr(self, "e_" + type(node).__name__, None)
        if m is None:
            self.error(node, f"a {type(node).__name__} expression")
        return m(node)

    def e_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            return E("true" if v else "false", types.boolean, const=v)
        if isinstance(v, int):
            return E(c_int_literal(v), types.literal(v), P_ATOM if v >= 0 else P_UNARY, const=v, rng=(v, v))
        if isinstance(v, float):
            code = c_float_literal(v, types.float64)
            return E(code, types.float64, P_ATOM if not code.startswith("-") else P_UNARY)
        self.error(node, f"the constant {v!r}")

    def e_Name(self, node):
        name = node.id
        if name in self.arrays:
            self.error(node, f"array {name!r} used as a value")
        if name in self.consts and name not in self.declared and name not in self.params:
            v = self.consts[name]
            t = self.typemap_type(name) or types.int64
            if isinstance(v, bool) or t == types.boolean:
                return E("true" if v else "false", types.boolean, const=v)
            return E(c_int_literal(v), t, P_ATOM if v >= 0 else P_UNARY, const=v, rng=(v, v))
        if name in ("True", "False"):
            return E(name.lower(), types.boolean, const=name == "True")
        if name not in self.declared and name not in self.params and name not in self.var_types \
                and name not in self.typemap and name in self.globals:
            g = self.globals[name]
            if isinstance(g, (bool, np.bool_)):
                return E("true" if g else "false", types.boolean, const=bool(g))
            if isinstance(g, (int, np.integer)):
                return E(c_int_literal(int(g)), types.literal(int(g)), P_ATOM if g >= 0 else P_UNARY,
                         const=int(g), rng=(int(g), int(g)))
            if isinstance(g, (float, np.floating)):
                return E(c_float_literal(float(g), types.float64), types.float64, P_ATOM)
            self.error(node, f"the global {name!r} used as a value")
        t = self.c_var_type(name, node)
        const = self.consts.get(name)
        rng = self.var_ranges.get(name) if is_int(t) else None
        return E(self.cname(name), t, const=const, rng=rng)

    def e_Attribute(self, node):
        v = self.const_value(node)
        if v is not None:
            return E(c_int_literal(v), types.int64, const=v, rng=(v, v))
        self.error(node, f"the attribute .{node.attr}")

    def e_Subscript(self, node):
        shape = self._shape_of(node.value)
        if shape is not None:
            v = self.const_value(node)
            if v is None:
                self.error(node, ".shape indexed by a value not known at export time")
            return E(c_int_literal(v), types.int64, const=v, rng=(v, v))
        ref, t = self.element(node)
        return E(ref, t, P_POSTFIX, rng=self._elem_range(node))

    def _elem_range(self, node):
        name = node.value.id if isinstance(node.value, ast.Name) else None
        info = self.arrays.get(name)
        if info is None or not is_int(info.ty):
            return None
        if info.value_range is not None:
            return info.value_range
        return INT_LIMITS[info.ty]

    def element(self, node) -> tuple[str, object]:
        """A C lvalue for ``a[i, j, ...]`` (flat index arithmetic) and the element type."""
        value = node.value
        if (isinstance(value, ast.Attribute) and value.attr == "flat" and isinstance(value.value, ast.Name)
                and value.value.id in self.arrays and not isinstance(node.slice, (ast.Tuple, ast.Slice))):
            e = self.expr(node.slice)      # a.flat[i]: arrays are contiguous, so the pointer's i-th element
            if not is_int(e.ty):
                self.error(node.slice, "a non-integer index")
            return f"{self.cname(value.value.id)}[{e.code}]", self.arrays[value.value.id].ty
        if not isinstance(node.value, ast.Name) or node.value.id not in self.arrays:
            self.error(node, "indexing something that is not an array argument or local array")
        name = node.value.id
        info = self.arrays[name]
        idx = node.slice
        indices = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        if any(isinstance(i, ast.Slice) for i in indices):
            self.error(node, "array slicing")
        if len(indices) != len(info.shape):
            self.error(node, f"{len(indices)} indices into {name!r}, which has {len(info.shape)} dims")
        flat = None
        for d, (i_node, dim) in enumerate(zip(indices, info.shape)):
            while (isinstance(i_node, ast.Call) and isinstance(i_node.func, ast.Name) and len(i_node.args) == 1
                   and _is_primitive(self.globals.get(i_node.func.id)) and i_node.func.id == "nonneg"):
                i_node = i_node.args[0]     # a subscript known non-negative: C never wraps anyway
            e = self.expr(i_node)
            if not (is_int(e.ty) or e.ty == types.boolean):
                self.error(i_node, "a non-integer index")
            if e.const is not None and e.const < 0:
                e = E(c_int_literal(e.const + dim), types.int64, const=e.const + dim)
            if flat is None:
                flat = e
            else:
                if dim == 1 and e.const == 0:
                    continue
                scaled = flat if dim == 1 else self._idx_op(flat, "*", E(str(dim), types.int64, const=dim))
                flat = scaled if e.const == 0 else self._idx_op(scaled, "+", e)
        return f"{self.cname(name)}[{flat.code}]", info.ty

    def view(self, node) -> tuple[str, ArrayInfo]:
        """``a[i, j]`` (fewer indices than dims) or ``a[i, j:j+n]`` (a constant-length slice of one
        dim, the dims after it whole): a contiguous view, i.e. a pointer and a static shape."""
        if not isinstance(node.value, ast.Name) or node.value.id not in self.arrays:
            self.error(node, "a view of something that is not an array")
        name = node.value.id
        info = self.arrays[name]
        idx = node.slice
        items = list(idx.elts) if isinstance(idx, ast.Tuple) else [idx]
        if len(items) > len(info.shape):
            self.error(node, f"{len(items)} indices into {name!r}, which has {len(info.shape)} dims")
        ints, sl = items, None
        if any(isinstance(i, ast.Slice) for i in items):
            k = next(j for j, i in enumerate(items) if isinstance(i, ast.Slice))
            if k != len(items) - 1:
                self.error(node, "a slice followed by more indices (a strided view)")
            ints, sl = items[:k], items[k]
            if sl.step is not None and self.const_value(sl.step) != 1:
                self.error(node, "a slice with a step")
        shape = list(info.shape)
        flat = None
        for d, i_node in enumerate(ints):
            e = self.expr(i_node)
            flat = e if flat is None else self._idx_op(self._idx_op(flat, "*", E(str(shape[d]), types.int64, const=shape[d])), "+", e)
        rest = shape[len(ints):]
        if sl is not None:
            dim = rest[0]
            start = self.expr(sl.lower) if sl.lower is not None else E("0", types.int64, const=0)
            if sl.upper is None:
                length = dim - start.const if start.const is not None else None
            else:
                length = self._slice_length(sl, dim)
            if length is None:
                self.error(node, "a slice whose length is not known at export time")
            if flat is None:
                flat = start
            else:
                flat = self._idx_op(self._idx_op(flat, "*", E(str(dim), types.int64, const=dim)), "+", start)
            rest = [length] + rest[1:]
        inner = int(np.prod(rest[1:] if sl is not None else rest, dtype=np.int64)) if rest else 1
        if flat is not None and inner != 1:
            flat = self._idx_op(flat, "*", E(str(inner), types.int64, const=inner))
        ptr = self.cname(name) if flat is None or flat.const == 0 else f"{self.cname(name)} + {flat.wrap(P_ADD + 1)}"
        return ptr, ArrayInfo(info.ty, tuple(rest), info.readonly, value_range=info.value_range, view=True)

    def _slice_length(self, sl, dim):
        lo = sl.lower
        hi = sl.upper
        lv, hv = self.const_value(lo) if lo is not None else 0, self.const_value(hi)
        if lv is not None and hv is not None:
            return max(0, min(hv, dim) - max(lv, 0))
        # a:a+n with n constant
        if isinstance(hi, ast.BinOp) and isinstance(hi.op, ast.Add) and lo is not None \
                and ast.dump(hi.left) == ast.dump(lo):
            return self.const_value(hi.right)
        return None

    def _idx_op(self, a: E, op: str, b: E) -> E:
        if a.const is not None and b.const is not None:
            v = a.const * b.const if op == "*" else a.const + b.const
            return E(str(v), types.int64, const=v)
        if op == "*" and b.const == 1:
            return a
        if op == "*" and a.const == 0:
            return a
        prec = P_MUL if op == "*" else P_ADD
        return E(f"{a.wrap(prec)} {op} {b.wrap(prec + 1)}", types.int64, prec)

    def e_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            return E(f"!{self.expr_bool(node.operand)}", types.boolean, P_UNARY)
        e = self.expr(node.operand)
        if e.const is not None and isinstance(node.op, ast.USub) and not isinstance(e.const, bool):
            return E(c_int_literal(-e.const), types.int64 if isinstance(e.ty, types.Literal) else e.ty,
                     P_UNARY if -e.const < 0 else P_ATOM, const=-e.const, rng=(-e.const, -e.const))
        if isinstance(node.op, ast.USub) and is_float(e.ty) and e.prec == P_ATOM and e.code[0].isdigit():
            return E("-" + e.code, e.ty, P_UNARY)
        fn = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)]
        sig = self.resolve(fn, (e.ty,), node)
        r = self.narrowed(unlit(sig.return_type), self._unary_range(fn, e.rng))
        sym = {operator.neg: "-", operator.pos: "+", operator.invert: "~"}[fn]
        operand = self.cast(e, r)
        if fn is operator.invert and unlit(sig.return_type) == types.boolean:
            self.error(node, "~ on a bool")
        return E(f"{sym}{operand.wrap(P_UNARY)}", r, P_UNARY, rng=self._unary_range(fn, e.rng))

    def _unary_range(self, fn, rng):
        if rng is None:
            return None
        if fn is operator.neg:
            return (-rng[1], -rng[0])
        if fn is operator.pos:
            return rng
        if fn is operator.invert:
            return (-rng[1] - 1, -rng[0] - 1)
        return None

    def expr_bool(self, node) -> str:
        c = self.cond(node)
        return c if _is_atom(c) else f"({c})"

    def narrowed(self, t, rng):
        """Numba's int64 result computed in int32 when its whole range fits (exactly the same value)."""
        if self.narrow and t == types.int64 and _fits(rng, types.int32):
            return types.int32
        return t

    def resolve(self, fn, argtys, node):
        ctx = typing_context()
        try:
            if not (isinstance(fn, (types.Type, type(len))) or fn in _BUILTIN_CALLABLES):
                fn = ctx.resolve_value_type(fn)
            sig = ctx.resolve_function_type(fn, tuple(argtys), {})
        except Exception as ex:
            self.error(node, f"{getattr(fn, '__name__', fn)} on {tuple(map(str, argtys))} ({ex})")
        if sig is None:
            self.error(node, f"{getattr(fn, '__name__', fn)} on {tuple(map(str, argtys))}")
        return sig

    def e_BinOp(self, node):
        if type(node.op) not in BINOPS:
            self.error(node, f"the operator {type(node.op).__name__}")
        a, b = self.expr(node.left), self.expr(node.right)
        return self.binop(node.op, a, b, node)

    def binop(self, op, a: E, b: E, node, inplace=False) -> E:
        fn, c_op, prec = BINOPS[type(op)]
        sig = self.resolve(fn, (a.ty, b.ty), node)
        r = unlit(sig.return_type)
        at, bt = (unlit(t) for t in sig.args)
        rng = _rng_binop(fn, a.rng, b.rng) if is_int(r) else None
        if is_int(r):
            r = self.narrowed(r, rng if _fits(a.rng, types.int32) and _fits(b.rng, types.int32) else None)
        # Numba casts operands through sig.args to the result type (the computation type)
        a2 = self._through(a, at)
        b2 = self._through(b, bt)
        if fn is operator.truediv:
            comp = r                            # int / int: both to float64 first
            x, y = self.operands(a2, b2, comp)
            return E(f"{x.wrap(P_MUL)} / {y.wrap(P_MUL + 1)}", r, P_MUL)
        if fn is operator.pow:
            return self._pow(a2, b2, r, sig, node)
        if fn in (operator.floordiv, operator.mod):
            x, y = self.cast(a2, r), self.cast(b2, r)
            name = "floordiv" if fn is operator.floordiv else "mod"
            if is_int(r) and (not r.signed or (a.rng is not None and a.rng[0] >= 0 and b.rng is not None and b.rng[0] > 0)):
                sym = "/" if fn is operator.floordiv else "%"   # no negative operands: C's division is Python's
                x, y = self.operands(a2, b2, r)
                return E(f"{x.wrap(P_MUL)} {sym} {y.wrap(P_MUL + 1)}", r, P_MUL, rng=rng)
            fname = f"tj_{name}_{SUFFIX[r]}"
            self.use_runtime(fname)
            return E(f"{fname}({x.code}, {y.code})", r, P_POSTFIX, rng=rng)
        if fn in (operator.lshift, operator.rshift):
            x, y = self.cast(a2, r), self.cast(b2, r)
            if y.const is not None:
                y = E(str(y.const), r, const=y.const)
            # parenthesized as gcc -Wparentheses wants: arithmetic inside a shift
            return E(f"{x.wrap(P_UNARY)} {c_op} {y.wrap(P_UNARY)}", r, prec, rng=rng)
        x, y = self.operands(a2, b2, r)
        if prec in (P_BAND, P_BXOR, P_BOR):      # gcc -Wparentheses: arithmetic inside & | ^
            out = E(f"{x.wrap(P_UNARY)} {c_op} {y.wrap(P_UNARY)}", r, prec, rng=rng)
            out._plain = None
            return out
        out = E(f"{x.wrap(prec)} {c_op} {y.wrap(prec + 1)}", r, prec, rng=rng)
        out._plain = (x.code, y.wrap(P_COND)) if x.code == a.code else None
        return out

    def _through(self, e: E, t) -> E:
        """Numba converts an operand to its signature type first: matters only when that narrows."""
        et = unlit(e.ty)
        if is_int(et) and is_int(t) and t.bitwidth < et.bitwidth:
            return self.cast(e, t)
        return e

    def operands(self, a: E, b: E, r):
        """Both operands converted to ``r`` the way C would do it implicitly where that is exact."""
        ca = self._needs_cast(a, r)
        cb = self._needs_cast(b, r)
        if ca and cb:
            return self.cast(a, r), (b if self._implicit_ok(b, r) else self.cast(b, r))
        if ca:
            return (a if self._implicit_ok(a, r) else self.cast(a, r)), b
        if cb:
            return a, (b if self._implicit_ok(b, r) else self.cast(b, r))
        return a, b

    def _needs_cast(self, e: E, r) -> bool:
        t = unlit(e.ty)
        if isinstance(e.ty, types.Literal) and is_int(r):
            return False
        return _c_promote(t) != r

    def _implicit_ok(self, e: E, r) -> bool:
        """C's usual arithmetic conversion of ``e`` to ``r`` gives Numba's value."""
        t = unlit(e.ty)
        if isinstance(e.ty, types.Literal):
            return True
        if is_float(r):
            return is_int(t) or (is_float(t) and t.bitwidth <= r.bitwidth) or t == types.boolean
        if is_int(r) and (is_int(t) or t == types.boolean):
            if t == types.boolean:
                return True
            if t.signed == r.signed:
                return t.bitwidth <= r.bitwidth
            return r.signed and t.bitwidth < r.bitwidth
        return False

    def cast(self, e: E, t) -> E:
        t = unlit(t)
        et = unlit(e.ty)
        if et == t or ctype(et) == ctype(t) and not isinstance(e.ty, types.Literal):
            return E(e.code, t, e.prec, e.const, e.rng)
        if e.const is not None and not isinstance(e.const, bool) and is_int(t):
            v = int(np.array(e.const).astype(np.int64).astype(str(t))) if not (
                INT_LIMITS[t][0] <= e.const <= INT_LIMITS[t][1]) else e.const
            return E(c_int_literal(v, t), t, P_ATOM if v >= 0 else P_UNARY, const=v, rng=(v, v))
        if e.const is not None and is_float(t) and not isinstance(e.const, bool):
            return E(c_float_literal(float(e.const), t), t, P_ATOM)
        if e.const is not None and t == types.boolean:
            return E("true" if e.const else "false", t, const=bool(e.const))
        if et == t or ctype(et) == ctype(t):
            return E(e.code, t, e.prec, e.const, e.rng)
        if is_float(t) and is_float(et) and e.prec == P_ATOM and re.fullmatch(r"[0-9.e+-]+", e.code) and t == types.float32:
            v = float(e.code)
            return E(c_float_literal(v, t), t, P_ATOM if not e.code.startswith("-") else P_UNARY)
        if t == types.boolean and (is_int(et) or is_float(et)):
            return E(f"{e.wrap(P_EQ + 1)} != 0", t, P_EQ)
        return E(f"({ctype(t)}){e.wrap(P_UNARY)}", t, P_UNARY, rng=e.rng if is_int(t) and _fits(e.rng, t) else None)

    def _pow(self, a: E, b: E, r, sig, node):
        at, bt = (unlit(t) for t in sig.args)
        if is_int(bt):
            if b.const is not None and 0 <= b.const <= 4:
                x = self.cast(a, r)
                if b.const == 0:
                    return E(c_float_literal(1.0, r) if is_float(r) else "1", r)
                # Numba's int_power squares as it goes: x**3 = x * (x * x), x**4 = (x * x) * (x * x)
                terms = {1: x.wrap(P_MUL), 2: f"{x.wrap(P_MUL)} * {x.wrap(P_MUL + 1)}",
                         3: f"{x.wrap(P_MUL)} * ({x.code} * {x.code})", 4: f"({x.code} * {x.code}) * ({x.code} * {x.code})"}
                return E(terms[b.const], r, P_MUL if b.const > 1 else x.prec)
            fname = f"tj_powi_{SUFFIX[r]}"
            self.use_runtime(fname)
            return E(f"{fname}({self.cast(a, r).code}, {self.cast(b, types.int64).code})", r, P_POSTFIX)
        if is_float(r):
            self.owner.libm = True
            f = "powf" if r == types.float32 else "pow"
            return E(f"{f}({self.cast(a, r).code}, {self.cast(b, r).code})", r, P_POSTFIX)
        self.error(node, f"** on {at}, {bt}")

    def e_BoolOp(self, node):
        return E(self.cond(node), types.boolean, P_LAND if isinstance(node.op, ast.And) else P_LOR)

    def e_Compare(self, node):
        parts = []
        left = self.expr(node.left)
        for op, comp_node in zip(node.ops, node.comparators):
            if type(op) not in CMPOPS:
                self.error(node, f"the comparison {type(op).__name__}")
            right = self.expr(comp_node)
            fn, c_op, prec = CMPOPS[type(op)]
            sig = self.resolve(fn, (left.ty, right.ty), node)
            ct = unlit(sig.args[0])
            if is_int(ct):
                ct = self.narrowed(ct, _rng_join(left.rng, right.rng))
            x, y = self.operands(self._through(left, ct), self._through(right, ct), ct)
            parts.append(f"{x.wrap(prec + 1)} {c_op} {y.wrap(prec + 1)}")
            left = right
        if len(parts) == 1:
            return E(parts[0], types.boolean, P_REL)
        return E(" && ".join(parts), types.boolean, P_LAND)

    def e_IfExp(self, node):
        c = self.const_value(node.test)
        if c is not None:
            return self.expr(node.body if c else node.orelse)
        a, b = self.expr(node.body), self.expr(node.orelse)
        t = unlit(typing_context().unify_types(a.ty, b.ty) or a.ty)
        if is_int(t):
            t = self.narrowed(t, _rng_join(a.rng, b.rng))
        test = self.cond(node.test)
        return E(f"{test if _c_prec(test, node.test) > P_COND else '(' + test + ')'} ? "
                 f"{self.cast(a, t).wrap(P_COND + 1)} : {self.cast(b, t).wrap(P_COND)}", t, P_COND,
                 rng=_rng_join(a.rng, b.rng))

    def e_Call(self, node):
        if node.keywords:
            kws = {k.arg for k in node.keywords}
            if not (kws <= {"dtype"} and self._callee(node) in ("np.zeros", "np.empty")):
                self.error(node, "a call with keyword arguments")
        callee = self._callee(node)
        args_nodes = node.args
        if callee in ("min", "max"):
            if len(args_nodes) < 2:
                self.error(node, f"{callee}() of one argument")
            es = [self.expr(a) for a in args_nodes]
            acc = es[0]
            for e in es[1:]:
                acc = self._minmax(callee, acc, e, node)
            return acc
        if callee == "abs":
            (e,) = [self.expr(a) for a in args_nodes]
            sig = self.resolve(builtins.abs, (e.ty,), node)
            r = unlit(sig.return_type)
            if is_float(r):
                self.owner.libm = True
                return E(f"{'fabsf' if r == types.float32 else 'fabs'}({self.cast(e, r).code})", r, P_POSTFIX)
            rng = None if e.rng is None else (0 if e.rng[0] <= 0 <= e.rng[1] else min(abs(e.rng[0]), abs(e.rng[1])),
                                               max(abs(e.rng[0]), abs(e.rng[1])))
            if not _fits(rng, r):
                rng = None
            r = self.narrowed(r, rng)
            fname = f"tj_abs_{SUFFIX[r]}"
            self.use_runtime(fname)
            return E(f"{fname}({self.cast(e, r).code})", r, P_POSTFIX, rng=rng)
        if callee == "round" and len(args_nodes) == 1:
            # Python's round(): half to even, an int; C's rint() in the default rounding mode agrees
            (e,) = [self.expr(a) for a in args_nodes]
            sig = self.resolve(builtins.round, (e.ty,), node)
            at, r = unlit(sig.args[0]), unlit(sig.return_type)
            if not is_float(at):
                return self.cast(e, r)
            self.owner.libm = True
            inner = f"{'rintf' if at == types.float32 else 'rint'}({self.cast(e, at).code})"
            return E(f"({ctype(r)}){inner}", r, P_UNARY)
        if callee in ("np.round", "np.rint", "np.around", "np.round_") and len(args_nodes) == 1:
            (e,) = [self.expr(a) for a in args_nodes]     # numpy rounds half to even too, keeping the type
            if not is_float(unlit(e.ty)):
                return e
            at = unlit(e.ty)
            self.owner.libm = True
            return E(f"{'rintf' if at == types.float32 else 'rint'}({e.code})", at, P_POSTFIX)
        if callee in ("int", "float", "bool") or (callee.startswith("np.") and callee[3:] in NP_CASTS):
            if len(args_nodes) != 1:
                self.error(node, f"{callee}() of {len(args_nodes)} arguments")
            e = self.expr(args_nodes[0])
            t = {"int": types.int64, "float": types.float64, "bool": types.boolean}.get(callee) \
                or NP_CASTS[callee[3:]]
            if is_int(t) and is_float(unlit(e.ty)):
                return E(f"({ctype(t)}){e.wrap(P_UNARY)}", t, P_UNARY)
            return self.cast(e, t) if e.const is None or not is_float(t) else self.cast(e, t)
        if callee == "len":
            v = self.const_value(node)
            return E(str(v), types.int64, const=v, rng=(v, v))
        fn = self._resolve_callable(node, callee)
        if fn in INT_RESULT_MATH:
            (e,) = [self.expr(a) for a in args_nodes]
            sig = self.resolve(fn, (e.ty,), node)
            at = unlit(sig.args[0])
            self.owner.libm = True
            name = INT_RESULT_MATH[fn] + ("f" if at == types.float32 else "")
            inner = f"{name}({self.cast(e, at).code})"
            r = unlit(sig.return_type)
            return E(f"({ctype(r)}){inner}" if is_int(r) else inner, r, P_UNARY)
        if fn in MATH_FUNCS:
            es = [self.expr(a) for a in args_nodes]
            sig = self.resolve(fn, tuple(e.ty for e in es), node)
            r = unlit(sig.return_type)
            at = unlit(sig.args[0])
            if not is_float(at):
                self.error(node, f"{callee} on {at}")
            self.owner.libm = True
            name = MATH_FUNCS[fn] + ("f" if at == types.float32 else "")
            inner = f"{name}({', '.join(self.cast(e, at).code for e in es)})"
            return self.cast(E(inner, at, P_POSTFIX), r) if r != at else E(inner, r, P_POSTFIX)
        if callee == "wrap_int32" and len(args_nodes) == 1:
            wrapped = self._wrapped_binop(args_nodes[0])
            if wrapped is not None:
                return wrapped
        if hasattr(fn, "py_func") or _is_primitive(fn):
            return self._call_function(node, callee, fn)
        self.error(node, f"a call of {callee}")

    def _wrapped_binop(self, node):
        """``wrap_int32(a + b)`` (also ``-``, ``*``, ``<<``) of int32 operands: the low 32 bits of the
        result do not depend on the width it is computed in, so C computes it in uint32 (one
        instruction, where the int64 shift or product would take several on a 32-bit core)."""
        if not (isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.LShift)):
            return None
        a, b = self.expr(node.left), self.expr(node.right)
        ra, rb = (self._erange(node.left) or a.rng), (self._erange(node.right) or b.rng)
        if not all(is_int(unlit(e.ty)) and _fits(r, types.int32) for e, r in ((a, ra), (b, rb))):
            return None
        c_op = BINOPS[type(node.op)][1]
        if isinstance(node.op, ast.LShift):
            if not (0 <= rb[0] and rb[1] <= 31):
                return None
            code = f"(uint32_t){self.cast(a, types.int32).wrap(P_UNARY)} << {self.cast(b, types.int32).wrap(P_SHIFT + 1)}"
        else:
            code = f"(uint32_t){self.cast(a, types.int32).wrap(P_UNARY)} {c_op} (uint32_t){self.cast(b, types.int32).wrap(P_UNARY)}"
        return E(f"(int32_t)({code})", types.int32, P_UNARY, rng=INT_LIMITS[types.int32])

    def _minmax(self, which, a: E, b: E, node) -> E:
        fn = builtins.max if which == "max" else builtins.min
        sig = self.resolve(fn, (a.ty, b.ty), node)
        r = unlit(sig.return_type)
        if a.const is not None and b.const is not None and is_int(r):
            v = fn(a.const, b.const)
            return E(c_int_literal(v), r, const=v, rng=(v, v))
        rng = None
        if is_int(r) and a.rng is not None and b.rng is not None:
            rng = (fn(a.rng[0], b.rng[0]), fn(a.rng[1], b.rng[1]))
            r = self.narrowed(r, rng if _fits(a.rng, types.int32) and _fits(b.rng, types.int32) else None)
        fname = f"tj_{which}_{SUFFIX[r]}"
        self.use_runtime(fname)
        return E(f"{fname}({self.cast(a, r).code}, {self.cast(b, r).code})", r, P_POSTFIX, rng=rng)

    def _callee(self, node) -> str:
        f = node.func
        if isinstance(f, ast.Name):
            return f.id
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            return f"{f.value.id}.{f.attr}"
        self.error(node, "a call of a computed function")

    def _resolve_callable(self, node, callee: str):
        if "." in callee:
            mod, attr = callee.split(".", 1)
            base = self.globals.get(mod)
            if base is None or not hasattr(base, attr):
                self.error(node, f"a call of {callee}")
            return getattr(base, attr)
        if callee in self.globals:
            return self.globals[callee]
        self.error(node, f"a call of {callee} (not a helper, primitive, or math function)")

    def _call_function(self, node, callee, disp):
        es = []
        arrays = []
        for a in node.args:
            if isinstance(a, ast.Name) and a.id in self.arrays:
                info = self.arrays[a.id]
                es.append(E(self.cname(a.id), types.Array(info.ty, len(info.shape), "C")))
                arrays.append(info)
            elif isinstance(a, ast.Subscript) and self._is_view(a):
                ptr, info = self.view(a)
                es.append(E(ptr, types.Array(info.ty, len(info.shape), "C"), P_ADD))
                arrays.append(info)
            else:
                es.append(self.expr(a))
                arrays.append(None)
        sig = self.resolve(disp, tuple(e.ty for e in es), node)
        r = unlit(sig.return_type)
        if _is_primitive(disp):
            name = _primitive_name(disp)
            proto = primitive_prototypes().get(name) or user_primitive_prototype(name)
            if proto is not None and len(proto[1]) == len(es) and all(
                    self._fits_param(e, t) for e, t in zip(es, proto[1])):
                ret, ptypes = proto
                if len(ptypes) != len(es):
                    self.error(node, f"primitive {name} with {len(es)} arguments (its C stub takes {len(ptypes)})")
                self.owner.primitives.add(name)
                code = f"{name}({', '.join(self.cast(e, t).code for e, t in zip(es, ptypes))})"
                if r == types.none:
                    return E(code, types.none, P_POSTFIX)
                if is_int(ret) and is_int(r) and ret.bitwidth <= r.bitwidth and (ret.signed or not r.signed):
                    return E(code, ret, P_POSTFIX, rng=INT_LIMITS[ret])     # widening: same value
                return self.cast(E(code, ret, P_POSTFIX), r)
        # a helper (or a primitive with no C stub): lowered from its Python source as a static inline function
        specs = []
        for a_node, e, info in zip(node.args, es, arrays):
            if info is not None:
                specs.append(ArgSpec("", info.ty, shape=info.shape,
                                     readonly=info.readonly, value_range=info.value_range))
            else:
                t = unlit(e.ty)
                rng = e.rng if is_int(t) and e.rng is not None else None
                specs.append(ArgSpec("", t, value_range=rng))
        hl = self.owner.helper(disp, specs, node, self)
        parts = []
        for a_node, e, sp, ct in zip(node.args, es, specs, hl.param_ctypes):
            if sp.is_array:
                parts.append(e.code)
            else:
                parts.append(self.cast(e, ct).code)
        code = f"{hl.c_name}({', '.join(parts)})"
        if hl.return_type is None:
            return E(code, types.none, P_POSTFIX)
        if isinstance(hl.return_type, types.BaseTuple):
            return E(code, hl.return_type, P_POSTFIX)
        return E(code, hl.return_ctype, P_POSTFIX, rng=hl.return_range if is_int(hl.return_ctype) else None)

    def _is_view(self, node) -> bool:
        if not (isinstance(node.value, ast.Name) and node.value.id in self.arrays):
            return False
        idx = node.slice
        items = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        return any(isinstance(i, ast.Slice) for i in items) or len(items) < len(self.arrays[node.value.id].shape)

    def _fits_param(self, e: E, t) -> bool:
        """Whether the C stub's parameter type holds every value this argument can take (else the
        Python definition is lowered instead: exact by construction)."""
        et = unlit(e.ty)
        if isinstance(et, types.Array):
            return False
        if is_int(t):
            if e.const is not None and not isinstance(e.const, bool):
                return INT_LIMITS[t][0] <= e.const <= INT_LIMITS[t][1]
            if is_int(et) and _fits((INT_LIMITS[et][0], INT_LIMITS[et][1]), t):
                return True
            return is_int(et) and _fits(e.rng, t)
        if is_float(t):
            return is_float(et) and et.bitwidth <= t.bitwidth or isinstance(e.ty, types.Literal)
        return et == t

    def use_runtime(self, fname):
        self.owner.runtime.add(fname)

    # interval analysis -------------------------------------------------------------------
    def _ranges(self, body):
        """Ranges of the integer locals: a fixed point over all assignments, with loop trip counts
        bounding accumulators (``v += e`` inside loops) instead of widening them to infinity."""
        self.loop_info = {}
        ints = {n for n in self.assign_counts if self.typemap_type(n) is not None and is_int(self.typemap_type(n))}
        ints -= set(self.consts)
        for n in ints:
            self.var_ranges.pop(n, None)
        for n, v in self.consts.items():
            if not isinstance(v, bool):
                self.var_ranges[n] = (v, v)
        for _ in range(12):
            before = dict(self.var_ranges)
            self._range_block(body, [], ints)
            if self.var_ranges == before:
                break
        else:
            for n in ints:
                if self.var_ranges.get(n) != before.get(n):
                    self.var_ranges[n] = None
        for n in ints:
            r = self.var_ranges.get(n)
            if r is not None and (math.isinf(r[0]) or math.isinf(r[1])):
                self.var_ranges[n] = None

    def _erange(self, node):
        """The range of an integer expression under the current variable ranges (None: unknown)."""
        v = self.const_value(node)
        if v is not None and not isinstance(v, bool):
            return (v, v)
        if isinstance(node, ast.Name):
            if node.id in self.var_ranges:
                return self.var_ranges[node.id]
            t = self.typemap_type(node.id)
            return INT_LIMITS.get(t) if t is not None and is_int(t) else None
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            return _rng_binop(BINOPS[type(node.op)][0], self._erange(node.left), self._erange(node.right))
        if isinstance(node, ast.UnaryOp):
            return self._unary_range({ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
                                     .get(type(node.op)), self._erange(node.operand)) if not isinstance(node.op, ast.Not) else (0, 1)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.arrays:
            return self._elem_range(node)
        if isinstance(node, ast.IfExp):
            c = self.const_value(node.test)
            if c is not None:
                return self._erange(node.body if c else node.orelse)
            return _rng_join(self._erange(node.body), self._erange(node.orelse)) \
                if self._erange(node.body) is not None and self._erange(node.orelse) is not None else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f = node.func.id
            rs = [self._erange(a) for a in node.args]
            if f in ("min", "max") and rs and all(r is not None for r in rs):
                pick = min if f == "min" else max
                return (pick(r[0] for r in rs), pick(r[1] for r in rs))
            if f == "abs" and len(rs) == 1 and rs[0] is not None:
                lo, hi = rs[0]
                return (0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
            if f in NP_CASTS or f == "int":
                return rs[0] if rs and rs[0] is not None else None
            if f in RANGE_PRIMITIVES:       # primitives whose result type bounds every value they give
                return INT_LIMITS[RANGE_PRIMITIVES[f]]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in NP_CASTS:
            t = NP_CASTS[node.func.attr]
            r = self._erange(node.args[0]) if node.args else None
            if is_int(t):
                return r if _fits(r, t) else INT_LIMITS[t]
        if isinstance(node, ast.Compare) or isinstance(node, ast.BoolOp):
            return (0, 1)
        return None

    def _trip(self, node):
        it = node.iter
        args = it.args
        rs = [self._erange(a) for a in args]
        if any(r is None for r in rs):
            return None, None
        if len(args) == 1:
            lo, hi, step = (0, 0), rs[0], (1, 1)
        else:
            lo, hi = rs[0], rs[1]
            step = rs[2] if len(args) == 3 else (1, 1)
        if step[0] != step[1]:
            return None, None
        s = step[0]
        if s > 0:
            var = (lo[0], hi[1] - 1)
            trips = max(0, math.ceil((hi[1] - lo[0]) / s))
        else:
            var = (hi[0] + 1, lo[1])
            trips = max(0, math.ceil((lo[1] - hi[0]) / -s))
        if var[0] > var[1]:
            var = None
        return var, trips

    def _range_block(self, stmts, loops, ints):
        for s in stmts:
            if isinstance(s, ast.For):
                var, trips = self._trip(s)
                name = s.target.id
                if name in ints:
                    self.var_ranges[name] = _rng_join(self.var_ranges.get(name), var) if var else FULL
                self._range_block(s.body, loops + [(s, trips)], ints)
            elif isinstance(s, ast.While):
                self._range_block(s.body, loops + [(s, None)], ints)
            elif isinstance(s, ast.If):
                self._range_block(s.body, loops, ints)
                self._range_block(s.orelse, loops, ints)
            elif isinstance(s, ast.Assign):
                for t in s.targets:
                    if isinstance(t, ast.Name) and t.id in ints:
                        self.var_ranges[t.id] = _rng_join(self.var_ranges.get(t.id), self._erange(s.value) or FULL)
                    elif isinstance(t, ast.Tuple):
                        for e in t.elts:
                            if isinstance(e, ast.Name) and e.id in ints:
                                self.var_ranges[e.id] = FULL
            elif isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name) and s.target.id in ints:
                name = s.target.id
                step = self._erange(s.value)
                fn = BINOPS[type(s.op)][0]
                bound = self._while_bound(name, loops) if fn is operator.add and step is not None and step[0] >= 0 else None
                base = self._reset_range(name) if bound is not None else None
                if bound is not None and base is not None:
                    # `while v < B: ... v += e` (e >= 0): v stays below B + e
                    self.var_ranges[name] = _rng_join(self.var_ranges.get(name), (base[0], max(base[1], bound + step[1])))
                elif fn in (operator.add, operator.sub) and step is not None:
                    n = self._trips_since_reset(name, loops)
                    if n is None:
                        self.var_ranges[name] = FULL
                    else:
                        init = self.var_ranges.get(name)
                        base = self._reset_range(name)
                        if base is None:
                            self.var_ranges[name] = FULL
                            continue
                        d = step if fn is operator.add else (-step[1], -step[0])
                        total = (min(0, d[0] * n), max(0, d[1] * n))
                        self.var_ranges[name] = _rng_join(init, (base[0] + total[0], base[1] + total[1]))
                else:
                    cur = self.var_ranges.get(name)
                    r = _rng_binop(fn, cur, step)
                    self.var_ranges[name] = _rng_join(cur, r) if r is not None else FULL

    def _while_bound(self, name, loops):
        """B - 1 (or B) when the innermost ``while`` around this point tests ``name < B`` (``<= B``)."""
        for loop, _ in reversed(loops):
            if isinstance(loop, ast.While):
                t = loop.test
                tests = t.values if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.And) else [t]
                for c in tests:
                    if (isinstance(c, ast.Compare) and len(c.ops) == 1 and isinstance(c.left, ast.Name)
                            and c.left.id == name and isinstance(c.ops[0], (ast.Lt, ast.LtE))):
                        r = self._erange(c.comparators[0])
                        if r is not None:
                            return r[1] - (1 if isinstance(c.ops[0], ast.Lt) else 0)
                return None
        return None

    def _reset_range(self, name):
        """Union of the ranges of the plain assignments of ``name``."""
        rng = None
        for node in ast.walk(self.fdef):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                r = self._erange(node.value)
                if r is None:
                    return None
                rng = _rng_join(rng, r)
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == name:
                return None
        if name in self.params and self.args is None:
            return None
        return rng

    def _trips_since_reset(self, name, loops):
        """How many times the loops around an accumulation can run between two plain assignments."""
        n = 1
        for loop, trips in reversed(loops):
            if _assigns_plain(loop.body, name):
                return n
            if trips is None:
                return None
            n *= trips
        return n


_CONST_DECL = re.compile(r"^\s*const [\w ]+? (\w+) = [^;]*;$")
_LOCAL_ARRAY_DECL = re.compile(r"^\s*\w+ (\w+)(\[\d+\])+;$")
_LITERAL_DECL = re.compile(r"^\s*\w+ (\w+) = -?\w+;$")      # a scalar initialized with a literal


def _subscripted_array(sub: ast.Subscript) -> str | None:
    """The array a subscript indexes: ``a`` in ``a[i]`` and in ``a.flat[i]``."""
    value = sub.value
    if isinstance(value, ast.Attribute) and value.attr == "flat":
        value = value.value
    return value.id if isinstance(value, ast.Name) else None


def _drop_unused_consts(lines: list) -> list:
    """Constants and local arrays whose every use folded away (shapes, parameters, the branches of
    a schedule constant) are not declared."""
    text = "\n".join(lines)
    out = []
    for line in lines:
        m = _CONST_DECL.match(line) or _LOCAL_ARRAY_DECL.match(line) or _LITERAL_DECL.match(line)
        if m and len(re.findall(rf"\b{re.escape(m.group(1))}\b", text)) == 1:
            continue
        out.append(line)
    return out


def _assigns_plain(stmts, name) -> bool:
    for node in ast.walk(ast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def _c_promote(t):
    t = unlit(t)
    if is_int(t) and t.bitwidth < 32:
        return types.int32
    if t == types.boolean:
        return types.int32
    return t


def _is_atom(code: str) -> bool:
    return re.fullmatch(r"[\w.\[\]]+(\([^()]*\))?", code) is not None


def _c_prec(code: str, node) -> int:
    if isinstance(node, ast.BoolOp):
        return P_LAND if isinstance(node.op, ast.And) else P_LOR
    if isinstance(node, ast.Compare):
        return P_REL if len(node.ops) == 1 else P_LAND
    return P_ATOM if _is_atom(code) else P_REL


def _without_effects(node, fl) -> bool:
    """Whether evaluating ``node`` can do nothing but give its value (no calls but pure builtins and casts)."""
    return all(fl._callee(n) in ("min", "max", "abs", "int") or fl._callee(n).removeprefix("np.") in NP_CASTS
               for n in ast.walk(node) if isinstance(n, ast.Call))


def _has_call(node) -> bool:
    return node is not None and any(isinstance(n, ast.Call) for n in ast.walk(node))


def _names_with_ctx(nodes, ctx) -> set:
    """Names read (ctx ast.Load) or written (ast.Store) in ``nodes``; ``x += ...`` does both."""
    out = set()
    for n in nodes:
        for sub in ast.walk(n):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ctx):
                out.add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                out.add(sub.target.id)
    return out


def _names_loaded(nodes) -> set:
    return _names_with_ctx(nodes, ast.Load)


def _names_loaded_fn(fl: FunctionLowering) -> set:
    cached = getattr(fl, "_loaded_cache", None)
    if cached is None:
        cached = fl._loaded_cache = _names_loaded(fl.fdef.body)
    return cached


def _strip_casts(node, fl):
    """``node`` without the integer widening casts around it (``np.int32(x[i])`` -> ``x[i]``)."""
    while (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
           and fl._callee(node) in ("int", "np.int16", "np.int32", "np.int64")):
        node = node.args[0]
    return node


def _assigned_names(stmts) -> set:
    return _names_with_ctx(stmts, ast.Store)


def _mac_statement(st, fl) -> tuple | None:
    """``acc += a * b`` (-> acc, the product, False) or ``acc = np.int32(acc + a * b)`` / ``wrap_int32(...)``
    (-> acc, the product, True: wrapped to int32 at every step, as SMLAD and VMLADAVA do)."""
    if (isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add) and isinstance(st.target, ast.Name)
            and isinstance(st.value, ast.BinOp) and isinstance(st.value.op, ast.Mult)):
        return st.target.id, st.value, False
    if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
        return None
    acc = st.targets[0].id
    v = st.value
    if not (isinstance(v, ast.Call) and len(v.args) == 1 and not v.keywords
            and fl._callee(v) in ("np.int32", "wrap_int32")):
        return None
    total = v.args[0]
    if not (isinstance(total, ast.BinOp) and isinstance(total.op, ast.Add)):
        return None
    for a, b in ((total.left, total.right), (total.right, total.left)):
        if isinstance(a, ast.Name) and a.id == acc and isinstance(b, ast.BinOp) and isinstance(b.op, ast.Mult):
            return acc, b, True
    return None


def _stale_loop_reads(fl: FunctionLowering) -> set:
    """Names read where their value can be what a finished ``for`` loop left (Python keeps the last
    value, C's loop variable is gone): reads that no plain assignment precedes since that loop."""
    cached = getattr(fl, "_stale_cache", None)
    if cached is not None:
        return cached
    loop_vars = {n.target.id for n in ast.walk(fl.fdef) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)}
    stale: set = set()

    def reads(node, fresh, bound):
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in loop_vars
                    and sub.id not in fresh and sub.id not in bound):
                stale.add(sub.id)

    def block(stmts, fresh, bound):
        fresh = set(fresh)
        for st in stmts:
            if isinstance(st, ast.For):
                reads(st.iter, fresh, bound)
                inner = bound | ({st.target.id} if isinstance(st.target, ast.Name) else set())
                block(st.body, fresh - _assigned_names(st.body), inner)
                if isinstance(st.target, ast.Name):
                    fresh.discard(st.target.id)            # from here on: the loop's leftover
                fresh -= {n for n in _assigned_names(st.body) if n in loop_vars and n not in bound}
            elif isinstance(st, ast.While):
                reads(st.test, fresh, bound)
                block(st.body, fresh - _assigned_names(st.body), bound)
                fresh -= _loop_bound_in(st.body)
            elif isinstance(st, ast.If):
                reads(st.test, fresh, bound)
                a = block(st.body, fresh, bound)
                b = block(st.orelse, fresh, bound)
                fresh = a & b
            else:
                if isinstance(st, ast.AugAssign):
                    reads(st.target, fresh, bound)
                reads(st, fresh, bound) if not isinstance(st, ast.Assign) else reads(st.value, fresh, bound)
                if isinstance(st, ast.Assign):
                    for t in st.targets:
                        if isinstance(t, ast.Subscript):
                            reads(t, fresh, bound)
                    fresh |= {n for n in _assigned_names([st]) if n not in bound}
        return fresh

    block(fl.fdef.body, set(fl.params), set())
    fl._stale_cache = stale
    return stale


def _loop_bound_in(stmts) -> set:
    return {n.target.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)}


def _declaration_plan(stmts, fl: FunctionLowering) -> dict:
    """For the statements of one block: which locals to declare before which statement.

    A local is declared in the innermost block that holds all its uses, right before the statement
    of its first use (merged with its first assignment when that assignment comes first). A local
    whose value may flow from one loop iteration to the next stays outside that loop.
    """
    plan: dict[int, list] = {}
    occurrences: dict[str, list] = {}
    for i, s in enumerate(stmts):
        for name in _names_in(s):
            occurrences.setdefault(name, []).append(i)
    loaded = _names_loaded_fn(fl)
    for name, idxs in occurrences.items():
        if name in fl.declared or name in fl.params or name in fl.loop_vars or name in fl.consts:
            continue
        if name in fl.arrays and not (fl.arrays[name].local or fl.arrays[name].view):
            continue
        if name not in fl.arrays and (name not in loaded or fl.typemap_type(name) is None):
            continue
        if _only_loop_target(fl, name):
            continue
        first = stmts[idxs[0]]
        if len(set(idxs)) == 1 and _has_sub_block(first) and not _carried(first, name):
            continue   # declared deeper
        plan.setdefault(id(first), []).append(name)
    return plan


def _first_is_def(stmt, name) -> bool:
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name and name not in _names_loaded([stmt.value]))


def _carried(stmt, name) -> bool:
    """Whether ``name``, all of whose uses are inside ``stmt``, must be declared before ``stmt``:
    its value may flow between iterations of a loop, or between the branches of an ``if``."""
    if isinstance(stmt, (ast.For, ast.While)):
        head = stmt.iter if isinstance(stmt, ast.For) else stmt.test
        if name in _names_in(head):
            return True
        branches = [stmt.body]
    elif isinstance(stmt, ast.If):
        if name in _names_in(stmt.test):
            return True
        branches = [b for b in (stmt.body, stmt.orelse) if any(name in _names_in(s) for s in b)]
        if len(branches) > 1:
            return True
    else:
        return True
    body = branches[0]
    occ = [i for i, s in enumerate(body) if name in _names_in(s)]
    if _first_is_def(body[occ[0]], name):
        return False
    if len(set(occ)) == 1 and _has_sub_block(body[occ[0]]):
        return _carried(body[occ[0]], name)
    return True


def _has_sub_block(stmt) -> bool:
    return isinstance(stmt, (ast.For, ast.While, ast.If))


def _only_loop_target(fl, name) -> bool:
    stored_elsewhere = False
    is_target = False
    for node in ast.walk(fl.fdef):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == name:
            is_target = True
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Store):
                        stored_elsewhere = True
                if isinstance(node, ast.AugAssign) and isinstance(t, ast.Name) and t.id == name:
                    stored_elsewhere = True
    return is_target and not stored_elsewhere


def _names_in(stmt) -> set:
    out = set()
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
    return out


class _Pruner:
    """Drops the branches of ``if``s whose test is known at export time (readable, and tighter ranges)."""

    def __init__(self, fl: FunctionLowering):
        self.fl = fl

    def prune(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, ast.If):
                c = self.fl.const_value(s.test)
                if c is not None:
                    out.extend(self.prune(s.body if c else s.orelse))
                    continue
                s = ast.copy_location(ast.If(test=s.test, body=self.prune(s.body) or [ast.Pass()],
                                             orelse=self.prune(s.orelse)), s)
            elif isinstance(s, (ast.For, ast.While)):
                new = type(s)(**{f: getattr(s, f) for f in s._fields})
                new.body = self.prune(s.body) or [ast.Pass()]
                s = ast.copy_location(new, s)
            out.append(s)
        return out


# ---------------------------------------------------------------------------------------------
# kernels

_SUBSET_NODES = (
    ast.FunctionDef, ast.arguments, ast.arg, ast.For, ast.While, ast.If, ast.Break, ast.Continue, ast.Pass,
    ast.Return, ast.Assign, ast.AugAssign, ast.Expr, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Call, ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.keyword,
    ast.Load, ast.Store, ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context)


def check_subset(fdef, file: str, line0: int, name: str) -> None:
    """The first construct outside the kernel subset, by file and line (before Numba sees it)."""
    for node in ast.walk(fdef):
        if not isinstance(node, _SUBSET_NODES):
            line = line0 + getattr(node, "lineno", 1) - 1
            raise LoweringError(f"{file}:{line}: a {type(node).__name__} is outside the kernel subset the C "
                                f"lowering supports (in {name})")


def _numba_message(ex) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", str(ex)).strip().splitlines()[0]


def numba_arg_type(spec: ArgSpec):
    dt = spec.dtype if isinstance(spec.dtype, types.Type) else nb_dtype(spec.dtype)
    if spec.is_array:
        return types.Array(dt, max(len(spec.shape), 1), "C")
    return dt


_TYPEMAPS: dict = {}


def _typemap(pyfunc, argtys) -> dict:
    """Numba's typemap and return type of ``pyfunc`` compiled for ``argtys`` (cached per source)."""
    try:
        src = inspect.getsource(pyfunc)
    except (OSError, TypeError):
        src = repr(pyfunc)
    key = (pyfunc.__module__, pyfunc.__qualname__, src, tuple(argtys))
    if key not in _TYPEMAPS:
        _TYPEMAPS[key] = _compile_typemap(pyfunc, argtys)
    return _TYPEMAPS[key]


def _compile_typemap(pyfunc, argtys):
    """Numba's frontend and type inference only (no LLVM): the IR is not in SSA form, so each
    name has one type, unified over its assignments as Numba's phi nodes would be."""
    from numba.core import compiler, typed_passes
    from numba.core.registry import cpu_target
    func_ir = compiler.run_frontend(pyfunc)
    result = typed_passes.type_inference_stage(typing_context(), cpu_target.target_context,
                                               func_ir, tuple(argtys), None)
    return dict(result.typemap), result.return_type


def _source_position(fn) -> tuple[str, int]:
    try:
        lines, start = inspect.getsourcelines(fn)
        return inspect.getsourcefile(fn) or "<kernel>", start
    except (OSError, TypeError):
        return "<kernel>", 1


class KernelLowering:
    """Lowers specialized kernel calls to C; helpers are shared between the calls lowered by one instance.

    ``narrow``: on targets whose native word is 32 bits, compute Numba's int64 in int32 wherever
    the interval analysis proves the values fit (the result is the same; the code is 2-4x smaller).
    """

    def __init__(self, narrow: bool = False):
        self.narrow = narrow
        self.helpers: dict[tuple, object] = {}    # specialization key -> FunctionLowering
        self.helper_defs: dict[str, str] = {}     # C name -> definition, callees first
        self.tuple_types: dict[str, str] = {}     # C struct name -> typedef
        self.runtime: set[str] = set()
        self.primitives: set[str] = set()
        self.libm = False
        self._names: dict[str, int] = {}
        self._in_progress: set = set()
        self.origins: dict[str, object] = {}      # name in the generated module -> original function

    def lower_call(self, k: kernel_registry.Kernel, schedule: dict, args: list[ArgSpec], c_name: str) -> str:
        """The C definition of kernel ``k`` specialized to one call: ``static void c_name(pointers...)``."""
        fdef = codegen.specialized_ast(k, schedule, k.fn.__name__)
        disp = codegen.load_kernel(k, schedule)
        argtys = [numba_arg_type(a) for a in args]
        file, line0 = _source_position(k.fn)
        check_subset(fdef, file, line0, k.name)
        self.origins.update({name: fn for name, fn in k.helpers})
        try:
            typemap, _ = _typemap(disp.py_func, argtys)
        except (numba.core.errors.NumbaError, TypeError) as ex:
            raise LoweringError(f"{file}:{line0}: kernel {k.name} does not compile with Numba for "
                                f"{[str(t) for t in argtys]}: {_numba_message(ex)}") from None
        fl = FunctionLowering(fdef, disp.py_func, typemap, argtys, c_name=c_name, file=file, line0=line0,
                              module_globals=disp.py_func.__globals__, args=args, narrow=self.narrow, owner=self)
        return fl.lower()

    def tuple_type(self, t) -> str:
        elems = [unlit(e) for e in t]
        name = "tj_tuple_" + "_".join(SUFFIX[e] for e in elems)
        if name not in self.tuple_types:
            fields = " ".join(f"{ctype(e)} v{i};" for i, e in enumerate(elems))
            self.tuple_types[name] = f"typedef struct {{ {fields} }} {name};"
        return name

    def helper(self, disp, args: list, node, caller: FunctionLowering):
        """A helper (or a primitive with no C stub) lowered for the call's argument types, array
        shapes and value ranges; returns its FunctionLowering (C name, parameter and return types)."""
        py = disp.py_func
        argtys = tuple(numba_arg_type(a) for a in args)
        key = (py, argtys, tuple((a.shape, a.value_range, a.readonly) for a in args))
        if key in self.helpers:
            return self.helpers[key]
        if key in self._in_progress:
            caller.error(node, f"recursive call of {py.__name__}")
        self._in_progress.add(key)
        origin = self.origins.get(py.__name__, py)
        file, line0 = _source_position(origin)
        import textwrap
        try:
            fdef = ast.parse(textwrap.dedent(inspect.getsource(origin))).body[0]
        except (OSError, TypeError):
            caller.error(node, f"{py.__name__} (no Python source: an intrinsic needs a C stub in asm_stubs/generic.h)")
        fdef.decorator_list = []
        check_subset(fdef, file, line0, py.__name__)
        try:
            typemap, ret = _typemap(py, argtys)
        except (numba.core.errors.NumbaError, TypeError) as ex:
            caller.error(node, f"helper {py.__name__} for {[str(t) for t in argtys]} ({_numba_message(ex)})")
        base = f"{py.__name__}_{'_'.join(SUFFIX.get(unlit(t), 'a') for t in argtys)}" if argtys else py.__name__
        n = self._names.get(base, 0)
        self._names[base] = n + 1
        ret = unlit(ret)
        fl = FunctionLowering(fdef, py, typemap, list(argtys), c_name=base if n == 0 else f"{base}_{n}", file=file,
                              line0=line0, module_globals=py.__globals__, args=list(args),
                              return_type=None if ret == types.none else ret, narrow=self.narrow, owner=self,
                              is_helper=True)
        text = fl.lower()
        self._in_progress.discard(key)
        self.helpers[key] = fl
        self.helper_defs[fl.c_name] = text
        return fl

    def support_code(self) -> str:
        """Tuple types and helper definitions the lowered kernels need (before the kernels)."""
        return "\n".join(list(self.tuple_types.values()) + [""] + list(self.helper_defs.values()))


# ---------------------------------------------------------------------------------------------
# the runtime header: Python semantics C lacks (generated with only what the kernels use)

def runtime_function(name: str) -> str:
    m = re.fullmatch(r"tj_(floordiv|mod|min|max|abs|powi)_(\w+)", name)
    if not m:
        raise KeyError(name)
    kind, suf = m.groups()
    t = {v: k for k, v in SUFFIX.items()}[suf]
    c = ctype(t)
    if kind == "min":
        return f"static inline {c} {name}({c} a, {c} b) {{ return b < a ? b : a; }}   /* Python's min(a, b) */"
    if kind == "max":
        return f"static inline {c} {name}({c} a, {c} b) {{ return b > a ? b : a; }}   /* Python's max(a, b) */"
    if kind == "abs":
        return f"static inline {c} {name}({c} x) {{ return ({c})(x < 0 ? -x : x); }}"
    if kind == "floordiv":
        if is_float(t):
            f = "f" if t == types.float32 else ""
            return (f"static inline {c} {name}({c} a, {c} b)   /* Python's a // b */\n{{\n"
                    f"    {c} mod = fmod{f}(a, b);\n    {c} div = (a - mod) / b;\n"
                    f"    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;\n"
                    f"    if (div != 0) {{ {c} fl = floor{f}(div); if (div - fl > ({c})0.5) fl += 1; return fl; }}\n"
                    f"    return copysign{f}(0, a / b);\n}}")
        if not t.signed:
            return f"static inline {c} {name}({c} a, {c} b) {{ return a / b; }}"
        return (f"static inline {c} {name}({c} a, {c} b)   /* Python's a // b: rounds toward -inf */\n{{\n"
                f"    {c} q = a / b, r = a % b;\n    return (r != 0 && ((r ^ b) < 0)) ? q - 1 : q;\n}}")
    if kind == "mod":
        if is_float(t):
            f = "f" if t == types.float32 else ""
            return (f"static inline {c} {name}({c} a, {c} b)   /* Python's a % b */\n{{\n"
                    f"    {c} mod = fmod{f}(a, b);\n"
                    f"    if (mod != 0) {{ if ((b < 0) != (mod < 0)) mod += b; }} else mod = copysign{f}(0, b);\n"
                    f"    return mod;\n}}")
        if not t.signed:
            return f"static inline {c} {name}({c} a, {c} b) {{ return a % b; }}"
        return (f"static inline {c} {name}({c} a, {c} b)   /* Python's a % b: the sign of b */\n{{\n"
                f"    {c} r = a % b;\n    return (r != 0 && ((r ^ b) < 0)) ? r + b : r;\n}}")
    if kind == "powi":
        return (f"static inline {c} {name}({c} a, int64_t b)   /* Numba's a ** b for an integer b */\n{{\n"
                f"    {c} r = 1;\n    if (b < 0) {{ a = 1 / a; b = -b; }}\n"
                f"    for (;;) {{ if (b & 1) r *= a; b >>= 1; if (!b) break; a *= a; }}\n    return r;\n}}")
    raise KeyError(name)


def runtime_header(names) -> str:
    body = "\n".join(runtime_function(n) for n in sorted(names))
    return ("/* tinyjit runtime: Python semantics that C lacks (floor division, Python's min/max). Generated. */\n"
            "#ifndef TINYJIT_RUNTIME_H\n#define TINYJIT_RUNTIME_H\n#include <stdbool.h>\n#include <stdint.h>\n"
            "#include <math.h>\n\n" + body + "\n\n#endif\n")
