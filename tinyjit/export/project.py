"""Writes the C project of a plan: `tinyjit export model.tjm --target cortex-m4 -o out/`.

    out/
      model.h  model.c       the API (init, run, input/output pointers, shapes, quantization) and
                             the plan as straight-line kernel calls on one static arena
      kernels.c kernels.h    every kernel call lowered to C (tinyjit/export/lower.py)
      weights.c weights.h    the constants as const aligned arrays (flash)
      tinyjit_runtime.h      Python semantics C lacks (floor division, Python's min/max)
      <isa>.h generic.h      the target's asm-stub header and the portable primitives
      main.c tj_platform.h platform_*.c startup_* link.ld
                             the emulator harness (semihosting I/O, instruction counter)
      Makefile CMakeLists.txt
      tinyjit.json model.tjm what `tinyjit verify` needs

The directory is written next to its destination and renamed into place: an error leaves no
half project behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from .. import format as tjm
from .. import registry as kernel_registry
from .. import targets as target_db
from ..errors import TinyJitError, UnsupportedError
from . import lower

MARKER = "tinyjit.json"
TEMPLATE_FILES = ("tj_platform.h", "main.c")
OPT_FLAGS = ("-O2",)
WARN_FLAGS = ("-Wall", "-Wextra", "-Werror")
COMMON_FLAGS = ("-std=c11", "-ffunction-sections", "-fdata-sections", "-fno-strict-aliasing")
STACK_BYTES = 64 << 10
TICK_NS_PPM = {"mps2-an386": 40_000_000, "mps2-an500": 40_000_000, "mps3-an547": 31_250_000}


def template(name: str) -> str:
    return resources.files("tinyjit.export").joinpath("templates", name).read_text()


def stub_text(name: str) -> str:
    return lower.stubs_dir().joinpath(name).read_text()


def stub_closure(name: str) -> list[str]:
    """The stub header and the asm_stubs headers it includes."""
    todo, seen = [name], []
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.append(n)
        todo += re.findall(r'#include "([\w.]+\.h)"', stub_text(n))
    return seen


def c_ident(name: str, prefix: str = "") -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "t"
    s = re.sub(r"_+", "_", s)
    if s[0].isdigit():
        s = "t_" + s
    return (prefix + s)[:48]


# ---------------------------------------------------------------------------------------------
# lowering the plan

def step_args(plan, step, k) -> list[lower.ArgSpec]:
    """The ArgSpecs of one step: its tensors (shapes, flash or arena) and its constant parameters."""
    names = k.parameters
    if len(names) != len(step.args) + len(step.params):
        raise TinyJitError(f"step {step.node}: kernel {k.name} takes {len(names)} arguments, the plan passes "
                           f"{len(step.args) + len(step.params)}")
    specs = []
    for name, tid in zip(names, step.args):
        t = plan.tensors[tid]
        rng = None
        if t.location == "weights" and np.dtype(t.dtype).kind in "iub" and t.nbytes:
            data = _weight_array(plan, t)
            rng = (int(data.min()), int(data.max()))
        specs.append(lower.ArgSpec(name, t.dtype, tuple(t.shape) or (1,), readonly=t.location == "weights",
                                   value_range=rng))
    for name, p in zip(names[len(step.args):], step.params):
        if isinstance(p, bool) or isinstance(p, (int, np.integer)):
            specs.append(lower.ArgSpec(name, "int64", value=int(p)))
        else:
            specs.append(lower.ArgSpec(name, "float64", value=float(p)))
    return specs


def _weight_array(plan, t) -> np.ndarray:
    raw = plan.weights[t.offset:t.offset + t.nbytes]
    return np.frombuffer(raw.tobytes(), dtype=np.dtype(t.dtype))


class LoweredPlan:
    """Every step of a plan lowered to C, identical specializations shared."""

    def __init__(self, plan, target: target_db.Target):
        self.plan = plan
        self.kl = lower.KernelLowering(narrow=target.word_bits == 32)
        self.functions: list[str] = []          # C definitions, in order
        self.step_function: list[str] = []      # C function called by each step
        by_text: dict[str, str] = {}
        counters: dict[str, int] = {}
        errors: dict[str, list] = {}
        for step in plan.steps:
            k = kernel_registry.by_name(step.kernel)
            base = c_ident(step.kernel)
            n = counters.get(base, 0)
            name = f"{base}_{n}"
            try:
                text = self.kl.lower_call(k, step.schedule, step_args(plan, step, k), name)
            except UnsupportedError as e:
                errors.setdefault(f"{step.op} (kernel {step.kernel})", []).append((step.node, str(e)))
                self.step_function.append("")
                continue
            key = text.replace(name + "(", "@(", 1)
            if key in by_text:
                self.step_function.append(by_text[key])
                continue
            counters[base] = n + 1
            by_text[key] = name
            self.functions.append(f"/* {step.op} {step.kernel}, schedule {step.schedule or '{}'} */\n"
                                  + text.replace("static void", "void", 1))
            self.step_function.append(name)
        if errors:
            parts = [f"{op} in node(s) {', '.join(n for n, _ in v)}: {v[0][1]}" for op, v in sorted(errors.items())]
            raise UnsupportedError("no C lowering for " + "; ".join(parts))
        from .. import primitive_stubs      # users' primitives: their stub headers for this target
        self.user_includes, self.user_headers = primitive_stubs.project_headers(self.kl.primitives, target)


# ---------------------------------------------------------------------------------------------
# files

def _c_array_values(data: np.ndarray) -> str:
    flat = data.reshape(-1)
    if flat.dtype.kind == "f":
        if flat.dtype == np.float32:
            body = np.char.add(np.char.mod("%.9g", flat.astype(np.float64)), "f")
        else:
            body = np.char.mod("%.17g", flat)
        bad = ~np.isfinite(flat)
        if bad.any():
            body = body.astype(object)
            for i in np.flatnonzero(bad):
                v = flat[i]
                body[i] = "NAN" if np.isnan(v) else ("INFINITY" if v > 0 else "-INFINITY")
        # "1f" is not C: floats without a point or exponent get ".0"
        items = [s if ("." in s or "e" in s or "N" in s) else s.replace("f", ".0f") if s.endswith("f") else s + ".0"
                 for s in body.tolist()]
    elif flat.dtype == np.bool_:
        items = ["1" if v else "0" for v in flat.tolist()]
    else:
        items = [str(v) for v in flat.tolist()]
        if flat.dtype == np.int64:
            items = [f"INT64_C({v})" if not (-2**31 < int(v) < 2**31) else v for v in items]
        elif flat.dtype == np.int32:
            items = ["(-2147483647 - 1)" if v == "-2147483648" else v for v in items]
        elif flat.dtype.kind == "u":
            items = [v + "u" for v in items]
    per_line = 16
    lines = ["    " + ", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]
    return "\n".join(lines)


def _ctype(dtype: str) -> str:
    return lower.ctype(lower.nb_dtype(dtype))


class Writer:
    def __init__(self, plan, target: target_db.Target, tjm_bytes: bytes, prefix: str = "model"):
        self.plan = plan
        self.target = target
        self.tjm_bytes = tjm_bytes
        self.lp = LoweredPlan(plan, target)
        self.names = self._tensor_names()

    def _tensor_names(self) -> dict[int, str]:
        names, used = {}, set()
        for i, t in enumerate(self.plan.tensors):
            base = c_ident(t.name, "w_" if t.location == "weights" else "t_")
            name = base if base not in used else f"{base}_{i}"
            used.add(name)
            names[i] = name
        return names

    # weights ---------------------------------------------------------------------------
    def weights_files(self) -> tuple[str, str]:
        plan = self.plan
        decls, defs = [], []
        emitted: dict[tuple, str] = {}
        for i, t in enumerate(plan.tensors):
            if t.location != "weights" or not self._used(i):
                continue
            key = (t.offset, t.nbytes, t.dtype)
            if key in emitted:
                continue
            emitted[key] = self.names[i]
            ct = _ctype(t.dtype)
            n = max(int(np.prod(t.shape, dtype=np.int64)), 1)
            data = _weight_array(plan, t) if t.nbytes else np.zeros(1, np.dtype(t.dtype))
            decls.append(f"extern const {ct} {self.names[i]}[{n}];   /* {t.name} {list(t.shape)} */")
            defs.append(f"/* {t.name} {t.dtype}{list(t.shape)} */\n"
                        f"const {ct} {self.names[i]}[{n}] __attribute__((aligned(16))) = {{\n"
                        f"{_c_array_values(data)}\n}};\n")
        self.weight_alias = emitted
        header = ("/* The model's constants (weights, biases, packed as the kernels' schedules want them).\n"
                  " * Generated by tinyjit export. */\n#ifndef MODEL_WEIGHTS_H\n#define MODEL_WEIGHTS_H\n"
                  "#include <stdbool.h>\n#include <stdint.h>\n\n" + "\n".join(decls) + "\n\n#endif\n")
        source = ("/* Generated by tinyjit export: const arrays, placed in flash. */\n#include <math.h>\n"
                  "#include \"weights.h\"\n\n" + "\n".join(defs))
        return header, source

    def _used(self, tid: int) -> bool:
        return any(tid in s.args for s in self.plan.steps) or tid in self.plan.outputs

    # kernels ---------------------------------------------------------------------------
    def kernels_files(self) -> tuple[str, str]:
        kl = self.lp.kl
        protos = []
        for f in self.lp.functions:
            head = next(line for line in f.splitlines() if line.startswith("void "))
            protos.append(head + ";")
        header = ("/* Every kernel call of the model, lowered from the kernels in kernels/. Generated by tinyjit export. */\n"
                  "#ifndef MODEL_KERNELS_H\n#define MODEL_KERNELS_H\n#include <stdbool.h>\n#include <stdint.h>\n\n"
                  + "\n".join(protos) + "\n\n#endif\n")
        source = (f"/* The kernels of this model, lowered from the same Python source Numba compiles, with each\n"
                  f" * call's shapes and parameters as constants. Generated by tinyjit export for {self.target.name}. */\n"
                  f"#include <math.h>\n#include <stdbool.h>\n#include <stdint.h>\n\n"
                  f"#include \"{self.target.stub}\"\n" + "".join(f"#include \"{h}\"\n" for h in self.lp.user_includes)
                  + "#include \"tinyjit_runtime.h\"\n#include \"kernels.h\"\n\n"
                  + kl.support_code() + "\n" + "\n".join(self.lp.functions))
        return header, source

    # model -----------------------------------------------------------------------------
    def tensor_info(self, tid: int) -> dict:
        t = self.plan.tensors[tid]
        q = t.quant
        scale = float(np.asarray(q.scale).reshape(-1)[0]) if q is not None and np.asarray(q.scale).size else 0.0
        zp = int(np.asarray(q.zero_point).reshape(-1)[0]) if q is not None and np.asarray(q.zero_point).size else 0
        return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "bytes": int(t.nbytes),
                "offset": int(t.offset), "scale": scale, "zero_point": zp}

    def model_files(self) -> tuple[str, str]:
        plan = self.plan
        ins = [self.tensor_info(i) for i in plan.inputs]
        outs = [self.tensor_info(i) for i in plan.outputs]
        h = [f"/* {plan.name}: the model's C API. Generated by tinyjit export for {self.target.name}.",
             " *",
             " *   model_init();                          once",
             " *   memcpy(model_input(0), x, MODEL_INPUT0_BYTES);",
             " *   model_run();                           one inference, no allocation, no I/O",
             " *   y = model_output(0);                   valid until the next model_run()",
             " */",
             "#ifndef MODEL_H", "#define MODEL_H", "#include <stddef.h>", "#include <stdint.h>", "",
             "typedef enum { MODEL_FLOAT32, MODEL_INT8, MODEL_UINT8, MODEL_INT16, MODEL_INT32, MODEL_INT64,",
             "               MODEL_BOOL, MODEL_OTHER } model_dtype;",
             "typedef struct {",
             "    const char *name;",
             "    model_dtype dtype;",
             "    int rank;",
             "    int32_t shape[8];",
             "    uint32_t bytes;",
             "    float scale;          /* quantization: real = scale * (q - zero_point); 0 when not quantized */",
             "    int32_t zero_point;",
             "} model_tensor_info;", "",
             f"#define MODEL_NUM_INPUTS {len(ins)}", f"#define MODEL_NUM_OUTPUTS {len(outs)}",
             f"#define MODEL_ARENA_BYTES {max(plan.arena_bytes, 1)}",
             f"#define MODEL_WEIGHTS_BYTES {plan.weights_bytes}"]
        for kind, infos in (("INPUT", ins), ("OUTPUT", outs)):
            for j, info in enumerate(infos):
                h.append(f"#define MODEL_{kind}{j}_BYTES {info['bytes']}   /* {info['name']} "
                         f"{info['dtype']}{info['shape']} */")
                if info["scale"]:
                    h.append(f"#define MODEL_{kind}{j}_SCALE {lower.c_float_literal(info['scale'], lower.types.float32)}")
                    h.append(f"#define MODEL_{kind}{j}_ZERO_POINT {info['zero_point']}")
        h += ["", "void model_init(void);", "void model_run(void);",
              "void *model_input(int i);", "const void *model_output(int i);",
              "const model_tensor_info *model_input_info(int i);",
              "const model_tensor_info *model_output_info(int i);", "", "#endif", ""]

        dtypes = {"float32": "MODEL_FLOAT32", "int8": "MODEL_INT8", "uint8": "MODEL_UINT8", "int16": "MODEL_INT16",
                  "int32": "MODEL_INT32", "int64": "MODEL_INT64", "bool": "MODEL_BOOL"}

        def info_c(info):
            shape = ", ".join(str(d) for d in info["shape"]) or "1"
            return (f"    {{\"{_c_string(info['name'])}\", {dtypes.get(info['dtype'], 'MODEL_OTHER')}, "
                    f"{len(info['shape'])}, {{{shape}}}, {info['bytes']}u, "
                    f"{lower.c_float_literal(info['scale'], lower.types.float32)}, {info['zero_point']}}},")

        c = [f"/* {plan.name}: the plan as straight-line kernel calls. Generated by tinyjit export for "
             f"{self.target.name}.", " * Activations live in one static arena (offsets planned at convert time); "
             "weights are const (flash). */",
             "#include \"model.h\"", "#include \"kernels.h\"", "#include \"weights.h\"", "",
             "static uint8_t arena[MODEL_ARENA_BYTES] __attribute__((aligned(16)));", "",
             "static const model_tensor_info inputs[MODEL_NUM_INPUTS] = {", *[info_c(i) for i in ins], "};",
             "static const model_tensor_info outputs[MODEL_NUM_OUTPUTS] = {", *[info_c(i) for i in outs], "};", "",
             "void model_init(void)", "{", "}", "",
             "void *model_input(int i)", "{",
             "    static const uint32_t offset[MODEL_NUM_INPUTS] = {" + ", ".join(f"{i['offset']}u" for i in ins) + "};",
             "    return arena + offset[i];", "}", "",
             "const void *model_output(int i)", "{",
             "    static const uint32_t offset[MODEL_NUM_OUTPUTS] = {" + ", ".join(f"{i['offset']}u" for i in outs) + "};",
             "    return arena + offset[i];", "}", "",
             "const model_tensor_info *model_input_info(int i)", "{", "    return &inputs[i];", "}", "",
             "const model_tensor_info *model_output_info(int i)", "{", "    return &outputs[i];", "}", "",
             "void model_run(void)", "{"]
        declared = set()
        body = []
        for step, fn in zip(plan.steps, self.lp.step_function):
            args = []
            for tid in step.args:
                t = plan.tensors[tid]
                ct = _ctype(t.dtype)
                if t.location == "weights":
                    args.append(self.weight_alias[(t.offset, t.nbytes, t.dtype)])
                    continue
                var = self.names[tid]
                if tid not in declared:
                    declared.add(tid)
                    c.append(f"    {ct} *{var} = ({ct} *)(arena + {t.offset});   /* {t.name} {list(t.shape)} */")
                args.append(var)
            body.append(f"    {fn}({', '.join(args)});   /* {step.node} ({step.op}) */")
        c += [""] + body + ["}", ""]
        return "\n".join(h), "\n".join(c)

    # build files -----------------------------------------------------------------------
    def linker_script(self) -> str:
        t = self.target
        regions = {r.name: r for r in t.memory}
        mem = "\n".join(f"  {r.name.upper()} (rwx) : ORIGIN = 0x{r.origin:08X}, LENGTH = 0x{r.length:X}"
                        for r in t.memory)
        vec_region = "VECTORS" if "vectors" in regions else "FLASH"
        if t.arch == "arm":
            head = "ENTRY(Reset_Handler)"
            text = f"  .vectors : {{ KEEP(*(.vectors)) }} > {vec_region}\n  .text : {{ *(.text*) }} > FLASH"
            extra = "  .ARM.exidx : { *(.ARM.exidx*) } > FLASH\n"
            data_at = " AT > FLASH"
            gp = ""
        else:
            head = "ENTRY(_start)"
            text = "  .text : { KEEP(*(.text.start)) *(.text*) } > FLASH"
            extra = ""
            data_at = ""
            gp = "  __global_pointer$ = __data_start + 0x800;\n"
        return f"""/* Memory map of the QEMU board for {t.name}. Generated by tinyjit export. */
