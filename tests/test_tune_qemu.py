"""Tuning for an MCU target: instruction counts of the lowered C under QEMU (deterministic)."""
import json
import shutil

import pytest

from tinyjit.tune import tune_model
from tune_helpers import matmul_graph

pytestmark = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                reason="needs gcc-arm-none-eabi and qemu-system-arm")


def _records(path):
    keep = ("kind", "schedule", "value", "unit", "error", "default_value", "runner")
    return [{k: r.get(k) for k in keep} for r in map(json.loads, path.read_text().splitlines())]


def test_counts_are_deterministic_and_the_decision_is_never_worse(tmp_path):
    graph = matmul_graph(m=4, k=8, n=8)
    kw = dict(target="cortex-m4", trials=4, searcher="model", seed=2, batch=2, progress=False)
    tune_model(graph, db=tmp_path / "a.jsonl", **kw)
    tune_model(graph, db=tmp_path / "b.jsonl", **kw)
    a, b = _records(tmp_path / "a.jsonl"), _records(tmp_path / "b.jsonl")
    assert a == b and len(a) == 5
    assert {r["unit"] for r in a} == {"instructions"} and {r["runner"] for r in a} == {"qemu"}
    trials = [r for r in a if r["kind"] == "trial"]
    assert all(r["error"] is None and r["value"] > 0 for r in trials)
    best = a[-1]
    assert best["kind"] == "best" and best["value"] == min(r["value"] for r in trials) <= best["default_value"]
