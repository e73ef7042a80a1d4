"""``tinyjit plan ... --ray ADDRESS``: running the partitions as Ray actors on real machines.

Not built yet: the partitions (``tinyjit plan --out DIR``) and the loopback runtime exist; the Ray
path (one actor per partition, placed by a custom resource ``tinyjit-device:<name>``, tensors
passed as object refs) is the next step. Until then this says so instead of failing obscurely.
"""
from __future__ import annotations

from ..errors import TinyJitError


def execute_on_ray(planner, cand, address: str, runs: int = 5) -> dict:
    raise TinyJitError("--ray is not implemented yet: write the partitions with --out DIR and run them with "
                       "--execute locally (loopback TCP, emulated links)")
