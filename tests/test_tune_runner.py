"""The host runner: real shapes, correctness before timing, robust figures."""
import numpy as np
import pytest

from tinyjit.session import InferenceSession
from tinyjit.tune.db import Database
from tinyjit.tune.runners import HostRunner, compare
from tinyjit.tune.task import extract
from tinyjit.tune.tuner import tune_tasks
from tune_helpers import matmul_graph, scale2_graph

FAST = dict(min_sample=2e-4, repeats=3, warmup=0.0)


@pytest.fixture(scope="module")
def mm_task():
    (task,) = extract(matmul_graph(m=6, k=16, n=24), "x86_64")
    return task


def test_candidates_run_with_real_shapes_and_match_the_default(mm_task):
    runner = HostRunner(**FAST)
    ref = runner.reference(mm_task)
    assert ref[0].shape == (6, 24) and np.isfinite(ref[0]).all()
    w = mm_task.graph.tensors["w"].data
    np.testing.assert_allclose(ref[0], mm_task.inputs(0)["x"] @ w, rtol=1e-5, atol=1e-5)
    for schedule in mm_task.space().enumerate()[:3]:
        r = runner.measure_one(mm_task, schedule)
        assert r.error is None and r.value > 0 and r.samples >= 3


def test_layer_plan_runs_like_the_kernel_calls(mm_task):
    runner = HostRunner(**FAST)
    plan = mm_task.plan({"MR": 4, "NR": 16})
    (out,) = InferenceSession(plan).run(None, mm_task.inputs(0))
    np.testing.assert_allclose(out, runner.reference(mm_task)[0], rtol=1e-5, atol=1e-5)


def test_a_wrong_schedule_is_caught_and_never_wins(tmp_path):
    (task,) = extract(scale2_graph(n=10), "x86_64")
    runner = HostRunner(**FAST)
    assert runner.measure_one(task, {"U": 2}).error is None
    bad = runner.measure_one(task, {"U": 3})         # forgets the last element
    assert bad.value is None and "non-finite" in bad.error
    db = Database(tmp_path / "t.jsonl")
    (summary,) = tune_tasks([task], runner, db, trials=4, searcher="random", progress=False)
    assert summary.trials == 4 and summary.failed == 1
    assert summary.best_schedule != {"U": 3}
    errors = [r for r in db.records if r.get("error")]
    assert [r["schedule"] for r in errors] == [{"U": 3}]


def test_compare():
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    assert compare([a.copy()], [a]) is None
    b = a.copy()
    b[1, 2] = 0
    assert "(1, 2)" in compare([b], [a])
    assert "shape" in compare([a.reshape(3, 2)], [a])
    f = np.linspace(-1, 1, 8, dtype=np.float32)
    assert compare([f * (1 + 1e-6)], [f]) is None        # reassociated sums are fine
    assert "differs" in compare([f + 1e-2], [f])
    g = f.copy()
    g[3] = np.nan
    assert "non-finite" in compare([g], [f])


def test_timing_is_robust_to_one_slow_sample(monkeypatch):
    from tinyjit.tune import runners
    times = iter([1e-3] + [1.0, 1.0, 9.0, 1.0, 1.0] * 10)
    monkeypatch.setattr(runners, "_run", lambda pairs, number: next(times) * number)
    r = runners.time_calls([], min_sample=1e-3, repeats=5, warmup=0.0)
    assert r.value == pytest.approx(1.0) and r.spread == 0.0
