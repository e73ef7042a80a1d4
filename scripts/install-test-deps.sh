#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: system packages (only the
# missing ones, without recommends) and the Python package with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  flatbuffers-compiler   # flatc: the test that regenerating tinyjit/format code changes nothing
  # C export (tinyjit export/verify, tests/test_export_*.py, tests/test_asm_stubs.py):
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm          # Cortex-M4/M7/M55 + QEMU mps2/mps3
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc   # rv32imac/rv64gcv + QEMU virt
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 -m pip install -q -e ".[test]"
