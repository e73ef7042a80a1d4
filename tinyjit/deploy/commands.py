"""The `tinyjit devices`, `tinyjit profile` and `tinyjit plan` commands (cli.py calls these)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import TinyJitError
from . import devices as device_db


def _console():
    from rich.console import Console
    return Console(width=None if sys.stdout.isatty() else 200)


def _load_plan(path: str):
    from .. import format as tjm
    from ..pipeline import compile_model, model_kind
    return tjm.load(path) if model_kind(path) == "tjm" else compile_model(path)


def devices(args) -> None:
    db = device_db.load(args.device_file)
    if args.json:
        print(json.dumps({"tiers": db.tiers,
                          "devices": {k: {f: getattr(d, f) for f in device_db.DEVICE_FIELDS} | {"measured": d.measured}
                                      for k, d in db.devices.items()},
                          "links": {k: {f: getattr(l, f) for f in device_db.LINK_FIELDS} for k, l in db.links.items()}},
                         indent=2))
        return
    from rich.table import Table
    console = _console()
    table = Table(title="devices")
    for col in ("name", "tier", "ISA", "target", "clock", "RAM", "flash", "int8 MAC/s", "float MAC/s", "mem B/s"):
        table.add_column(col, justify="left" if col in ("name", "tier", "ISA", "target") else "right")
    for k, d in db.devices.items():
        if d.measured:
            table.add_row(k, d.tier, d.isa, d.target, "-", _si(d.ram_bytes, "B"), "-", "measured", "measured", "-")
            continue
        table.add_row(k, d.tier, d.isa, d.target or "-", _si(d.clock_hz, "Hz"), _si(d.ram_bytes, "B"),
                      _si(d.flash_bytes, "B"), _si(d.int8_macs_per_s, ""), _si(d.float_macs_per_s, ""),
                      _si(d.mem_bandwidth, ""))
    console.print(table)
    links = Table(title="links")
    for col in ("name", "bandwidth", "RTT ms", "description"):
        links.add_column(col)
    for k, l in db.links.items():
        links.add_row(k, _si(l.bandwidth_bps, "bit/s"), f"{l.rtt_ms:g}", l.name)
    console.print(links)
    console.print("tiers: " + "; ".join(f"{k}: {v}" for k, v in db.tiers.items()))
    if args.sources:
        for kind, entries in (("device", db.devices), ("link", db.links)):
            for k, e in entries.items():
                for field, src in e.sources.items():
                    console.print(f"{kind} {k}.{field}: {src}", highlight=False)


def _si(x: float, unit: str) -> str:
    for p, s in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= p:
            return f"{x / p:.3g} {s}{unit}"
    return f"{x:.3g} {unit}".strip()


def profile(args) -> None:
    from . import profile as prof
    db = device_db.load(args.device_file)
    dev = db.device(args.device)
    plan = _load_plan(args.model)
    mp = prof.build(plan)
    prof.add_device(mp, dev, qemu=args.qemu)
    lat = mp.latency[dev.key]
    rows = [{"step": s.index, "node": s.node, "op": s.op, "dtype": s.dtype, "macs": s.macs,
             "weight_bytes": s.weight_bytes, "activation_bytes": s.activation_bytes, "output_bytes": s.output_bytes,
             "cut_bytes_after": s.cut_bytes, "latency_ms": t * 1e3} for s, t in zip(mp.steps, lat)]
    report = {"model": plan.name, "device": dev.key, "latency_source": mp.source[dev.key],
              "note": mp.notes.get(dev.key), "input_bytes": mp.input_bytes, "total_latency_ms": sum(lat) * 1e3,
              "total_macs": sum(s.macs for s in mp.steps), "ram_bytes": plan.arena_bytes,
              "flash_bytes": plan.weights_bytes, "steps": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table
    console = _console()
    table = Table(title=f"{plan.name} on {dev.key}: latency {report['latency_source']}")
    for col in ("#", "op", "dtype", "MACs", "weights B", "activations B", "output B", "cut after B", "ms"):
        table.add_column(col, justify="left" if col in ("op", "dtype") else "right")
    for r in rows:
        table.add_row(str(r["step"]), r["op"], r["dtype"], f"{r['macs']:,}", f"{r['weight_bytes']:,}",
                      f"{r['activation_bytes']:,}", f"{r['output_bytes']:,}", f"{r['cut_bytes_after']:,}",
                      f"{r['latency_ms']:.4f}")
    console.print(table)
    console.print(f"input {mp.input_bytes:,} B (a cut before step 0 sends it); total {report['total_latency_ms']:.3f} ms "
                  f"({report['latency_source']}), {report['total_macs']:,} MACs, arena {plan.arena_bytes:,} B, "
                  f"weights {plan.weights_bytes:,} B")
    if report["note"]:
        console.print(f"note: {report['note']}")


def plan(args) -> None:
    from . import planner as pl
    from . import profile as prof
    from . import report as rep
    db = device_db.load(args.device_file)
    names = [d.strip() for d in args.devices.split(",") if d.strip()]
    for d in names:
        db.device(d)                     # unknown names fail before the model is read
    links = pl.parse_links(args.links, db)
    model = _load_plan(args.model)
    mp = prof.build(model)
    topo = pl.Topology(db, names, links)
    planner = pl.Planner(mp, topo, args.objective, qemu=args.qemu)
    result = planner.plan()
    execution = exports = None
    if args.out:
        exports = _write_partitions(planner, result.best, Path(args.out), qemu=args.qemu)
    if args.execute or args.ray:
        best = result.best
        if not best.executable:
            alt = min((c for c in result.candidates if c.executable and c.fits), key=planner._cost)
            print(f"note: the winning {best.kind} plan is an estimate; executing the best layer-range plan "
                  f"({alt.describe()}) instead", file=sys.stderr)
            best = alt
        if args.ray:
            from .ray_runtime import execute_on_ray
            execution = execute_on_ray(planner, best, args.ray, runs=args.runs, emulate=args.emulate)
        else:
            from .runtime import execute
            execution = execute(planner, best, runs=args.runs, emulate=args.emulate)
    if args.gantt:
        rep.gantt(planner, result, args.gantt, execution)
    if args.json:
        out = rep.to_json(planner, result, execution)
        if exports is not None:
            out["exports"] = exports
        print(json.dumps(out, indent=2, default=_jsonable))
    else:
        rep.print_text(planner, result, execution, _console())
        for e in exports or ():
            print(f"wrote {e['path']}" + (f": {e['note']}" if e.get("note") else "")
                  + (f"; under QEMU {e['instructions']:,} instructions = {e['qemu_ms']:.3f} ms on {e['device']} "
                     f"(the plan's {e['latency_source']} figure: {e['predicted_ms']:.3f} ms), output "
                     + ("matches" if e["match"] else "DIFFERS") if e.get("instructions") else ""))
        if args.gantt:
            print(f"wrote {args.gantt}")
    if execution is not None and not execution["match"]:
        raise TinyJitError("the partitioned run's output differs from the whole model's")


def _jsonable(x):
    import numpy as np
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(type(x).__name__)


def _write_partitions(planner, cand, out: Path, qemu: bool = False) -> list[dict]:
    """Each partition as .tjm; for devices with an MCU target, its exported C project too (with
    ``qemu``: built, run under QEMU and compared with the Python executor by tinyjit verify)."""
    from .. import format as tjm
    from .runtime import partitions
    if not cand.executable:
        return []
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (st, part) in enumerate(zip(cand.stages, partitions(planner, cand))):
        path = out / f"part{i}-{st.device}.tjm"
        tjm.save(part, path)
        entry = {"partition": i, "device": st.device, "steps": [st.start, st.stop], "path": str(path)}
        written.append(entry)
        dev = planner.topo.db.device(st.device)
        if not (dev.target and dev.target not in ("x86_64", "generic") and part.steps):
            continue
        try:
            from ..export.project import export
            from ..export.verify import verify
        except ImportError as e:
            entry["note"] = f"no C project: tinyjit.export is not available ({e})"
            continue
        project = out / f"part{i}-{st.device}-{dev.target}"
        export(part, dev.target, project)
        written.append({"partition": i, "device": st.device, "target": dev.target, "path": str(project)})
        if qemu:
            report = verify(project)
            instructions = report.get("instructions")
            written[-1].update({"match": report["match"], "instructions": instructions,
                                "flash_bytes": report.get("flash_bytes"), "ram_bytes": report.get("ram_bytes"),
                                "qemu_ms": instructions * dev.cpi / dev.clock_hz * 1e3 if instructions else None,
                                "predicted_ms": st.compute_s * 1e3, "latency_source": st.source})
    return written
