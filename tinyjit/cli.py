"""The `tinyjit` command line. Every user error ends as one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import TinyJitError


def _parse_shapes(items: list[str] | None) -> dict | None:
    if not items:
        return None
    shapes = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            raise TinyJitError(f"--input-shape {item!r}: expected NAME=d0,d1,... with integer dims") from None
        if not sep or not name:
            raise TinyJitError(f"--input-shape {item!r}: expected NAME=d0,d1,...")
    return shapes


def _quantize_flags(p) -> None:
    p.add_argument("--quantize", choices=["int8"], help="post-training quantization on --calibration data")
    p.add_argument("--calibration", metavar="DATA", help=".npz with one array per input name (first axis = "
                   "samples), or a folder of .npy files named after the inputs")
    p.add_argument("--calibration-method", choices=["minmax", "percentile", "kl"], default="percentile",
                   help="how activation ranges are estimated: 99.99th percentile of |x| (default), min/max, "
                   "or entropy (KL)")
    p.add_argument("--keep-float", metavar="NODE,...", help="nodes that stay float (comma-separated names)")
    p.add_argument("--int8-io", action="store_true", help="int8 model inputs and outputs (default: float)")


def _quantize_options(args) -> dict:
    if args.quantize is None:
        given = [f for f, v in (("--calibration", args.calibration), ("--keep-float", args.keep_float),
                                ("--int8-io", args.int8_io)) if v]
        if given:
            raise TinyJitError(f"{', '.join(given)} given without --quantize int8")
        return {}
    keep = [n for n in (args.keep_float or "").split(",") if n]
    return dict(quantize=args.quantize, calibration=args.calibration, calibration_method=args.calibration_method,
                keep_float=keep, int8_io=args.int8_io)


def cmd_convert(args) -> None:
    from .pipeline import convert
    plan = convert(args.model, args.output, _parse_shapes(args.input_shape), args.target, **_quantize_options(args))
    print(f"wrote {args.output}: {len(plan.steps)} steps, arena {plan.arena_bytes:,} B, "
          f"weights {plan.weights_bytes:,} B")


def _load_inputs(path: str, session) -> dict:
    names = [a.name for a in session.get_inputs()]
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise TinyJitError(f"{path}: no such file") from None
    except Exception as e:
        raise TinyJitError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if isinstance(data, np.ndarray):
        if len(names) != 1:
            raise TinyJitError(f"the model has {len(names)} inputs {names}: pass an .npz with one array per name")
        return {names[0]: data}
    return {k: data[k] for k in data.files}


def _save_atomic(path: str, save) -> None:
    """Write through a temp file in the same folder: a failure never leaves half a file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", suffix=target.suffix)
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cmd_run(args) -> None:
    from .session import InferenceSession
    sess = InferenceSession(args.model, input_shapes=_parse_shapes(args.input_shape))
    feed = _load_inputs(args.input, sess)
    outputs = sess.run(None, feed)
    names = [o.name for o in sess.get_outputs()]
    if args.output:
        if args.output.endswith(".npz"):
            _save_atomic(args.output, lambda p: np.savez(open(p, "wb"), **dict(zip(names, outputs))))
        elif len(outputs) == 1:
            _save_atomic(args.output, lambda p: np.save(open(p, "wb"), outputs[0]))
        else:
            raise TinyJitError(f"the model has {len(outputs)} outputs: write them to an .npz file")
        print(f"wrote {args.output}")
    else:
        with np.printoptions(precision=5, suppress=True, threshold=64):
            for name, value in zip(names, outputs):
                print(f"{name} {value.dtype}{list(value.shape)}:\n{value}")


def inspect_report(plan) -> dict:
    ops = []
    for s in plan.steps:
        out = plan.tensors[s.args[-1]] if s.args else None
        ops.append({"node": s.node, "op": s.op, "kernel": s.kernel, "schedule": s.schedule, "tuned": s.tuned,
                    "macs": s.macs, "output_shape": list(out.shape) if out else None})
    tensors = [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "location": t.location,
                "offset": t.offset, "bytes": t.nbytes} for t in plan.tensors]
    return {"name": plan.name, "target": plan.target, "format_version": list(plan.version),
            "arena_bytes": plan.arena_bytes, "weights_bytes": plan.weights_bytes,
            "macs": sum(s.macs for s in plan.steps),
            "inputs": [plan.tensors[i].name for i in plan.inputs],
            "outputs": [plan.tensors[i].name for i in plan.outputs], "ops": ops, "tensors": tensors}


