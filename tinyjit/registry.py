"""The kernel registry: built-in kernels (kernels/) and users' kernels register the same way.

A kernel is a plain function written in the kernel subset (../DESIGN.md): loops, scalar
arithmetic, array indexing, min/max and primitives. Its schedule knobs are UPPERCASE names the
body uses as constants; ``schedule={"OC_TILE": (8, 4, 16)}`` lists the allowed values, the
first being the default. A kernel is never called directly from Python: the executor pastes
its source, with the schedule constants substituted, into one generated module that Numba
compiles (tinyjit/codegen.py).

Each kernel has a *prepare* function (TFLM's split): run once at convert time, it maps an IR
node to the kernel's call, packs weights, and counts MACs. It may use numpy freely.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import TinyJitError


@dataclass
class Call:
    """What prepare returns: the kernel's arguments in order.

    ``args`` are tensor names of the graph or new constant arrays (packed weights);
    ``scratch`` are (dtype, shape) temporaries appended after args; ``params`` are scalar
    int/float arguments appended last.
    """
    args: list
    params: list = field(default_factory=list)
    scratch: list = field(default_factory=list)
    macs: int = 0
    inplace: bool = False  # output 0 may share the memory of input 0 (elementwise, read-before-write)


class Kernel:
    def __init__(self, fn: Callable, op: str, dtypes: tuple[str, ...], schedule: dict, domain: str,
                 name: str | None = None, body: Callable | None = None):
        self.fn = body or fn          # the loop nest that is compiled
        self.name = name or fn.__name__
        self.op = op
        self.domain = domain
        self.dtypes = tuple(dtypes)
        self.schedule_space = {k: tuple(v) for k, v in (schedule or {}).items()}
        self._prepare = None
        self.shape_fn = None
        self.reference_fn = None
        self.helpers: list[tuple[str, Callable]] = []   # (name in the kernel, function)
        self.module = inspect.getmodule(fn)

    # decorators -----------------------------------------------------------------------
    def prepare(self, fn):
        self._prepare = fn
        return fn

    def shape(self, fn):
        self.shape_fn = fn
        return fn

    def reference(self, fn):
        self.reference_fn = fn
        return fn

    def uses(self, *helpers):
        """Kernel-subset helper functions this kernel calls (pasted along with it)."""
        self.helpers.extend((h.__name__, h) for h in helpers)
        return self

    def bind(self, name: str, helper: Callable):
        """Paste ``helper`` under ``name``: how one shared loop serves many ops."""
        self.helpers.append((name, helper))
        return self

    # ----------------------------------------------------------------------------------
    def default_schedule(self) -> dict:
        return {k: v[0] for k, v in self.schedule_space.items()}

    # the user-kernel convention: def k(x, y, q, S) — tensors, then quantization params, then schedule
    @property
    def tensor_params(self) -> list[str]:
        return [a for a in inspect.signature(self.fn).parameters if a not in ("q", "S")]

    @property
    def takes_quant(self) -> bool:
        return "q" in inspect.signature(self.fn).parameters

    @property
    def parameters(self) -> list[str]:
        """The compiled kernel's parameters: tensors and scalars, then the expanded ``q`` fields."""
        return self.tensor_params + [f"q_{f}" for f in self.quant_fields()]

    def quant_fields(self) -> list[str]:
        """``q.x_scale`` etc.: one scale and zero point per tensor parameter, passed as scalars."""
        return [f"{t}_{f}" for t in self.tensor_params for f in ("scale", "zero_point")] if self.takes_quant else []

    def call(self, node, graph, schedule: dict) -> Call:
        if self._prepare is not None:
            return self._prepare(node, graph, schedule)
        return self._default_call(node, graph)

    def _default_call(self, node, graph) -> Call:
        """No prepare: the node's inputs then outputs fill the tensor parameters in order."""
        names = [n for n in node.inputs if n] + [n for n in node.outputs if n]
        if len(names) != len(self.tensor_params):
            raise TinyJitError(f"kernel {self.name} takes {len(self.tensor_params)} tensors "
                               f"({', '.join(self.tensor_params)}) but node {node.name} has {len(names)}; "
                               f"give it a prepare function")
        params = []
        if self.takes_quant:
            for name in names:
                quant = graph.tensors[name].quant
                params += [float(quant.scale.flat[0]), int(quant.zero_point.flat[0])] if quant else [1.0, 0]
        out = graph.tensors[node.outputs[0]]
        return Call(names, params, macs=out.size)

    def __repr__(self):
        return f"<kernel {self.name} for {self.domain or 'ai.onnx'}::{self.op} {self.dtypes}>"


_REGISTRY: dict[tuple[str, str, str], Kernel] = {}
_BY_NAME: dict[str, Kernel] = {}
_loaded = False


