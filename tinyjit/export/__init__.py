"""C export: a plan as a self-contained C project for a microcontroller (or the host).

``export(model, target, out_dir)`` writes the project (project.py), lowering every kernel call
from its Python source (lower.py); ``verify(out_dir)`` builds it, runs it under QEMU and
compares with the Python executor (verify.py). Targets are in tinyjit/targets.py.
"""
from .project import export  # noqa: F401
from .verify import verify  # noqa: F401