def cmd_inspect(args) -> None:
    from . import format as tjm
    from .pipeline import compile_model, model_kind
    options = _quantize_options(args)
    sqnr = None
    if options:
        from .quantize import quantize_and_measure
        plan, sqnr = quantize_and_measure(args.model, **options)
    else:
        plan = tjm.load(args.model) if model_kind(args.model) == "tjm" else compile_model(args.model)
    report = inspect_report(plan)
    if sqnr is not None:
        report["sqnr_db"] = {node: None if db == float("inf") else round(db, 2) for node, _, db in sqnr}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    console = Console(width=None if sys.stdout.isatty() else 200)   # pipes: no truncated columns
    table = Table(title=f"{plan.name} ({plan.target})")
    for col in ("#", "node", "op", "kernel", "schedule", "output", "MACs"):
        table.add_column(col, justify="right" if col in ("#", "MACs") else "left")
    for i, op in enumerate(report["ops"]):
        sched = ", ".join(f"{k}={v}" for k, v in op["schedule"].items()) + (" (tuned)" if op["tuned"] else "")
        table.add_row(str(i), op["node"], op["op"], op["kernel"], sched or "-", str(op["output_shape"]),
                      f"{op['macs']:,}")
    console.print(table)
    if sqnr is not None:
        quality = Table(title="int8 vs float on the calibration data (SQNR of each layer's output)")
        for col in ("node", "op", "SQNR dB"):
            quality.add_column(col, justify="right" if col == "SQNR dB" else "left")
        for node, op, db in sqnr:
            quality.add_row(node, op, "exact" if db == float("inf") else f"{db:.1f}")
        console.print(quality)
    for kind in ("inputs", "outputs"):
        for name in report[kind]:
            t = plan.tensor(name)
            console.print(f"{kind[:-1]}: {name} {t.dtype}{list(t.shape)}")
    console.print(f"tensors: {len(plan.tensors)}  arena: {plan.arena_bytes:,} B  weights: {plan.weights_bytes:,} B"
                  f"  MACs: {report['macs']:,}")