MEMORY
{{
{mem}
}}
{head}
SECTIONS
{{
{text}
  .rodata : {{ *(.rodata*) *(.srodata*) }} > FLASH
{extra}  .data : {{ . = ALIGN(4); __data_start = .; *(.data*) *(.sdata*) . = ALIGN(4); __data_end = .; }} > RAM{data_at}
  __data_load = LOADADDR(.data);
{gp}  .bss (NOLOAD) : {{ . = ALIGN(4); __bss_start = .; *(.sbss*) *(.bss*) *(COMMON) . = ALIGN(4); __bss_end = .; }} > RAM
  .stack (NOLOAD) : {{ . = ALIGN(16); __stack_bottom = .; . += 0x{STACK_BYTES:X}; __stack_top = .; }} > RAM
}}
"""

    def makefile(self) -> str:
        t = self.target
        cflags = " ".join(t.cflags + COMMON_FLAGS + OPT_FLAGS + WARN_FLAGS)
        model_srcs = "model.c kernels.c weights.c"
        if t.native:
            harness = "main.c platform_host.c"
            ldflags = "-lm"
            run = "cd build && ./model.elf"
        else:
            startup = "startup_arm.c" if t.arch == "arm" else "startup_riscv.S"
            harness = f"main.c platform_semihost.c {startup}"
            ppm = TICK_NS_PPM.get(t.qemu[t.qemu.index("-M") + 1], 0) if t.arch == "arm" else 1_000_000
            cflags += f" -DTJ_NS_PER_TICK_PPM={ppm}"
            libs = "--specs=nano.specs -lm -lc -lgcc" if t.arch == "arm" else "-lm -lc -lgcc"   # picolibc.specs is in CFLAGS
            if t.arch == "riscv":
                cflags = "--specs=picolibc.specs " + cflags
            ldflags = f"-nostartfiles -T link.ld -Wl,--gc-sections {libs}"
            run = f"cd build && {' '.join(t.qemu)} -kernel model.elf"
        return f"""# Builds the model for {t.name} ({t.description}). Generated by tinyjit export.
