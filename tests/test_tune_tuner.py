"""The tuning loop with stand-in runners: resuming, Ctrl-C, the never-worse decision, progress."""
import math

import pytest

from tinyjit.tune.db import Database
from tinyjit.tune.runners import Result
from tinyjit.tune.task import extract
from tinyjit.tune.tuner import tune_tasks
from tune_helpers import matmul_graph


class CountingRunner:
    """Deterministic figures from the schedule alone, like instruction counts."""
    unit = "instructions"
    name = "fake"
    deterministic = True

    def __init__(self, figure=None, interrupt_after=None):
        self.figure = figure or (lambda s: 1000 + 100 * abs(s["MR"] - 4) + 10 * abs(math.log2(s["NR"]) - 3))
        self.interrupt_after = interrupt_after
        self.measured = []

    def measure_one(self, task, s):
        if self.interrupt_after is not None and len(self.measured) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.measured.append(dict(s))
        return Result(float(self.figure(s)))

    def measure(self, task, schedules):
        for s in schedules:
            yield self.measure_one(task, s)


@pytest.fixture(scope="module")
def task():
    (t,) = extract(matmul_graph(m=8, k=16, n=32), "x86_64")       # 4 x 4 schedules
    return t


def test_records_and_decision(task, tmp_path):
    db = Database(tmp_path / "t.jsonl")
    runner = CountingRunner()
    (s,) = tune_tasks([task], runner, db, trials=100, searcher="model", progress=False)
    assert runner.measured[0] == task.default                    # the baseline first
    assert s.trials == task.space().size == len(runner.measured)  # capped at the space
    assert s.best_schedule == {"MR": 4, "NR": 8} and s.best == 1000
    assert s.default == runner.figure(task.default) and s.speedup == s.default / 1000
    kinds = [r["kind"] for r in db.records]
    assert kinds.count("best") == 1 and kinds[-1] == "best"
    trial = db.records[0]
    for field in ("kernel", "signature", "schedule", "value", "unit", "version", "target", "kernel_hash"):
        assert field in trial


def test_resume_measures_only_what_is_missing(task, tmp_path):
    db = Database(tmp_path / "t.jsonl")
    first = CountingRunner()
    tune_tasks([task], first, db, trials=5, searcher="random", seed=1, progress=False)
    second = CountingRunner()
    (s,) = tune_tasks([task], second, Database(tmp_path / "t.jsonl"), trials=9, searcher="random", seed=1,
                      progress=False)
    assert len(first.measured) == 5 and len(second.measured) == 4
    keys = [tuple(sorted(x.items())) for x in first.measured + second.measured]
    assert len(set(keys)) == 9 and s.trials == 9
    third = CountingRunner()
    tune_tasks([task], third, Database(tmp_path / "t.jsonl"), trials=9, progress=False)
    assert third.measured == []                                  # nothing left to do


def test_ctrl_c_keeps_what_was_measured(task, tmp_path):
    path = tmp_path / "t.jsonl"
    runner = CountingRunner(interrupt_after=4)
    with pytest.raises(KeyboardInterrupt):
        tune_tasks([task], runner, Database(path), trials=10, searcher="random", progress=True)
    db = Database(path)
    assert len(db.trials(task.kernel, task.signature)) == 4
    assert db.best(task.kernel, task.signature) is not None     # a decision from the four
    again = CountingRunner()
    tune_tasks([task], again, db, trials=10, searcher="random", progress=False)
    assert len(again.measured) == 6


def test_never_worse_than_the_default(task, tmp_path):
    runner = CountingRunner(figure=lambda s: 500 if s == task.default else 900)
    (s,) = tune_tasks([task], runner, Database(tmp_path / "t.jsonl"), trials=6, progress=False)
    assert s.best_schedule == task.default and s.speedup == 1.0


class LuckyRunner(CountingRunner):
    """A noisy runner: one candidate had a lucky sample during the search, but is slower than the
    default when they are timed in turns."""
    unit = "s"
    deterministic = False

    def __init__(self, lucky):
        super().__init__(figure=lambda s: 0.5 if s == lucky else 1.0)
        self.lucky = lucky
        self.finalists = None

    def compare_interleaved(self, task, schedules):
        self.finalists = schedules
        return [Result(1.2 if s == self.lucky else (1.0 if s == task.default else 1.1)) for s in schedules]


def test_a_lucky_sample_does_not_win_the_confirmation(task, tmp_path):
    lucky = {"MR": 1, "NR": 4}
    runner = LuckyRunner(lucky)
    (s,) = tune_tasks([task], runner, Database(tmp_path / "t.jsonl"), trials=100, searcher="random", progress=False)
    assert runner.finalists[0] == task.default and lucky in runner.finalists and len(runner.finalists) == 4
    assert s.best_schedule == task.default and s.best == s.default == 1.0


def test_figures_of_an_edited_kernel_are_measured_again(task, tmp_path):
    import json
    path = tmp_path / "t.jsonl"
    tune_tasks([task], CountingRunner(), Database(path), trials=5, searcher="random", progress=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, "kernel_hash": "0ld0ld0ld0ld"}) + "\n" for r in lines))
    again = CountingRunner()
    (s,) = tune_tasks([task], again, Database(path), trials=5, searcher="random", progress=False)
    assert len(again.measured) == 5 and s.trials == 5
    assert Database(path).best(task.kernel, task.signature)["kernel_hash"] == task.kernel_hash()


def test_a_layer_whose_default_fails_is_skipped(task, tmp_path):
    class Broken(CountingRunner):
        def measure_one(self, task, s):
            self.measured.append(dict(s))
            return Result(None, "the default schedule fails: NameError: name 'nonneg' is not defined")
    runner = Broken()
    (s,) = tune_tasks([task, task], runner, Database(tmp_path / "t.jsonl"), trials=8, progress=False)[:1]
    assert runner.measured == [task.default] and s.best is None and s.failed == 1
