"""Operator kernels: one file per operator, found by its name (conv.py holds Conv).

Each file registers its kernels with ``tinyjit.kernel(...)`` and gives each a prepare
function. The kernel bodies are in the kernel subset (../DESIGN.md) so that Numba compiles
them and the C exporter lowers the same source.
"""
