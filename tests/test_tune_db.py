"""Tuning records: the JSONL format, bad lines, the best-record rule schedule.py applies."""
import json
import warnings

import pytest

from tinyjit import schedule as schedules
from tinyjit.registry import by_name
from tinyjit.tune import db

SIG = "Conv(float32[1, 8, 8, 4]){}"


def _trial(schedule, value, **kw):
    return {"version": db.VERSION, "kind": "trial", "kernel": "conv2d_f32", "signature": SIG,
            "schedule": schedule, "value": value, "unit": "s", "error": None, **kw}


def test_append_and_read_back(tmp_path):
    d = db.Database(tmp_path / "sub" / "t.jsonl")
    d.append({"kind": "trial", "kernel": "k", "signature": "s", "schedule": {"A": 1}, "value": 2.0, "unit": "s"})
    again = db.Database(tmp_path / "sub" / "t.jsonl")
    assert again.records == d.records and again.records[0]["version"] == db.VERSION
    assert len(again.trials("k", "s", "s")) == 1 and again.trials("k", "s", "instructions") == []


def test_corrupt_and_foreign_lines_are_skipped_with_one_warning(tmp_path):
    path = tmp_path / "t.jsonl"
    good = _trial({"MR": 2, "NR": 8}, 1.0)
    path.write_text("\n".join([
        json.dumps(good),
        "{not json",
        json.dumps({**good, "version": 99}),                 # another format version
        json.dumps({"kernel": "conv2d_f32"}),                 # fields missing
        json.dumps({**good, "value": "fast"}),                # a figure that is not a number
        json.dumps({**good, "kind": "guess"}),
        "",
        '{"version": 1, "kind": "trial", "kernel": "conv2d_f32", "sig',   # cut short by a crash
    ]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = db.read(path)
    assert records == [good]
    assert len(caught) == 1 and "skipped 6" in str(caught[0].message)
    # appending after a line cut short starts a new line: the new record stays readable
    d = db.Database.__new__(db.Database)
    d.path, d.records = path, []
    d.append(_trial({"MR": 3, "NR": 8}, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(db.read(path)) == 2


def test_missing_file_and_directory_are_empty(tmp_path):
    assert db.read(tmp_path / "nope.jsonl") == []
    assert db.read(tmp_path) == []


def test_best_rule_decision_wins_else_fastest_error_free_trial():
    a, b, c = {"MR": 2, "NR": 8}, {"MR": 3, "NR": 8}, {"MR": 4, "NR": 8}
    recs = [_trial(a, 3.0), _trial(b, 1.0, error="output 0 differs"), _trial(c, 2.0)]
    assert db.best_per_key(recs)[("conv2d_f32", SIG)]["schedule"] == c      # the failed one never wins
    best = {"version": db.VERSION, "kind": "best", "kernel": "conv2d_f32", "signature": SIG, "schedule": a,
            "value": 2.9, "unit": "s", "default_value": 3.0}
    assert db.best_per_key(recs + [best])[("conv2d_f32", SIG)]["schedule"] == a
    # a trial measured after the decision does not override it
    assert db.best_per_key(recs + [best, _trial(b, 0.1)])[("conv2d_f32", SIG)]["schedule"] == a
    # hand-written records (kernel, signature, schedule only) are decisions too
    hand = {"kernel": "conv2d_f32", "signature": SIG, "schedule": b}
    assert db.best_per_key(recs + [hand])[("conv2d_f32", SIG)]["schedule"] == b


def test_schedule_lookup_uses_records_and_ignores_stale_values(tmp_path, monkeypatch):
    from tune_helpers import matmul_graph
    graph = matmul_graph()
    node = graph.nodes[0]
    k = by_name("tiled_matmul")
    sig = schedules.signature(node, graph)
    path = tmp_path / "x86_64.jsonl"
    other = next(v for v in k.schedule_space["MR"] if v != k.default_schedule()["MR"])
    path.write_text(json.dumps({"kernel": k.name, "signature": sig, "schedule": {"MR": other}}) + "\n")
    sch, tuned = schedules.for_target("x86_64", str(path)).lookup(k, node, graph)
    assert tuned and sch["MR"] == other
    # a value the kernel no longer allows: the record is stale, the default is used
    path.write_text(json.dumps({"kernel": k.name, "signature": sig, "schedule": {"MR": 977}}) + "\n")
    sch, tuned = schedules.for_target("x86_64", str(path)).lookup(k, node, graph)
    assert not tuned and sch["MR"] != 977
    # the environment variable points plan building at another record file
    path.write_text(json.dumps({"kernel": k.name, "signature": sig, "schedule": {"MR": other}}) + "\n")
    monkeypatch.setenv("TINYJIT_TUNED_DB", str(path))
    from tinyjit.plan import build
    (step,) = build(graph, "x86_64").steps
    assert step.tuned and step.schedule["MR"] == other


@pytest.mark.parametrize("text", ["\0\0\0garbage", "[1, 2, 3]\n", '{"kernel": 1, "signature": 2, "schedule": 3}\n'])
def test_plan_building_survives_a_corrupt_record_file(tmp_path, monkeypatch, text):
    from tune_helpers import matmul_graph
    path = tmp_path / "bad.jsonl"
    path.write_bytes(text.encode())
    monkeypatch.setenv("TINYJIT_TUNED_DB", str(path))
    from tinyjit.plan import build
    with pytest.warns(UserWarning, match="skipped 1"):
        plan = build(matmul_graph(), "x86_64")
    assert not any(s.tuned for s in plan.steps)