def kernel(op: str, dtypes=("float32",), schedule: dict | None = None, domain: str = "",
           override: bool = False, name: str | None = None, body: Callable | None = None):
    """Register a kernel for ``op`` on the given input dtypes."""
    def register(fn):
        k = Kernel(fn, op, dtypes, schedule, domain, name, body)
        for dt in k.dtypes:
            key = (domain, op, np.dtype(dt).name)
            old = _REGISTRY.get(key)
            if old is not None and not override and old.name != k.name:
                raise TinyJitError(f"two kernels for {domain or 'ai.onnx'}::{op} {dt}: {old.name} and "
                                   f"{k.name}; pass override=True to replace the first")
            _REGISTRY[key] = k
        _BY_NAME[k.name] = k
        return k
    return register


@dataclass
class Primitive:
    """A user's primitive: its Python definition (the semantic reference; Numba inlines it into the
    kernels that call it) and its C definitions in a folder of stub headers named as asm_stubs/ is,
    one per ISA (``armv7em_dsp.h``, ...) plus the portable ``generic.h`` (tinyjit/primitive_stubs.py)."""
    name: str
    fn: Callable                # the Numba dispatcher kernels call
    stubs: Path                 # the folder of the C headers
    file: Path                  # where the Python definition is
    domain: dict = field(default_factory=dict)   # parameter -> (lo, hi): the operands it is meant for

    def source_digest(self) -> str:
        """Changes with the file of the definition (and so with anything there it calls)."""
        return hashlib.sha256(self.file.read_bytes()).hexdigest()[:20]


_PRIMITIVES: dict[str, Primitive] = {}


def primitive(fn: Callable | None = None, *, stubs: str = "stubs", domain: dict | None = None):
    """Register a primitive: ``@tinyjit.primitive`` over its Python definition, C definitions in
    ``stubs`` (a folder, relative to the defining file). ``domain={"shift": (0, 31)}`` bounds the
    operands the equivalence check feeds a parameter (default: every value of its C type)."""
    def register(f):
        import numba
        from tinyjit.kernels import primitives as builtin
        name = f.__name__
        file = Path(inspect.getsourcefile(f)).resolve()
        if hasattr(builtin, name):
            raise TinyJitError(f"{file}: primitive {name} has the name of a built-in primitive "
                               f"(kernels/primitives.py); choose another")
        old = _PRIMITIVES.get(name)
        if old is not None and old.file != file:
            raise TinyJitError(f"two primitives named {name}: in {old.file} and {file}")
        dispatcher = numba.njit(cache=True, nogil=True, inline="always")(f)
        _PRIMITIVES[name] = Primitive(name, dispatcher, file.parent / stubs, file, dict(domain or {}))
        return dispatcher
    return register(fn) if fn is not None else register


def user_primitives() -> dict[str, Primitive]:
    return dict(_PRIMITIVES)


def load_kernels(path) -> list[Kernel]:
    """Import a user kernel file, or every .py file in a folder; returns the kernels they register."""
    return load_user_code(path)[0]


def load_user_code(path) -> tuple[list[Kernel], list[Primitive]]:
    """Import a user kernel file, or every .py file in a folder; returns the kernels and the
    primitives they register."""
    import importlib.util
    load_builtin()
    path = Path(path)
    files = sorted(path.glob("*.py")) if path.is_dir() else [path]
    if not path.exists() or not files:
        raise TinyJitError(f"{path}: no kernel files (.py) there")
    before = set(_BY_NAME)
    for f in files:
        modname = "tinyjit_user_" + hashlib.sha256(str(f.resolve()).encode()).hexdigest()[:12] + "_" + f.stem
        if modname in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(modname, f)
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except TinyJitError:
            raise
        except Exception as e:
            del sys.modules[modname]
            raise TinyJitError(f"{f}: could not load kernels: {type(e).__name__}: {e}") from None
    resolved = {f.resolve() for f in files}
    return ([_BY_NAME[n] for n in _BY_NAME if n not in before],
            [p for p in _PRIMITIVES.values() if p.file in resolved])


def load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    import tinyjit.kernels as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"tinyjit.kernels.{info.name}")
    _loaded = True


def find(op: str, dtype, domain: str = "") -> Kernel | None:
    load_builtin()
    return _REGISTRY.get((domain, op, np.dtype(dtype).name))


def by_name(name: str) -> Kernel:
    load_builtin()
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TinyJitError(f"no kernel named {name!r} is registered") from None


def supported_ops(domain: str = "") -> set[str]:
    load_builtin()
    return {op for (d, op, _) in _REGISTRY if d == domain}


def registered() -> list[Kernel]:
    load_builtin()
    return list(_BY_NAME.values())
