"""The tuning loop: per task, resume from the records, search, measure, record, decide.

For each task (one distinct kernel + op signature of the model, largest first):

1. the records already in the database for it are told to the searcher (resuming: a rerun only
   measures what is missing up to ``trials``; a schedule measured before is never measured again,
   unless the kernel's source changed since);
2. the default schedule is measured first: it is the baseline and the correctness reference;
3. the searcher proposes batches of candidates; the runner checks and measures them, and each
   result is appended to the database at once (Ctrl-C keeps every finished measurement);
4. a ``best`` record is written. With a noisy runner (host timing) the default and the fastest
   few candidates are timed again in turns and the winner of that round is kept, so a lucky
   sample cannot make a schedule slower than the default look better. With a deterministic
   runner (QEMU) the smallest count wins, the default on a tie.

The batch size is fixed (not the number of workers), so a run on Ray proposes exactly the
sequence a local run with the same seed proposes.
"""
from __future__ import annotations

import datetime
import math
import sys
from dataclasses import dataclass, field

from . import search as searchers
from .db import Database


@dataclass
class TaskSummary:
    kernel: str
    signature: str
    default: float | None
    best: float | None
    best_schedule: dict
    unit: str
    trials: int
    new_trials: int
    count: int = 1
    failed: int = 0
    history: list = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return self.default / self.best if self.default and self.best else float("nan")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class _Progress:
    """A rich progress bar per run: one line per task with its best-so-far figure."""

    def __init__(self, enabled: bool, n_tasks: int):
        self.enabled = enabled
        self.n_tasks = n_tasks
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                console=Console(file=sys.stderr), transient=False)
            self.bar.start()

    def task(self, i: int, task, total: int, done: int):
        if self.bar is None:
            return None
        desc = f"[{i + 1}/{self.n_tasks}] {task.kernel} {task.node.name[:28]}"
        return self.bar.add_task(desc, total=max(total, 1), completed=done, best="")

    def update(self, handle, done: int, best, default, unit: str):
        if self.bar is None or handle is None:
            return
        text = ""
        if best is not None:
            text = f"best {format_value(best, unit)}"
            if default:
                text += f" ({default / best:.2f}x)"
        self.bar.update(handle, completed=done, best=text)

    def close(self):
        if self.bar is not None:
            self.bar.stop()


