"""Where "how a kernel runs" is decided: per-target default schedules, overridden by tuned records.

``schedules/<target>.toml`` has one table per kernel name with knob = value; a kernel's own
first choice is the fallback. Tuned records (``schedules/tuned/<target>.jsonl``, one JSON object
per line with ``kernel``, ``signature`` and ``schedule``; written by ``tinyjit tune``, format in
tinyjit/tune/db.py) win for the op signatures they name, unless a knob value is one the kernel no
longer allows (a stale record is ignored).
"""
from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources

from .errors import TinyJitError


def _schedules_dir():
    return resources.files("tinyjit.schedules")


def known_targets() -> list[str]:
    return sorted(p.name[:-5] for p in _schedules_dir().iterdir() if p.name.endswith(".toml"))


def signature(node, graph) -> str:
    """Op, input shapes/dtypes and attributes: the key under which tuned schedules carry over."""
    ins = ",".join(f"{graph.tensors[i].dtype.name}{list(graph.tensors[i].shape)}" if i else "-"
                   for i in node.inputs)
    attrs = ",".join(f"{k}={v}" for k, v in sorted(node.attrs.items()) if not hasattr(v, "shape"))
    return f"{node.op}({ins}){{{attrs}}}"


class TargetSchedules:
    def __init__(self, target: str, defaults: dict, tuned: dict):
        self.target = target
        self.defaults = defaults
        self.tuned = tuned

    def lookup(self, k, node, graph) -> tuple[dict, bool]:
        sch = dict(k.default_schedule())
        sch.update({n: v for n, v in self.defaults.get(k.name, {}).items() if n in sch})
        record = self.tuned.get((k.name, signature(node, graph)))
        if record is not None and all(v in k.schedule_space[n] for n, v in record.items() if n in sch):
            sch.update({n: v for n, v in record.items() if n in sch})
            return sch, True
        return sch, False


@lru_cache(maxsize=None)
def _load(target: str, tuned_path: str | None, _stamp=None) -> TargetSchedules:
    from .tune import db
    path = _schedules_dir() / f"{target}.toml"
    if not path.is_file():
        raise TinyJitError(f"unknown target {target!r}; known targets: {', '.join(known_targets())}")
    defaults = tomllib.loads(path.read_text())
    records = db.best_per_key(db.read(tuned_path or _tuned_path(target)))
    tuned = {key: dict(rec["schedule"]) for key, rec in records.items()}
    return TargetSchedules(target, defaults, tuned)


def _tuned_path(target: str):
    return _schedules_dir() / "tuned" / f"{target}.jsonl"


def for_target(target: str = "x86_64", tuned_path: str | None = None) -> TargetSchedules:
    """``tuned_path`` (or the environment's TINYJIT_TUNED_DB) replaces schedules/tuned/<target>.jsonl."""
    tuned_path = tuned_path or os.environ.get("TINYJIT_TUNED_DB") or None
    tpath = tuned_path or _tuned_path(target)
    try:   # a tuning run in this process (or another) changes the file: read it again
        st = os.stat(tpath)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    return _load(target, tuned_path, stamp)
