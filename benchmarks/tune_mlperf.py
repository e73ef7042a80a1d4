"""Tuning on the MLPerf Tiny models: the figures of docs/tuning.md.

    python benchmarks/tune_mlperf.py tune    --target x86_64 --trials 15 --db docs/tuning/x86_64.jsonl
    python benchmarks/tune_mlperf.py compare --db docs/tuning/x86_64.jsonl      # searchers, replayed
    python benchmarks/tune_mlperf.py e2e     --target x86_64 --db docs/tuning/x86_64.jsonl

``compare`` replays the searchers on the layers whose whole space was measured: every searcher
sees the same recorded figures, so the comparison is free of timing noise, and it runs many seeds.
``e2e`` times whole models with default and with tuned schedules in turns on the host, or (MCU
targets) exports both and counts instructions per inference under QEMU.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models" / "mlperf_tiny"
FLOAT = {"kws": "kws_ref_model_float32.onnx", "vww": "vww_96_float.onnx", "resnet": "pretrainedResnet.onnx",
         "ad": "ad01_fp32.onnx"}
INT8 = {"kws": "kws_ref_model.onnx", "vww": "vww_96_int8.onnx", "resnet": "pretrainedResnet_quant.onnx",
        "ad": "ad01_int8.onnx"}


def models(kind: str) -> dict:
    return {name: MODELS / f for name, f in (FLOAT if kind == "float" else INT8).items()}


def cmd_tune(args):
    from tinyjit.tune import tune_model
    for name, path in models(args.kind).items():
        t0 = time.time()
        res = tune_model(str(path), args.target, trials=args.trials, db=args.db, searcher=args.searcher,
                         progress=not args.quiet)
        print(f"{name}: {len(res)} layer signatures tuned in {time.time() - t0:.0f} s", flush=True)


# -- searchers, replayed on measured tables -----------------------------------------------------

def _tables(db_path, target, kind):
    """(space, {key: figure}) of every layer whose whole space was measured without error."""
    from tinyjit.tune import load_graph
    from tinyjit.tune.db import read
    from tinyjit.tune.task import extract
    recs = [r for r in read(db_path) if r.get("kind") == "trial"]
    out = []
    seen = set()
    for name, path in models(kind).items():
        for task in extract(load_graph(str(path)), target):
            if (task.kernel, task.signature) in seen:
                continue
            seen.add((task.kernel, task.signature))
            space = task.space()
            table = {}
            for r in recs:
                if r["kernel"] == task.kernel and r["signature"] == task.signature and r.get("error") is None:
                    try:
                        table[space.key(r["schedule"])] = r["value"]
                    except KeyError:
                        pass
            keys = {space.key(s) for s in space.enumerate()}
            if keys <= set(table) and len(keys) >= 4:
                out.append((f"{name}:{task.node.name}", space, {k: table[k] for k in keys}))
    return out


def _replay(name, space, table, seed, batch=8, prior=None):
    """One searcher on one layer, its figures read from ``table``; like tuner.py, the default first."""
    from tinyjit.tune import search
    kw = {"prior": prior} if name.startswith("model") else {}
    searcher = search.make(name, space, np.random.default_rng(seed), **kw)
    best = min(table.values())
    order = [table[space.key(space.default)]]
    searcher.tell(dict(space.default), order[0])
    while len(order) < len(table):
        proposal = searcher.propose(batch)
        if not proposal:
            break
        for s in proposal:
            v = table[space.key(s)]
            searcher.tell(s, v)
            order.append(v)
    running = np.minimum.accumulate(np.array(order))
    learned = searcher.training_data() if hasattr(searcher, "training_data") else []
    return {"to_best": int(np.argmax(running == best)) + 1, "ratio": best / running, "learned": learned}


def cmd_compare(args):
    import importlib.util
    names = ["random", "evolution", "model", "model:ridge"]
    if importlib.util.find_spec("sklearn"):
        names.append("model:sklearn")
    tables = _tables(args.db, args.target, args.kind)
    if not tables:
        sys.exit("no layer with a fully measured space in " + str(args.db))
    budgets = [2, 4, 6, 8]
    result = {"layers": len(tables), "sizes": [len(t) for _, _, t in tables], "seeds": args.seeds,
              "batch": args.batch, "transfer_within_model": args.transfer, "searchers": {}}
    for name in names:
        to_best, at = [], {b: [] for b in budgets}
        for seed in range(args.seeds):
            learned: dict = {}      # as in one tuning run: layers in order, the model carries over
            for label, space, table in tables:
                prior = learned.get(label.split(":")[0]) if args.transfer else None
                r = _replay(name, space, table, seed, args.batch, prior)
                if args.transfer:
                    # what the tuner would have measured there: the first `budget` trials
                    learned.setdefault(label.split(":")[0], []).extend(r["learned"][: args.budget])
                to_best.append(r["to_best"] / len(table))
                for b in budgets:
                    at[b].append(r["ratio"][min(b, len(r["ratio"])) - 1])
        result["searchers"][name] = {"trials_to_best_fraction": float(np.mean(to_best)),
                                     **{f"of_best_after_{b}": float(np.mean(at[b])) for b in budgets}}
        print(f"{name:14s} best found after {np.mean(to_best) * 100:5.1f}% of the space on average; "
              + ", ".join(f"after {b}: {np.mean(at[b]) * 100:5.1f}% of best" for b in budgets), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


# -- end to end ---------------------------------------------------------------------------------

def _plans(path, target, db):
    """The model planned without tuned records and with the records of ``db``."""
    from tinyjit import schedule
    from tinyjit.pipeline import compile_model
    empty = Path(tempfile.mkdtemp()) / "none.jsonl"
    old = os.environ.get("TINYJIT_TUNED_DB")
    try:
        os.environ["TINYJIT_TUNED_DB"] = str(empty)
        default = compile_model(str(path), target=target)
        os.environ["TINYJIT_TUNED_DB"] = str(db)
        tuned = compile_model(str(path), target=target)
    finally:
        if old is None:
            os.environ.pop("TINYJIT_TUNED_DB", None)
        else:
            os.environ["TINYJIT_TUNED_DB"] = old
        schedule._load.cache_clear()
    return default, tuned


def _host_e2e(name, path, target, db, rounds):
    from tinyjit.executor import Executor
    default, tuned = _plans(path, target, db)
    n_tuned = sum(s.tuned and s.schedule != d.schedule for s, d in zip(tuned.steps, default.steps))
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(default.tensors[i].shape).astype(default.tensors[i].dtype) for i in default.inputs]
    # a second executor of the default plan is the control: its ratio to the first is the noise
    ex = {"default": Executor(default), "tuned": Executor(tuned), "control": Executor(default)}
    outs = {k: e.run(inputs) for k, e in ex.items()}
    err = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) for a, b in zip(outs["tuned"], outs["default"]))
    t0 = time.perf_counter()
    for _ in range(3):
        ex["default"].run(inputs)
    number = max(1, int(0.03 / max((time.perf_counter() - t0) / 3, 1e-6)))
    samples = {k: [] for k in ex}
    order = list(ex)
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):       # A B C C B A ...: drift hits all alike
            e = ex[k]
            t0 = time.perf_counter()
            for _ in range(number):
                e.run(inputs)
            samples[k].append((time.perf_counter() - t0) / number)
    d, t, c = (float(np.median(samples[k])) for k in ("default", "tuned", "control"))
    return {"model": name, "unit": "s", "default": d, "tuned": t, "gain": d / t, "control_ratio": d / c,
            "steps_changed": n_tuned, "steps": len(tuned.steps), "max_rel_diff": err, "load": os.getloadavg()[0]}


def _mcu_e2e(name, path, target, db):
    from tinyjit.export import export, verify
    default, tuned = _plans(path, target, db)
    n_tuned = sum(s.tuned and s.schedule != d.schedule for s, d in zip(tuned.steps, default.steps))
    out = {}
    for kind, plan in (("default", default), ("tuned", tuned)):
        d = Path(tempfile.mkdtemp()) / kind
        export(plan, target, d)
        rep = verify(d)
        if not rep["match"]:
            raise SystemExit(f"{name} {kind}: the C output does not match the executor's")
        out[kind] = rep["instructions"]
    return {"model": name, "unit": "instructions", "default": out["default"], "tuned": out["tuned"],
            "gain": out["default"] / out["tuned"], "steps_changed": n_tuned, "steps": len(tuned.steps)}


def _layer_sums(path, target, db):
    """Sum over the model's tuned layers (each as often as it occurs) of the default and the tuned
    figure of the records: what the layers alone gain, whatever the rest of the model costs."""
    from tinyjit.tune import load_graph
    from tinyjit.tune.report import load
    from tinyjit.tune.task import extract
    rows = {(r["kernel"], r["signature"]): r for r in load(db) if r["default"] and r["best"]}
    d = t = 0.0
    n = 0
    for task in extract(load_graph(str(path)), target):
        r = rows.get((task.kernel, task.signature))
        if r:
            d += task.count * r["default"]
            t += task.count * r["best"]
            n += task.count
    return {"layers_tuned": n, "layers_default": d, "layers_tuned_sum": t, "layers_gain": d / t if t else None}


def cmd_e2e(args):
    from tinyjit import targets
    rows = []
    native = targets.get(args.target).native
    for name, path in models(args.kind).items():
        try:
            row = (_host_e2e(name, path, args.target, args.db, args.rounds) if native
                   else _mcu_e2e(name, path, args.target, args.db))
        except Exception as e:       # a model the tree cannot run right now: say so, go on
            row = {"model": name, "error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}
        row.update(_layer_sums(path, args.target, args.db))
        rows.append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["tune", "compare", "e2e"])
    p.add_argument("--target", default="x86_64")
    p.add_argument("--kind", default="float", choices=["float", "int8"])
    p.add_argument("--db", required=True)
    p.add_argument("--trials", type=int, default=15)
    p.add_argument("--searcher", default="model")
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--batch", type=int, default=8, help="compare: candidates per round (the tuner's --batch)")
    p.add_argument("--budget", type=int, default=8, help="compare: trials per layer the model carries over")
    p.add_argument("--no-transfer", dest="transfer", action="store_false")
    p.add_argument("--out")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    suffix = f"_batch{args.batch}" if args.command == "compare" else ""
    args.out = args.out or str(Path(args.db).with_name(f"{args.command}_{args.target}_{args.kind}{suffix}.json"))
    {"tune": cmd_tune, "compare": cmd_compare, "e2e": cmd_e2e}[args.command](args)


if __name__ == "__main__":
    main()
