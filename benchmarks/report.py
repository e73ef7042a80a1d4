"""Run the benchmarks and write docs/benchmarks.md with its plots.

    python benchmarks/report.py                   # run everything (about 10 minutes), then write the report
    python benchmarks/report.py --json out.json --roofline roofline.json   # only write it from earlier runs

The latency suites are pytest-benchmark files with one convention: one group per model and data
type ("<model>-float", "<model>-int8"), a ``runtime`` parameter (tinyjit, onnxruntime, litert) and
extra_info with model, runtime and dtype. bench_float.py always runs; bench_int8.py joins the same
pytest run (and the report gains its int8 section) when it is present. The roofline figures
(benchmarks/roofline.py) are measured in the same run, right after.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
DOCS = REPO / "docs"
RESULTS = BENCH / "results"
SUITES = {"float32": BENCH / "bench_float.py", "int8": BENCH / "bench_int8.py"}
RUNTIME_NAMES = {"tinyjit": "tinyjit", "onnxruntime": "onnxruntime", "litert": "LiteRT"}
MODEL_NAMES = {"kws": "KWS (DS-CNN)", "vww": "VWW (MobileNet)", "resnet": "ResNet-8", "ad": "AD (autoencoder)"}
# the bars of the tracker's issues 2 and 5: (label, limit)
TARGETS = {
    "float32": {"ort_each": [("issue 2: tinyjit within 2.0x onnxruntime on every model", 2.0),
                             ("issue 5: tinyjit at most 1.0x onnxruntime on every model", 1.0)],
                "litert_geomean": [("issue 5: geometric mean at most 1.0x LiteRT", 1.0)]},
    "int8": {"ort_each": [("issue 5: tinyjit at most 1.0x onnxruntime (QDQ) on every model", 1.0)],
             "litert_geomean": [("issue 5: geometric mean at most 1.2x LiteRT int8", 1.2)]},
}
WARM_START_LIMIT_S = 2.0
OVERHEAD_LIMIT_US = 5.0
START_PARTS = ("import_s", "load_s", "first_run_s")     # bench_float.py's start, seconds


def run_benchmarks(json_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    files = [str(path) for path in SUITES.values() if path.exists()]
    cmd = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", "--benchmark-json", str(json_path),
           "--benchmark-columns=median,iqr,min,rounds", "--benchmark-group-by=group", "--benchmark-sort=name"]
    if subprocess.run(cmd, cwd=REPO).returncode != 0:     # a failed check drops its benchmark, not the report
        print("some benchmarks failed (see above): the report holds the ones that ran", file=sys.stderr)
    if not json_path.exists():
        raise SystemExit(f"pytest wrote no {json_path}")


def load(json_path: Path):
    """(raw data, latency medians in us keyed by (dtype, model, runtime), start info keyed by
    (model, "cold"/"warm"), overhead medians in us keyed by call)."""
    data = json.loads(json_path.read_text())
    latency, start, overhead = {}, {}, {}
    for b in data["benchmarks"]:
        info, stats = b["extra_info"], b["stats"]
        if b["group"] == "start":
            start[(info["model"], info["start"])] = info
        elif b["group"] == "overhead":
            overhead[info["call"]] = stats["median"] * 1e6
        else:
            key = (info.get("dtype", "float32"), info["model"], info["runtime"])
            latency[key] = {k: stats[k] * 1e6 for k in ("median", "min", "iqr")}
    return data, latency, start, overhead


def machine() -> dict:
    cpu, flags = platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import numba
    import numpy
    import onnxruntime
    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__,
                "onnxruntime": onnxruntime.__version__}
    try:
        from importlib.metadata import version
        versions["ai-edge-litert"] = version("ai-edge-litert")
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "isa": [f for f in ("avx2", "fma", "avx512f") if f in flags],
            "versions": versions, "load": os.getloadavg()[0]}


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ratios(latency, dtype, models):
    """Per model (tinyjit/onnxruntime, tinyjit/LiteRT) from the medians of one run."""
    out = {}
    for m in models:
        tj, ort, lr = (latency.get((dtype, m, r), {}).get("median") for r in RUNTIME_NAMES)
        out[m] = (tj / ort if tj and ort else None, tj / lr if tj and lr else None)
    return out


def plot_latency(latency, dtype, models, png: Path, start=None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = 2 if start else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 + 5 * (panels - 1), 4.2), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2][:panels]})
    ax = axes[0][0]
    width = 0.26
    colors = {"tinyjit": "#d95f02", "onnxruntime": "#1b9e77", "litert": "#7570b3"}
    for k, runtime in enumerate(RUNTIME_NAMES):
        xs = [i + (k - 1) * width for i in range(len(models))]
        ys = [latency.get((dtype, m, runtime), {}).get("median", float("nan")) for m in models]
        ax.bar(xs, ys, width, label=RUNTIME_NAMES[runtime], color=colors[runtime])
    for i, (m, (r_ort, _)) in enumerate(ratios(latency, dtype, models).items()):
        if r_ort:
            ax.annotate(f"{r_ort:.2f}x ort", (i - width, latency[(dtype, m, "tinyjit")]["median"]),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(models)), [MODEL_NAMES.get(m, m) for m in models], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("batch-1 latency, median (us, log scale)")
    ax.set_title(f"{'Float' if dtype == 'float32' else 'int8'} MLPerf Tiny models, 1 thread")
    ax.legend(fontsize=8)
    if start:
        ax2 = axes[0][1]
        for k, kind in enumerate(("cold", "warm")):
            xs = [i + (k - 0.5) * 0.38 for i in range(len(models))]
            bottom = [0.0] * len(models)
            for part, color in zip(START_PARTS, ("#bbbbbb", "#e6ab02", "#d95f02")):
                ys = [start.get((m, kind), {}).get(part, 0.0) for m in models]
                ax2.bar(xs, ys, 0.36, bottom=bottom, color=color, edgecolor="white",
                        label=part[:-2].replace("_", " ") if k == 0 else None, hatch="//" if kind == "warm" else None)
                bottom = [b + y for b, y in zip(bottom, ys)]
        ax2.set_xticks(range(len(models)), models, fontsize=8)
        ax2.set_ylabel("seconds")
        ax2.set_title("tinyjit start: cold (left) / warm (right, hatched)")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _us(v) -> str:
    return f"{v:,.1f}" if v else "n/a"


def _x(v) -> str:
    return f"{v:.2f}x" if v else "n/a"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def latency_section(latency, dtype, models, png: Path, how: str) -> tuple[list[str], list[tuple[str, bool | None, str]]]:
    """The table of one data type and the verdicts on its bars."""
    title = "Float" if dtype == "float32" else "int8"
    lines = [f"## {title} MLPerf Tiny models, batch 1, one thread", "", how, "",
             "| model | tinyjit (us) | onnxruntime (us) | LiteRT (us) | tinyjit / onnxruntime | tinyjit / LiteRT |",
             "|---|---:|---:|---:|---:|---:|"]
    r = ratios(latency, dtype, models)
    for m in models:
        tj, ort, lr = (latency.get((dtype, m, rt), {}).get("median") for rt in RUNTIME_NAMES)
        lines.append(f"| {MODEL_NAMES.get(m, m)} | {_us(tj)} | {_us(ort)} | {_us(lr)} | {_x(r[m][0])} | {_x(r[m][1])} |")
    g_ort, g_lr = geomean([v[0] for v in r.values()]), geomean([v[1] for v in r.values()])
    lines += [f"| **geometric mean** | | | | **{_x(g_ort)}** | **{_x(g_lr)}** |", "", f"![{title} latency](./{png.name})", ""]
    verdicts = []
    worst = max((v[0] for v in r.values() if v[0]), default=None)
    for label, limit in TARGETS[dtype]["ort_each"]:
        misses = [m for m, v in r.items() if v[0] and v[0] > limit]
        verdicts.append((label, None if worst is None else not misses,
                         f"worst {_x(worst)}" + (f"; over the bar: {', '.join(misses)}" if misses else "")))
    for label, limit in TARGETS[dtype]["litert_geomean"]:
        verdicts.append((label, None if g_lr is None else g_lr <= limit, f"geometric mean {_x(g_lr)}"))
    return lines, verdicts


def roofline_section(roofline: dict, png: Path) -> list[str]:
    peak = roofline["peak_gflops"]
    lines = ["## Roofline: conv and dense layers against the machine's peak", "",
             f"Every conv, depthwise and dense layer of the float models, run alone as the plan runs it (its "
             f"parameters as literals, on the plan's arena and packed weights), best of several samples; the "
             f"practical peak of one core is {roofline['peak_method']}, measured in the same run: "
             f"**{peak:.1f} GFLOP/s**. Depthwise layers (outlined in the plot) do 9 FLOPs per input value loaded "
             f"and are bound by loads, not FMAs.", "",
             f"![roofline](./{png.name})", "",
             "| model | layer | kernel | in -> out | MFLOP | us | GFLOP/s | of peak |",
             "|---|---:|---|---|---:|---:|---:|---:|"]
    for r in roofline["layers"]:
        lines.append(f"| {r['model']} | {r['step']} | {r['kernel']} | {'x'.join(map(str, r['in_shape']))} -> "
                     f"{'x'.join(map(str, r['out_shape']))} | {r['flops'] / 1e6:.2f} | {r['seconds'] * 1e6:.1f} | "
                     f"{r['gflops']:.1f} | {r['gflops'] / peak:.0%} |")
    lines.append("")
    return lines


def _parts(start: dict) -> str:
    return " / ".join(f"{start.get(part, float('nan')):.2f}" for part in START_PARTS)


def start_section(start, models) -> tuple[list[str], tuple[str, bool | None, str]]:
    lines = ["## tinyjit start: the hidden cost of the JIT", "",
             "A fresh Python process that imports tinyjit, loads the model's `.tjm` (converted beforehand) and "
             "runs it once, as `tinyjit run` does. Cold: an empty `TINYJIT_CACHE_DIR`, as on the first run after "
             "install, so Numba compiles every generated module. Warm: a second process with the cache the cold "
             "one filled. Import is tinyjit with numpy, Numba and its dependencies; load is the session (the plan "
             "compiled, or its compiled code loaded from the cache).", "",
             "| model | cold (s) | of which import / load / first run | warm (s) | of which import / load / first run |",
             "|---|---:|---:|---:|---:|"]
    for m in models:
        c, w = start.get((m, "cold"), {}), start.get((m, "warm"), {})
        lines.append(f"| {MODEL_NAMES.get(m, m)} | {c.get('total_s', float('nan')):.2f} | {_parts(c)} | "
                     f"{w.get('total_s', float('nan')):.2f} | {_parts(w)} |")
    lines.append("")
    warm = [start[(m, "warm")]["total_s"] for m in models if (m, "warm") in start]
    return lines, (f"issue 5: warm start under {WARM_START_LIMIT_S:.0f} s", max(warm) < WARM_START_LIMIT_S if warm else None,
                   f"slowest warm start {max(warm):.2f} s" if warm else "not measured")


def overhead_section(overhead) -> tuple[list[str], tuple[str, bool | None, str]]:
    lines = ["## Fixed cost of a run", "",
             "A one-node model (Relu on 16 floats), median of 20,000 runs: `session.run` as a user calls it "
             "(input checks, output arrays), and the bare native call of the compiled plan (Numba's dispatch of "
             "arena, weights, input and output).", "",
             "| call | median (us) |", "|---|---:|"]
    lines += [f"| {call} | {us:.2f} |" for call, us in overhead.items()] + [""]
    session = overhead.get("session")
    return lines, (f"issue 5: fixed cost of a run under {OVERHEAD_LIMIT_US:.0f} us (one-node model, session.run)",
                   None if session is None else session < OVERHEAD_LIMIT_US,
                   "not measured" if session is None else f"{session:.2f} us (native call {overhead.get('native', 0):.2f} us)")


def mcu_section(source: Path = DOCS / "benchmarks_mcu.md") -> list[str]:
    """The microcontroller tables (instructions under QEMU: deterministic, so measured once with
    `tinyjit verify` and kept in docs/benchmarks_mcu.md), one per target, repeated here."""
    if not source.exists():
        return []
    lines = ["## Microcontrollers: int8 MLPerf Tiny models in C under QEMU", "",
             f"From [{source.name}](./{source.name}), which says how they were measured.", ""]
    for part in source.read_text().split("\n## ")[1:]:
        title, _, text = part.partition("\n")
        tables, previous = [], ""
        for line in text.splitlines():
            if line.startswith("|"):
                tables += [line] if previous.startswith("|") or not tables else ["", line]
            previous = line
        if tables:
            lines += [f"### {title}", "", *tables, ""]
    return lines


def write_markdown(data, latency, start, overhead, roofline, info, md: Path, pngs: dict) -> None:
    lines = ["# Benchmarks", "",
             "Generated by `python benchmarks/report.py` (pytest-benchmark suites in `benchmarks/`, roofline by "
             "`benchmarks/roofline.py`); do not edit by hand. The machine is shared with other jobs and noisy: "
             "the three runtimes of a model are measured one right after the other in the same process, so "
             "compare within a row, and read the ratios rather than the absolute times.", ""]
    verdicts = []
    body = []
    how = {"float32": "Median latency of one inference as a user makes it (input in, output out), in microseconds, "
                      "2,000 rounds after warm-up. tinyjit converts the `.onnx` file, onnxruntime runs the same file "
                      "(1 intra-op and 1 inter-op thread), LiteRT runs the `.tflite` twin (`num_threads=1`, its "
                      "default XNNPACK delegate).",
           "int8": "The same, on the int8 models: tinyjit on the int8 `.tflite` (int8 in and out), onnxruntime on the "
                   "QDQ `.onnx` twin (1 thread), LiteRT on the int8 `.tflite` (1 thread)."}
    for dtype in SUITES:
        models = [m for m in MODEL_NAMES if any(k[:2] == (dtype, m) for k in latency)]
        if models:
            section, v = latency_section(latency, dtype, models, pngs[dtype], how[dtype])
            body += section
            verdicts += v
    if roofline:
        body += roofline_section(roofline, pngs["roofline"])
    if start:
        section, v = start_section(start, [m for m in MODEL_NAMES if (m, "cold") in start or (m, "warm") in start])
        body += section
        verdicts.append(v)
    if overhead:
        section, v = overhead_section(overhead)
        body += section
        verdicts.append(v)
    lines += ["## The bars", "", "| bar | verdict | measured |", "|---|---|---|"]
    lines += [f"| {label} | {_verdict(ok)} | {detail} |" for label, ok, detail in verdicts] + [""]
    lines += body + mcu_section()
    v = info["versions"]
    lines += ["## Machine", "",
              f"- CPU: {info['cpu']}, {info['cores']} cores; vector ISA flags: {', '.join(info['isa']) or 'unknown'}",
              f"- load average (1 min) when the report was written: {info['load']:.1f}",
              "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
              f"- benchmark run: {data.get('datetime', 'unknown')}", ""]
    md.write_text("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="read this pytest-benchmark JSON instead of running the suites")
    ap.add_argument("--roofline", type=Path, help="read this roofline.py JSON instead of measuring it")
    ap.add_argument("--out", type=Path, default=DOCS / "benchmarks.md")
    args = ap.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = args.json
    if json_path is None:
        json_path = RESULTS / f"latency-{stamp}.json"
        run_benchmarks(json_path)
    if args.roofline:
        roofline = json.loads(args.roofline.read_text())
    else:
        sys.path.insert(0, str(BENCH))
        import roofline as roofline_module
        roofline = roofline_module.measure()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"roofline-{stamp}.json").write_text(json.dumps(roofline, indent=1))
    data, latency, start, overhead = load(json_path)
    out_dir = args.out.parent
    pngs = {"float32": out_dir / "benchmarks_float.png", "int8": out_dir / "benchmarks_int8.png",
            "roofline": out_dir / "roofline_float.png"}
    for dtype in SUITES:
        models = [m for m in MODEL_NAMES if any(k[:2] == (dtype, m) for k in latency)]
        if models:
            plot_latency(latency, dtype, models, pngs[dtype], start if dtype == "float32" else None)
    if roofline:
        sys.path.insert(0, str(BENCH))
        import roofline as roofline_module
        roofline_module.plot(roofline, pngs["roofline"])
    write_markdown(data, latency, start, overhead, roofline, machine(), args.out, pngs)
    print(f"wrote {args.out} from {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
