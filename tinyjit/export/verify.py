"""`tinyjit verify out/`: build an exported project, run it under QEMU (or natively for host
targets), and compare its output with the Python executor's on the same input.

Reports instructions per inference (QEMU ``-icount shift=0``: one instruction = 1 ns of virtual
time; RISC-V reads ``minstret``, exact; Cortex-M reads SysTick around ``model_run()``, to 40
instructions on the MPS2 boards and 31.25 on MPS3), flash (.text + .rodata the model adds to
the harness), RAM (.data + .bss the model adds, arena included, plus the stack high-water mark
of the inference) and the arena.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import targets as target_db
from ..errors import TinyJitError
from .project import MARKER, load_plan

RUN_TIMEOUT = 600


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TinyJitError(f"{name} not found: install the Debian package(s) {package} "
                           f"(apt-get install --no-install-recommends {package})")
    return path


def check_tools(t: target_db.Target) -> None:
    _tool(t.cc, t.cc_package)
    _tool("make", "make")
    if t.qemu:
        _tool(t.qemu[0], t.qemu_package)


def random_inputs(infos: list, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for info in infos:
        dt = np.dtype(info["dtype"])
        shape = tuple(info["shape"])
        if dt.kind == "f":
            out.append(rng.standard_normal(shape).astype(dt))
        elif dt.kind in "iu":
            ii = np.iinfo(dt)
            lo, hi = max(ii.min, -(2**15)), min(ii.max, 2**15 - 1)
            out.append(rng.integers(lo, hi, size=shape, endpoint=True).astype(dt))
        elif dt == np.bool_:
            out.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            raise TinyJitError(f"input {info['name']}: no random data for dtype {dt}")
    return out


def load_input_file(path: str, infos: list) -> list[np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise TinyJitError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if isinstance(data, np.ndarray):
        if len(infos) != 1:
            raise TinyJitError(f"the model has {len(infos)} inputs: pass an .npz with one array per name")
        arrays = [data]
    else:
        missing = [i["name"] for i in infos if i["name"] not in data.files]
        if missing:
            raise TinyJitError(f"{path}: no array for input(s) {missing}")
        arrays = [data[i["name"]] for i in infos]
    out = []
    for a, info in zip(arrays, infos):
        if a.dtype != np.dtype(info["dtype"]) or list(a.shape) != info["shape"]:
            raise TinyJitError(f"input {info['name']!r} must be {info['dtype']}{info['shape']}, "
                               f"got {a.dtype}{list(a.shape)}")
        out.append(np.ascontiguousarray(a))
    return out


def section_sizes(elf: Path, t: target_db.Target) -> dict:
    size_tool = t.cc.replace("gcc", "size") if t.cc.endswith("gcc") else "size"
    size_tool = shutil.which(size_tool) or shutil.which("size")
    if size_tool is None:
        raise TinyJitError("size (binutils) not found")
    text = subprocess.run([size_tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name, n = parts[0], int(parts[1])
        if name in (".text", ".vectors", ".init", ".fini") or name.startswith(".text"):
            sizes["text"] += n
        elif name.startswith(".rodata") or name.startswith(".srodata") or name in (".ARM.exidx", ".eh_frame"):
            sizes["rodata"] += n
        elif name in (".data", ".sdata", ".tdata", ".init_array", ".fini_array"):
            sizes["data"] += n
        elif name in (".bss", ".sbss", ".tbss"):
            sizes["bss"] += n
    return sizes


def build(out: Path, t: target_db.Target) -> None:
    check_tools(t)
    proc = subprocess.run(["make", "-C", str(out), "-j2", "all"], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise TinyJitError(f"building {out} for {t.name} failed:\n{tail}")


def run_elf(out: Path, t: target_db.Target, elf: str = "model.elf", timeout: int = RUN_TIMEOUT) -> dict:
    build_dir = out / "build"
    cmd = ([str(build_dir / elf)] if t.native else list(t.qemu) + ["-kernel", elf])
    try:
        proc = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TinyJitError(f"{elf} did not finish within {timeout} s under {cmd[0]}") from None
    m = re.search(r"tinyjit-stats counter=(\d+) unit_ppm=(\d+) stack=(\d+)", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not m:
        raise TinyJitError(f"{elf} failed under {cmd[0]} (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr).strip()[-400:]}")
    counter, ppm, stack = (int(g) for g in m.groups())
    return {"instructions": round(counter * ppm / 1e6) if ppm else None, "counter": counter,
            "stack_bytes": stack if not t.native else None}


def verify(out_dir, input_path: str | None = None, seed: int = 0, rtol: float = 1e-5) -> dict:
    out = Path(out_dir)
    meta_path = out / MARKER
    if not meta_path.is_file():
        raise TinyJitError(f"{out}: not a tinyjit export (no {MARKER}); run tinyjit export first")
    meta = json.loads(meta_path.read_text())
    t = target_db.get(meta["target"])
    plan, _ = load_plan(str(out / "model.tjm"))
    build(out, t)
    inputs = load_input_file(input_path, meta["inputs"]) if input_path else random_inputs(meta["inputs"], seed)
    build_dir = out / "build"
    (build_dir / "input.bin").write_bytes(b"".join(a.tobytes() for a in inputs))
    out_file = build_dir / "output.bin"
    if out_file.exists():
        out_file.unlink()
    stats = run_elf(out, t)
    base = run_elf(out, t, "baseline.elf") if not t.native else None
    if not out_file.is_file():
        raise TinyJitError("the program wrote no output.bin")
    raw = out_file.read_bytes()
    got, pos = [], 0
    for info in meta["outputs"]:
        n = info["bytes"]
        got.append(np.frombuffer(raw[pos:pos + n], dtype=np.dtype(info["dtype"])).reshape(info["shape"]))
        pos += n
    if pos != len(raw):
        raise TinyJitError(f"output.bin has {len(raw)} bytes, the outputs {pos}")

    from ..session import InferenceSession
    sess = InferenceSession(plan)
    want = sess.run(None, {i["name"]: a for i, a in zip(meta["inputs"], inputs)})
    errors = []
    match = True
    for g, w in zip(got, want):
        if w.dtype.kind == "f":
            err = float(np.abs(g.astype(np.float64) - w).max() / max(float(np.abs(w).max()), 1e-30)) if w.size else 0.0
            errors.append(err)
            match &= bool(err <= rtol and np.array_equal(np.isnan(g), np.isnan(w)))
        else:
            errors.append(int(np.abs(g.astype(np.int64) - w.astype(np.int64)).max()) if w.size else 0)
            match &= bool(np.array_equal(g, w))

    full = section_sizes(build_dir / "model.elf", t)
    report = {"match": bool(match), "target": t.name, "model": meta["model"],
              "instructions": stats["instructions"], "arena_bytes": meta["arena_bytes"],
              "weights_bytes": meta["weights_bytes"], "macs": meta["macs"],
              "max_error": max(errors) if errors else 0,
              "exact": all(np.array_equal(g, w) for g, w in zip(got, want))}
    if base is not None:
        b = section_sizes(build_dir / "baseline.elf", t)
        report["flash_bytes"] = full["text"] + full["rodata"] - b["text"] - b["rodata"]
        report["static_ram_bytes"] = full["data"] + full["bss"] - b["data"] - b["bss"] - 0
        report["stack_bytes"] = stats["stack_bytes"]
        report["ram_bytes"] = report["static_ram_bytes"] + stats["stack_bytes"]
        report["instructions_per_mac"] = (round(stats["instructions"] / meta["macs"], 3)
                                          if stats["instructions"] and meta["macs"] else None)
        report["elf_flash_bytes"] = full["text"] + full["rodata"]
        report["elf_ram_bytes"] = full["data"] + full["bss"]
    else:
        report.update({"flash_bytes": full["text"] + full["rodata"], "ram_bytes": full["data"] + full["bss"],
                       "stack_bytes": None, "instructions_per_mac": None})
    return report
