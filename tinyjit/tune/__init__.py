"""Auto-tuning: search each layer's kernel schedule for a target, locally or on a Ray cluster.

    model ──import + passes──▶ graph ──extract──▶ tasks (kernel, op signature, real shapes)
    task ──space──▶ valid schedules ──searcher──▶ candidates ──runner──▶ checked figures ──▶ records

- task.py: the layers worth tuning and how to build one candidate with its real shapes
- space.py: knobs, constraints (tiles, registers, flash/RAM), features for the cost model
- search.py: random, evolution, model-guided (boosted trees) searchers
- runners.py: host timing (Numba); qemu.py: instruction counts of the lowered C under QEMU
- distributed.py: the same runners as Ray tasks
- db.py: the JSONL record format that schedule.py reads; report.py: ``tinyjit tune --report``
- tuner.py: the loop that ties them together

Records go to ``schedules/tuned/<target>.jsonl`` unless a path is given; ``tinyjit convert`` and
``export`` pick them up by op signature.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import TinyJitError

DEFAULT_SEARCHER = "model"


def default_db(target: str) -> Path:
    from ..schedule import _schedules_dir
    return Path(str(_schedules_dir())) / "tuned" / f"{target}.jsonl"


def load_graph(model, input_shapes: dict | None = None):
    """The optimized IR graph of a .onnx/.tflite model (what convert plans)."""
    from .. import passes
    from ..pipeline import import_model
    return passes.optimize(import_model(model, input_shapes))


def load_tasks(model, target: str, tuned_path: str, input_shapes: dict | None = None):
    """The tuning tasks of a model: a graph, a .onnx/.tflite file, or a .tjm (its steps' layers)."""
    from .. import format as tjm
    from ..pipeline import model_kind
    from .task import extract, extract_plan
    if hasattr(model, "nodes"):
        return extract(model, target, tuned_path=tuned_path)
    if model_kind(model) == "tjm":
        return extract_plan(tjm.load(model), target, tuned_path=tuned_path)
    return extract(load_graph(model, input_shapes), target, tuned_path=tuned_path)


def make_runner(target: str, kind: str | None = None, **kwargs):
    """The runner that measures ``target``: host timing for native targets, QEMU for MCUs."""
    from .. import targets
    t = targets.get(target) if target in targets.TARGETS else None
    kind = kind or ("host" if t is None or t.native else "qemu")
    if kind == "host":
        from .runners import HostRunner
        return HostRunner(**kwargs)
    if kind == "qemu":
        from .qemu import QemuRunner
        return QemuRunner(target, **kwargs)
    raise TinyJitError(f"unknown runner {kind!r} (host, qemu)")


def tune_model(model, target: str = "x86_64", trials: int = 64, db=None, searcher: str = DEFAULT_SEARCHER,
               seed: int = 0, batch: int = 8, ray: str | None = None, progress: bool = True,
               only: list[str] | None = None, input_shapes: dict | None = None, runner=None, log=None,
               max_tasks: int | None = None):
    """Tune the layers of ``model`` for ``target``; returns one TaskSummary per layer signature.

    ``trials`` is per layer signature (the default schedule included), capped at the size of the
    layer's space; ``only`` keeps the layers whose kernel or node name is listed."""
    from ..schedule import for_target
    from . import search as searchers
    from .db import Database
    from .tuner import tune_tasks

    if searcher.split(":")[0] not in searchers.SEARCHERS:
        raise TinyJitError(f"unknown searcher {searcher!r}; choose one of {', '.join(searchers.SEARCHERS)}")
    if trials < 1:
        raise TinyJitError("--trials must be at least 1")
    for_target(target)            # an unknown target fails here, before any work
    db_path = Path(db) if db else default_db(target)
    tasks = load_tasks(model, target, str(db_path), input_shapes)
    if only:
        tasks = [t for t in tasks if t.kernel in only or set(t.nodes) & set(only)]
    if max_tasks is not None:
        tasks = tasks[:max_tasks]
    runner = runner or make_runner(target)
    if ray:
        from .distributed import RayRunner, connect
        connect(ray)
        runner = RayRunner(runner)
    database = Database(db_path)
    try:
        return tune_tasks(tasks, runner, database, trials, searcher=searcher, seed=seed, batch=batch,
                          progress=progress, log=log)
    finally:
        close = getattr(runner, "close", None)
        if close:
            close()