def format_value(v: float, unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit == "s":
        return f"{v * 1e6:,.1f} us" if v < 1e-3 else f"{v * 1e3:,.2f} ms"
    if unit == "instructions":
        return f"{v:,.0f} instr"
    return f"{v:g} {unit}"


def tune_tasks(tasks, runner, db: Database, trials: int, searcher: str = "model", seed: int = 0,
               batch: int = 8, progress: bool = True, confirm_top: int = 3,
               constrained: bool = True, log=None) -> list[TaskSummary]:
    """Tune every task up to ``trials`` measured candidates (the default included) each."""
    summaries = []
    bar = _Progress(progress, len(tasks))
    learned: dict[str, list] = {}      # kernel -> what the cost model learned on earlier layers
    try:
        for i, task in enumerate(tasks):
            summaries.append(_tune_one(i, task, runner, db, trials, searcher, seed, batch, bar,
                                       confirm_top, constrained, log, learned))
    finally:
        bar.close()
    return summaries


def _tune_one(i, task, runner, db, trials, searcher_name, seed, batch, bar, confirm_top, constrained, log,
              learned=None):
    space = task.space(constrained=constrained)
    unit = runner.unit
    learned = {} if learned is None else learned
    extra = {"prior": list(learned.get(task.kernel, []))} if searcher_name.startswith("model") else {}
    searcher = searchers.make(searcher_name, space, searchers.task_rng(seed, task.id), **extra)
    khash = task.kernel_hash()
    # figures of this layer measured before, on this kernel's current source (an edited kernel
    # is measured again: its old figures say nothing about it)
    prior = [r for r in db.trials(task.kernel, task.signature, unit)
             if r.get("target", task.target) == task.target and r.get("kernel_hash", khash) == khash]
    measured: dict[tuple, dict] = {}
    for rec in prior:
        try:
            key = space.key(rec["schedule"])
        except KeyError:           # a record from a kernel version with other knobs
            continue
        if key in measured or space.why_invalid(rec["schedule"]) is not None:
            continue
        measured[key] = rec
        searcher.tell(space.from_key(key), rec.get("value") if rec.get("error") is None else None)
    target_count = min(trials, space.size)
    handle = bar.task(i, task, target_count, min(len(measured), target_count))
    history = [r.get("value") if r.get("error") is None else None for r in measured.values()]
    new = 0

    def best_default():
        dkey = space.key(space.default)
        d = measured.get(dkey)
        dval = d["value"] if d and d.get("error") is None else None
        vals = [r["value"] for r in measured.values() if r.get("error") is None]
        return (min(vals) if vals else None), dval

    def record(schedule, result):
        nonlocal new
        rec = db.append({"kind": "trial", "kernel": task.kernel, "signature": task.signature,
                         "target": task.target, "schedule": schedule, "value": result.value, "unit": unit,
                         "error": result.error, "spread": result.spread, "samples": result.samples,
                         "runner": runner.name, "searcher": searcher_name, "seed": seed,
                         "trial": len(measured), "kernel_hash": khash, "time": _now()})
        measured[space.key(schedule)] = rec
        searcher.tell(schedule, result.value if result.error is None else None)
        history.append(result.value if result.error is None else None)
        new += 1
        if result.error and log:
            log(f"{task.kernel} {schedule}: {result.error}")

    try:
        if space.key(space.default) not in measured:
            record(dict(space.default), next(iter(runner.measure(task, [dict(space.default)]))))
        drec = measured[space.key(space.default)]
        if drec.get("error"):       # nothing can be checked against a default that fails: next layer
            if log:
                log(f"{task.kernel} {task.node.name}: skipped, {drec['error']}")
            target_count = 0
        while len(measured) < target_count:
            proposal = searcher.propose(min(batch, target_count - len(measured)))
            if not proposal:
                break
            for schedule, result in zip(proposal, runner.measure(task, proposal)):
                record(schedule, result)
            best, dval = best_default()
            bar.update(handle, min(len(measured), target_count), best, dval, unit)
        best, dval = best_default()
        bar.update(handle, min(len(measured), target_count), best, dval, unit)
        last = db.best(task.kernel, task.signature)
        decision = _decide(task, space, runner, measured, unit, confirm_top) if (
            new or not last or last.get("kernel_hash", khash) != khash) else None
    except KeyboardInterrupt:
        if new:   # keep a decision for what was measured, without the confirmation round
            _write_best(db, task, space, runner, measured, unit, None, searcher_name, seed, khash)
        raise
    if decision is not None:
        _write_best(db, task, space, runner, measured, unit, decision, searcher_name, seed, khash)
    if hasattr(searcher, "training_data"):
        learned.setdefault(task.kernel, []).extend(searcher.training_data())
    rec = db.best(task.kernel, task.signature)
    failed = sum(1 for r in measured.values() if r.get("error"))
    return TaskSummary(task.kernel, task.signature, rec.get("default_value") if rec else None,
                       rec.get("value") if rec else None, rec["schedule"] if rec else {}, unit,
                       len(measured), new, task.count, failed, history)


def _decide(task, space, runner, measured, unit, confirm_top):
    """(schedule, value, default value) of the winner."""
    dkey = space.key(space.default)
    drec = measured.get(dkey)
    if drec is None or drec.get("error"):
        return None
    ok = sorted((r for r in measured.values() if r.get("error") is None), key=lambda r: r["value"])
    if runner.deterministic or confirm_top <= 0:
        best = ok[0]
        if best["value"] >= drec["value"]:
            best = drec
        return best["schedule"], best["value"], drec["value"]
    finalists = [space.from_key(dkey)]
    for r in ok:
        if len(finalists) > confirm_top:
            break
        if space.key(r["schedule"]) != dkey:
            finalists.append(dict(r["schedule"]))
    if len(finalists) == 1:
        return finalists[0], drec["value"], drec["value"]
    results = runner.compare_interleaved(task, finalists)
    dval = results[0].value
    win, wval = finalists[0], dval
    for s, res in zip(finalists[1:], results[1:]):
        if res.value is not None and res.value < wval:
            win, wval = s, res.value
    return win, wval, dval


def _write_best(db, task, space, runner, measured, unit, decision, searcher_name, seed, khash):
    if decision is None:
        ok = [r for r in measured.values() if r.get("error") is None]
        drec = measured.get(space.key(space.default))
        if not ok or drec is None or drec.get("error"):
            return
        best = min(ok, key=lambda r: r["value"])
        decision = (best["schedule"], best["value"], drec["value"])
    schedule, value, dval = decision
    db.append({"kind": "best", "kernel": task.kernel, "signature": task.signature, "target": task.target,
               "schedule": schedule, "value": value, "unit": unit, "default_value": dval,
               "default_schedule": dict(space.default), "trials": len(measured), "runner": runner.name,
               "searcher": searcher_name, "seed": seed, "kernel_hash": khash, "time": _now()})