#   make            build/model.elf (model + emulator harness) and build/baseline.elf (harness only)
#   make run        run one inference under the emulator (reads build/input.bin, writes build/output.bin)
# The model itself is model.c kernels.c weights.c (+ headers): add those to your own firmware.
CC      = {t.cc}
CFLAGS  = {cflags}
LDFLAGS = {ldflags}
MODEL   = {model_srcs}
HARNESS = {harness}
HEADERS = $(wildcard *.h)

all: build/model.elf build/baseline.elf

build/model.elf: $(MODEL) $(HARNESS) $(HEADERS) | build
\t$(CC) $(CFLAGS) -o $@ $(MODEL) $(HARNESS) $(LDFLAGS) -Wl,-Map=build/model.map

build/baseline.elf: $(HARNESS) $(HEADERS) | build
\t$(CC) $(CFLAGS) -DTJ_BASELINE -o $@ $(HARNESS) $(LDFLAGS)

build:
\tmkdir -p build

run: build/model.elf
\t{run}

clean:
\trm -rf build

.PHONY: all run clean
"""

    def cmake(self) -> str:
        t = self.target
        startup = "" if t.native else ("startup_arm.c" if t.arch == "arm" else "startup_riscv.S")
        platform = "platform_host.c" if t.native else "platform_semihost.c"
        ppm = ""
        if not t.native:
            value = TICK_NS_PPM.get(t.qemu[t.qemu.index("-M") + 1], 0) if t.arch == "arm" else 1_000_000
            ppm = f" -DTJ_NS_PER_TICK_PPM={value}"
        libs = ("m" if t.native else
                ("--specs=nano.specs m c gcc" if t.arch == "arm" else "m c gcc"))
        link = "" if t.native else ("\ntarget_link_options(model.elf PRIVATE -nostartfiles -T${CMAKE_SOURCE_DIR}/link.ld "
                                    "-Wl,--gc-sections)")
        system = "" if t.native else "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
        spec = " --specs=picolibc.specs" if t.arch == "riscv" else ""
        return f"""# CMake build of the model for {t.name}. Generated by tinyjit export.
