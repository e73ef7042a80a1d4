"""Target descriptions: what `tinyjit export` needs to know about a chip.

One entry per target: its ISA and features, word size, registers, typical memory sizes, the
asm-stub header, the cross compiler and flags, and how to run it under QEMU. A new target is
one entry here, one ``schedules/<target>.toml`` and (if its ISA is new) one ``asm_stubs/<isa>.h``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import TinyJitError


@dataclass(frozen=True)
class Region:
    name: str
    origin: int
    length: int


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    arch: str                       # "arm", "riscv" or "host"
    isa: str                        # e.g. "armv7e-m+fp"
    features: tuple[str, ...]       # ISA extensions the stubs and kernels may use
    word_bits: int                  # native integer width (32: int64 arithmetic is emulated)
    registers: int                  # general-purpose integer registers
    vector_bits: int                # SIMD/vector register width (0: none beyond 32-bit SIMD)
    flash_bytes: int                # a typical part's memory sizes (the export warns beyond them)
    ram_bytes: int
    stub: str                       # asm_stubs/<stub>
    cc: str                         # C compiler
    cflags: tuple[str, ...]         # machine flags (optimization and warnings are the project's)
    ldflags: tuple[str, ...] = ()
    cc_package: str = ""            # the Debian package that brings the compiler
    qemu: tuple[str, ...] = ()      # emulator command (without the ELF); empty: runs natively
    qemu_package: str = ""
    memory: tuple[Region, ...] = () # linker regions: code+rodata ("flash"), data+bss+stack ("ram")
    vectors_at: int | None = None   # Cortex-M: where the vector table must sit (VTOR at reset)
    notes: str = ""

    @property
    def native(self) -> bool:
        return self.arch == "host"


_ARM_QEMU = "qemu-system-arm"
_SEMIHOST = ("-semihosting-config", "enable=on,target=native", "-nographic", "-monitor", "none",
             "-serial", "none", "-icount", "shift=0")

TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("cortex-m4", "Arm Cortex-M4F (Armv7E-M, DSP, single-precision FPU)", "arm", "armv7e-m+fp",
           ("dsp", "fpv4-sp"), 32, 13, 0, 1 << 20, 256 << 10, "armv7em_dsp.h", "arm-none-eabi-gcc",
           ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
           cc_package="gcc-arm-none-eabi libnewlib-arm-none-eabi",
           qemu=(_ARM_QEMU, "-M", "mps2-an386", *_SEMIHOST), qemu_package="qemu-system-arm",
           memory=(Region("flash", 0x00000000, 4 << 20), Region("ram", 0x20000000, 4 << 20)), vectors_at=0),
    Target("cortex-m7", "Arm Cortex-M7 (Armv7E-M, DSP, double-precision FPU)", "arm", "armv7e-m+fp.dp",
           ("dsp", "fpv5-d16"), 32, 13, 0, 2 << 20, 512 << 10, "armv7em_dsp.h", "arm-none-eabi-gcc",
           ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
           cc_package="gcc-arm-none-eabi libnewlib-arm-none-eabi",
           qemu=(_ARM_QEMU, "-M", "mps2-an500", *_SEMIHOST), qemu_package="qemu-system-arm",
           memory=(Region("flash", 0x00000000, 4 << 20), Region("ram", 0x20000000, 4 << 20)), vectors_at=0),
    Target("cortex-m55", "Arm Cortex-M55 (Armv8.1-M, Helium MVE integer + float)", "arm", "armv8.1-m.main+mve.fp",
           ("dsp", "mve", "mve.fp", "fpv5-d16"), 32, 13, 128, 2 << 20, 512 << 10, "armv81m_mve.h",
           "arm-none-eabi-gcc", ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
           cc_package="gcc-arm-none-eabi libnewlib-arm-none-eabi",
           qemu=(_ARM_QEMU, "-M", "mps3-an547", *_SEMIHOST), qemu_package="qemu-system-arm",
           # ITCM holds the vector table; code and weights in SRAM; data, arena and stack in ISRAM
           memory=(Region("vectors", 0x00000000, 512 << 10), Region("flash", 0x01000000, 2 << 20),
                   Region("ram", 0x21000000, 4 << 20)), vectors_at=0),
    Target("rv32imac", "RISC-V RV32IMAC (32-bit, no FPU)", "riscv", "rv32imac", ("m", "a", "c"), 32, 31, 0,
           1 << 20, 256 << 10, "riscv_base.h", "riscv64-unknown-elf-gcc",
           ("-march=rv32imac", "-mabi=ilp32", "-mcmodel=medany"),
           cc_package="gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf",
           qemu=("qemu-system-riscv32", "-M", "virt", "-bios", "none", *_SEMIHOST),
           qemu_package="qemu-system-misc",
           memory=(Region("flash", 0x80000000, 4 << 20), Region("ram", 0x80400000, 4 << 20))),
    Target("rv64gcv", "RISC-V RV64GCV (64-bit, double FPU, vector extension 1.0, VLEN 128)", "riscv", "rv64gcv",
           ("m", "a", "f", "d", "c", "v"), 64, 31, 128, 4 << 20, 1 << 20, "riscv_v.h", "riscv64-unknown-elf-gcc",
           ("-march=rv64gcv", "-mabi=lp64d", "-mcmodel=medany"),
           cc_package="gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf",
           qemu=("qemu-system-riscv64", "-M", "virt", "-cpu", "rv64,v=true,vlen=128,elen=64,vext_spec=v1.0",
                 "-bios", "none", *_SEMIHOST),
           qemu_package="qemu-system-misc",
           memory=(Region("flash", 0x80000000, 4 << 20), Region("ram", 0x80400000, 4 << 20))),
    Target("x86_64", "the host (x86-64 with SSE4.1), built with the system gcc and run natively", "host",
           "x86-64", ("sse2", "ssse3", "sse4.1"), 64, 16, 128, 0, 0, "x86_sse.h", "gcc", ("-msse4.1",),
           cc_package="gcc"),
    Target("generic", "any C99 compiler: portable C, no intrinsics (built and run on the host here)", "host",
           "c99", (), 64, 16, 0, 0, 0, "generic.h", "gcc", (), cc_package="gcc"),
]}


def known() -> list[str]:
    return list(TARGETS)


def get(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise TinyJitError(f"unknown target {name!r}; known targets: {', '.join(TARGETS)}") from None
