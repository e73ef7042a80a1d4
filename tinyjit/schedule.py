"""Where "how a kernel runs" is decided: per-target default schedules, overridden by tuned records.

``schedules/<target>.toml`` has one table per kernel name with knob = value; a kernel's own
first choice is the fallback. Tuned records (``schedules/tuned/<target>.jsonl``, one JSON object
per line with ``kernel``, ``signature`` and ``schedule``) win for the op signatures they name.
"""
from __future__ import annotations

import json
import tomllib
import warnings
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
        if record is not None:
            sch.update({n: v for n, v in record.items() if n in sch})
            return sch, True
        return sch, False


@lru_cache(maxsize=None)
def _load(target: str, tuned_path: str | None) -> TargetSchedules:
    path = _schedules_dir() / f"{target}.toml"
    if not path.is_file():
        raise TinyJitError(f"unknown target {target!r}; known targets: {', '.join(known_targets())}")
    defaults = tomllib.loads(path.read_text())
    tuned = {}
    tpath = tuned_path or (_schedules_dir() / "tuned" / f"{target}.jsonl")
    try:
        text = tpath.read_text() if hasattr(tpath, "read_text") else open(tpath).read()
    except (FileNotFoundError, OSError):
        text = ""
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            tuned[(rec["kernel"], rec["signature"])] = dict(rec["schedule"])
        except (ValueError, KeyError, TypeError):
            bad += 1
    if bad:
        warnings.warn(f"{tpath}: skipped {bad} unreadable tuning record(s)")
    return TargetSchedules(target, defaults, tuned)


def for_target(target: str = "x86_64", tuned_path: str | None = None) -> TargetSchedules:
    return _load(target, tuned_path)