#   cmake -B build-cmake && cmake --build build-cmake
cmake_minimum_required(VERSION 3.16)
{system}set(CMAKE_C_COMPILER {t.cc})
set(CMAKE_ASM_COMPILER {t.cc})
project({c_ident(self.plan.name)} C ASM)
set(CMAKE_C_FLAGS "{' '.join(t.cflags)}{spec} {' '.join(COMMON_FLAGS + OPT_FLAGS + WARN_FLAGS)}{ppm}")
set(CMAKE_ASM_FLAGS "{' '.join(t.cflags)}")
add_library(model STATIC model.c kernels.c weights.c)
target_include_directories(model PUBLIC ${{CMAKE_SOURCE_DIR}})
add_executable(model.elf main.c {platform} {startup})
target_link_libraries(model.elf model {libs}){link}
"""

    def files(self) -> dict[str, str | bytes]:
        t = self.target
        wh, wc = self.weights_files()
        kh, kc = self.kernels_files()
        mh, mc = self.model_files()
        out = {"model.h": mh, "model.c": mc, "kernels.h": kh, "kernels.c": kc, "weights.h": wh, "weights.c": wc,
               "tinyjit_runtime.h": lower.runtime_header(self.lp.kl.runtime),
               "Makefile": self.makefile(), "CMakeLists.txt": self.cmake(),
               "model.tjm": self.tjm_bytes}
        for name in stub_closure(t.stub):
            out[name] = stub_text(name)
        out.update(self.lp.user_headers)
        for name in TEMPLATE_FILES:
            out[name] = template(name)
        if t.native:
            out["platform_host.c"] = template("platform_host.c")
        else:
            out["platform_semihost.c"] = template("platform_semihost.c")
            out["link.ld"] = self.linker_script()
            if t.arch == "arm":
                out["startup_arm.c"] = template("startup_arm.c")
            else:
                out["startup_riscv.S"] = template("startup_riscv.S")
        meta = {"tinyjit_export": 1, "target": t.name, "model": self.plan.name, "plan_target": self.plan.target,
                "arena_bytes": int(self.plan.arena_bytes), "weights_bytes": int(self.plan.weights_bytes),
                "macs": int(sum(s.macs for s in self.plan.steps)),
                "inputs": [self.tensor_info(i) for i in self.plan.inputs],
                "outputs": [self.tensor_info(i) for i in self.plan.outputs],
                "kernels": sorted({s.kernel for s in self.plan.steps}),
                "primitives": sorted(self.lp.kl.primitives),
                "tjm_sha256": hashlib.sha256(self.tjm_bytes).hexdigest()}
        out[MARKER] = json.dumps(meta, indent=2) + "\n"
        return out


def _c_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


# ---------------------------------------------------------------------------------------------
# entry

def load_plan(model):
    """A Plan from a Plan, a .tjm path or bytes; returns (plan, the .tjm bytes)."""
    from ..plan import Plan
    if isinstance(model, Plan):
        return model, tjm.to_bytes(model)
    if isinstance(model, (bytes, bytearray)):
        data = bytes(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise TinyJitError(f"{model}: no such file")
        from ..pipeline import model_kind
        if model_kind(str(path)) != "tjm":
            raise TinyJitError(f"{model}: export takes a .tjm (convert the model first: tinyjit convert {model} "
                               f"-o model.tjm --target <target>)")
        data = path.read_bytes()
    return tjm.load(data), data


def export(model, target: str, out_dir) -> dict:
    """Writes the C project of ``model`` (a Plan or a .tjm) for ``target`` into ``out_dir``."""
    t = target_db.get(target)
    plan, data = load_plan(model)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise TinyJitError(f"{out} exists and is not a tinyjit export; remove it or choose another -o")
    files = Writer(plan, t, data).files()          # every error happens here, before anything is written
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        for name, content in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)      # user_stubs/<folder>/
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        old = None
        if out.exists():
            old = parent / f".{out.name}.old.{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return json.loads(files[MARKER])