def cmd_demo(args) -> None:
    from . import demo
    from .pipeline import convert
    from .session import InferenceSession
    out_dir = Path(args.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, tjm_path = out_dir / "ds_cnn_kws.onnx", out_dir / "ds_cnn_kws.tjm"
    onnx_path.write_bytes(demo.build_ds_cnn().SerializeToString())
    print(f"built   {onnx_path}  (DS-CNN keyword spotting, made with onnx.helper)")
    t0 = time.perf_counter()
    plan = convert(str(onnx_path), str(tjm_path))
    print(f"convert {tjm_path}  {len(plan.steps)} kernels, {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    sess = InferenceSession(str(tjm_path))
    x = demo.demo_input()
    (probs,) = sess.run(None, {"input": x})
    print(f"load + first run (JIT compile or cache)  {time.perf_counter() - t0:.2f} s")
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        sess.run(None, {"input": x})
        times.append(time.perf_counter() - t)
    with np.printoptions(precision=4, suppress=True):
        print(f"output  probabilities {probs[0]}  -> class {int(probs.argmax())}")
    print(f"latency median {np.median(times) * 1e6:.1f} us over {args.repeat} runs (batch 1, one thread)")
    print(f"memory  arena {plan.arena_bytes:,} B (activations, statically planned), "
          f"weights {plan.weights_bytes:,} B, MACs {sum(s.macs for s in plan.steps):,}")


def cmd_export(args) -> None:
    from .export import export
    meta = export(args.model, args.target, args.output)
    print(f"wrote {args.output}: {meta['model']} for {meta['target']}, {len(meta['kernels'])} kernels, "
          f"arena {meta['arena_bytes']:,} B, weights {meta['weights_bytes']:,} B (make -C {args.output}; "
          f"tinyjit verify {args.output})")


def cmd_verify(args) -> None:
    from .export import verify
    report = verify(args.project, input_path=args.input)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        def fmt(v):
            return "-" if v is None else (f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
        print(f"{report['model']} on {report['target']}: output {'matches' if report['match'] else 'DIFFERS from'} "
              f"the Python executor (max error {report['max_error']:.3g})")
        for key in ("instructions", "instructions_per_mac", "flash_bytes", "ram_bytes", "arena_bytes", "stack_bytes"):
            print(f"  {key:22s} {fmt(report.get(key))}")
    if not report["match"]:
        raise TinyJitError(f"{args.project}: the C output differs from the Python executor's")


def cmd_devices(args) -> None:
    from .deploy import commands
    commands.devices(args)


def cmd_profile(args) -> None:
    from .deploy import commands
    commands.profile(args)


def cmd_plan(args) -> None:
    from .deploy import commands
    commands.plan(args)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _load_user_kernels(args) -> list:
    from .registry import load_kernels
    return [k for path in (getattr(args, "kernels", None) or []) for k in load_kernels(path)]


def cmd_kernel(args) -> None:
    from . import primitive_stubs, prototype
    from .registry import load_user_code
    kernels, prims = load_user_code(args.file)
    if not kernels and not prims:
        raise TinyJitError(f"{args.file} registers no kernel (use @tinyjit.kernel(...)) and no primitive "
                           f"(@tinyjit.primitive)")
    targets = args.target or []
    if args.action == "test":
        for target in targets:
            for line in primitive_stubs.check(prims, target, seed=args.seed):
                print(line)
        if prims and not targets:
            print(f"primitives {', '.join(p.name for p in prims)}: C definitions not checked "
                  f"(--target cortex-m4, --target generic, ... checks them against the Python ones)")
    for k in kernels:
        if args.action == "test":
            for line in prototype.check(k, trials=args.trials, seed=args.seed):
                print(line)
        elif args.action == "bench":
            for target in targets:
                for row in prototype.count_instructions(k, target):
                    print(f"{k.name} {row['schedule']}: {row['instructions']:,} instructions on {target}")
            if targets:
                continue
            for row in prototype.bench(k):
                print(f"{k.name} {row['schedule'] or '(no knobs)'}: {row['median_us']:.1f} us, "
                      f"{row['gops']:.3f} G elements/s")
        else:
            for target in targets or ["generic"]:
                print(prototype.show_c(k, target))


def cmd_tune(args) -> None:
    from . import tune
    from .tune import report
    if args.report:
        rows = report.load(args.report)
        if args.json:
            print(json.dumps(report.json_rows(rows), indent=2))
        else:
            _print_tune_report(rows, args.report)
        if args.plot != "none" and rows:
            png = args.plot or f"{Path(args.report).stem}-tuning.png"
            report.plot(rows, png, title=f"tinyjit tune: {Path(args.report).name}")
            print(f"wrote {png}", file=sys.stderr if args.json else sys.stdout)
        return
    if not args.model:
        raise TinyJitError("tune: give a .onnx/.tflite/.tjm model to tune, or --report DB")
    _load_user_kernels(args)
    summaries = tune.tune_model(args.model, args.target, args.trials, db=args.db, searcher=args.searcher,
                                seed=args.seed, batch=args.batch, ray=args.ray, progress=not args.no_progress,
                                only=args.only, input_shapes=_parse_shapes(args.input_shape))
    db = args.db or tune.default_db(args.target)
    rows = [r for r in report.load(db) if any(r["kernel"] == s.kernel and r["signature"] == s.signature
                                              and r["target"] == args.target for s in summaries)]
    _print_tune_report(rows, db)


def _print_tune_report(rows: list, db) -> None:
    from rich.console import Console
    from rich.table import Table
    from .tune import report
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"tuning records: {db}")
    for col in ("kernel", "signature", "default", "best", "trials", "speedup", "best schedule"):
        table.add_column(col, justify="right" if col in ("default", "best", "trials", "speedup") else "left")
    for row in report.format_rows(rows):
        table.add_row(*row)
    console.print(table)
    if not rows:
        console.print("no tuning records")


def _kernels_flag(p) -> None:
    p.add_argument("--kernels", action="append", metavar="DIR", help="load user kernels from a folder or file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinyjit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert a .onnx or .tflite model to a .tjm runtime model")
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--input-shape", action="append", metavar="NAME=d0,d1,...",
                   help="fix the shape of a dynamic input (repeatable)")
    p.add_argument("--target", default="x86_64")
    _kernels_flag(p)
    _quantize_flags(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("run", help="run a model on inputs from .npy/.npz")
    p.add_argument("model")
    p.add_argument("--input", "-i", required=True, help=".npy (one input) or .npz (one array per input name)")
    p.add_argument("-o", "--output", help=".npy (one output) or .npz")
    p.add_argument("--input-shape", action="append", metavar="NAME=d0,d1,...")
    _kernels_flag(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", help="ops, tensors, schedules, arena and weight bytes, MACs "
                                       "(with --quantize: per-layer SQNR against the float model)")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    _quantize_flags(p)
    _kernels_flag(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("kernel", help="prototype a kernel: test it against its reference, time its schedules")
    p.add_argument("action", choices=["test", "bench", "show-c"])
    p.add_argument("file", help="a kernel file (or a folder of them)")
    p.add_argument("--target", action="append", metavar="TARGET",
                   help="show-c: the C target (default generic); bench: count instructions under QEMU; test: "
                        "check the file's primitives' C definitions for it (repeatable)")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_kernel)

    p = sub.add_parser("tune", help="search kernel schedules for a target; --report shows the records")
    p.add_argument("model", nargs="?", help=".onnx, .tflite or .tjm model whose layers to tune")
    p.add_argument("--target", default="x86_64")
    p.add_argument("--trials", type=int, default=64, help="candidates per layer signature (default included)")
    p.add_argument("--db", help="record file (default: schedules/tuned/<target>.jsonl, which convert reads)")
    p.add_argument("--searcher", default="model", help="model (cost-model guided), evolution or random")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=8, help="candidates proposed per round")
    p.add_argument("--ray", metavar="auto|ADDRESS", help="measure candidates as Ray tasks on a cluster")
    p.add_argument("--only", action="append", metavar="NAME", help="tune only this kernel or node (repeatable)")
    p.add_argument("--input-shape", action="append", metavar="NAME=d0,d1,...")
    _kernels_flag(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--report", metavar="DB", help="print default vs tuned per op signature of a record file")
    p.add_argument("--json", action="store_true", help="--report as JSON")
    p.add_argument("--plot", metavar="PNG", help="--report: where to draw best-so-far vs trials ('none': no plot)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("demo", help="build, convert and run the bundled DS-CNN model")
    p.add_argument("--dir", default="tinyjit-demo")
    p.add_argument("--repeat", type=int, default=200)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export", help="write a self-contained C project of a .tjm for a microcontroller")
    p.add_argument("model", help="a .tjm (tinyjit convert ... --target <target>)")
    p.add_argument("--target", required=True, help="cortex-m4, cortex-m7, cortex-m55, rv32imac, rv64gcv, x86_64, generic")
    p.add_argument("-o", "--output", required=True, help="the project directory (replaced if it is an earlier export)")
    _kernels_flag(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("verify", help="build an exported project, run it under QEMU, compare with the Python executor")
    p.add_argument("project", help="a directory written by tinyjit export")
    p.add_argument("--input", "-i", help=".npy/.npz input (default: seeded random data)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _kernels_flag(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("devices", help="the deployment planner's device and link database")
    p.add_argument("--device-file", action="append", metavar="TOML", help="add or override devices and links")
    p.add_argument("--sources", action="store_true", help="print where every figure comes from")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("profile", help="per-layer latency, memory and output bytes of a model on a device")
    p.add_argument("model", help=".tjm (or .onnx/.tflite, converted in memory)")
    p.add_argument("--device", default="host", help="a device of `tinyjit devices` (default: host, measured)")
    p.add_argument("--device-file", action="append", metavar="TOML")
    p.add_argument("--qemu", action="store_true", help="MCU targets: instruction counts from tinyjit export/verify")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("plan", help="standalone, cloud-edge or edge-cluster: plan (and run) a model over devices")
    p.add_argument("model", help=".tjm (or .onnx/.tflite, converted in memory)")
    p.add_argument("--devices", required=True, help="comma-separated; the first is where the input comes from")
    p.add_argument("--links", default="", help="DEV-DEV:LINK,... e.g. esp32-rv1109:wifi,rv1109-server:ethernet")
    p.add_argument("--device-file", action="append", metavar="TOML")
    p.add_argument("--objective", default="latency", choices=["latency", "energy"])
    p.add_argument("--qemu", action="store_true", help="MCU targets: instruction counts from tinyjit export/verify")
    p.add_argument("--json", action="store_true")
    p.add_argument("--gantt", metavar="PNG", help="draw the winning plan as a Gantt chart")
    p.add_argument("--execute", action="store_true", help="run the partitions in local processes over TCP")
    p.add_argument("--emulate", default="device", choices=["device", "host"],
                   help="--execute: pace compute to the devices' predicted speed, or run at this machine's")
    p.add_argument("--runs", type=int, default=5, help="--execute: timed runs (median reported)")
    p.add_argument("--out", metavar="DIR", help="write the partitions (.tjm, and C projects for MCU targets) here")
    p.add_argument("--ray", metavar="auto|local|ADDRESS",
                   help="run the partitions as Ray actors, each on the node offering the resource device:NAME "
                        "(tinyjit[distributed]; local: start Ray here offering every device)")
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _load_user_kernels(args)
        args.func(args)
    except TinyJitError as e:
        print(f"tinyjit: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tinyjit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:   # a bug in tinyjit: still one line, the traceback on request
        if os.environ.get("TINYJIT_DEBUG"):
            raise
        print(f"tinyjit: internal error: {type(e).__name__}: {_one_line(e)} (set TINYJIT_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
