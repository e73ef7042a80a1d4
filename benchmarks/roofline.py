"""Achieved GFLOP/s of every conv, depthwise and dense layer of the float MLPerf Tiny models,
against this machine's practical peak: numpy's sgemm on large matrices, one thread, same run.

    python benchmarks/roofline.py [--json out.json]     # prints a table; report.py plots it

Each layer runs as it does inside the plan: its kernel called with the plan's parameters as
literals (so LLVM specializes it the same way), on the plan's own arena and packed weights, in a
compiled loop of calls (no Python between them). A layer's time is the best of several samples,
and so is the peak's: the best a kernel can do on this machine, which the interference of
other processes on a shared machine only ever makes slower.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_float import MODELS, MODELS_DIR  # noqa: E402

LAYER_OPS = ("Conv", "DepthwiseConv", "Gemm")
# sgemm size: past the L2 cache, and large enough that packing and edges do not matter; a sample
# stays short (~3 ms) so that, as the layers', some samples fall between other processes' slices
PEAK_N = 512


def best_seconds(fn, samples: int = 9) -> float:
    best = float("inf")
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sgemm_peak_gflops(n: int = PEAK_N) -> float:
    """numpy's single-thread sgemm on n x n matrices: the practical FMA peak of one core."""
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    with threadpool_limits(limits=1):
        a @ b
        return 2 * n ** 3 / best_seconds(lambda: a @ b, samples=40) / 1e9


def _tensor_views(plan, arena, weights) -> list[np.ndarray]:
    views = []
    for t in plan.tensors:
        buf = arena if t.location == "arena" else weights
        size = int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize
        views.append(buf[t.offset:t.offset + size].view(t.dtype).reshape(t.shape or (1,)))
    return views


def _repeated_step(step):
    """A compiled ``f(n, *arrays)`` calling the step's kernel n times, its parameters as literals."""
    import numba

    from tinyjit import codegen, registry
    kernel = codegen.load_kernel(registry.by_name(step.kernel), step.schedule)
    arrays = [f"a{i}" for i in range(len(step.args))]
    call = ", ".join(arrays + [codegen._literal(p) for p in step.params])
    namespace = {"kernel": kernel, "np": np}
    exec(f"def repeat(n, {', '.join(arrays)}):\n    for _ in range(n):\n        kernel({call})\n", namespace)
    return numba.njit(namespace["repeat"])


def layer_rows(model: str, calls: int = 20) -> list[dict]:
    """One row per conv/depthwise/dense layer of ``model``: shapes, FLOPs, best time, GFLOP/s."""
    import tinyjit
    from tinyjit.executor import Executor
    plan = tinyjit.compile_model(str((MODELS_DIR / MODELS[model]).with_suffix(".onnx")))
    executor = Executor(plan)
    views = _tensor_views(plan, executor.arena, executor.weights)
    rows = []
    for index, step in enumerate(plan.steps):
        if step.op not in LAYER_OPS:
            continue
        repeat = _repeated_step(step)
        arrays = [views[a] for a in step.args]
        repeat(1, *arrays)
        seconds = best_seconds(lambda: repeat(calls, *arrays)) / calls
        x, y = plan.tensors[step.args[0]], plan.tensors[step.args[-1]]
        rows.append({"model": model, "step": index, "node": step.node, "op": step.op, "kernel": step.kernel,
                     "in_shape": list(x.shape), "out_shape": list(y.shape), "schedule": step.schedule,
                     "flops": 2 * step.macs, "seconds": seconds, "gflops": 2 * step.macs / seconds / 1e9})
    return rows


def measure(models=tuple(MODELS)) -> dict:
    """The peak before and after the layers (the best of both), and every layer's row."""
    peak = sgemm_peak_gflops()
    layers = [row for model in models for row in layer_rows(model)]
    return {"peak_gflops": max(peak, sgemm_peak_gflops()), "peak_method": f"numpy sgemm {PEAK_N}^3, 1 thread",
            "layers": layers}


def plot(result: dict, png: Path) -> None:
    """Per-layer bars (one colour a model), the peak as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    layers, peak = result["layers"], result["peak_gflops"]
    models = list(dict.fromkeys(r["model"] for r in layers))
    colors = dict(zip(models, ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]))
    fig, ax = plt.subplots(figsize=(max(8, 0.16 * len(layers) + 2), 4.2))
    xs = range(len(layers))
    ax.bar(xs, [r["gflops"] for r in layers], color=[colors[r["model"]] for r in layers],
           edgecolor=["black" if r["op"] == "DepthwiseConv" else "none" for r in layers], linewidth=0.4)
    ax.axhline(peak, color="black", linestyle="--", linewidth=1)
    ax.text(len(layers) - 0.5, peak, f"peak {peak:.0f} GFLOP/s ({result['peak_method']})",
            ha="right", va="bottom", fontsize=8)
    for m in models:
        ax.bar([0], [0], color=colors[m], label=m)
    ax.set_xticks([])
    ax.set_xlabel("conv, depthwise (outlined) and dense layers, in plan order per model")
    ax.set_ylabel("achieved GFLOP/s (float32)")
    ax.set_title("tinyjit float layers vs this core's sgemm peak, batch 1, one thread")
    ax.set_ylim(0, peak * 1.15)
    ax.legend(fontsize=8, loc="upper left", ncol=len(models))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    ap.add_argument("models", nargs="*", default=list(MODELS))
    args = ap.parse_args(argv)
    result = measure(args.models)
    print(f"peak: {result['peak_gflops']:.1f} GFLOP/s")
    for r in result["layers"]:
        print(f"{r['model']:7s} {r['op']:14s} {str(r['in_shape']):18s} -> {str(r['out_shape']):18s} "
              f"{r['seconds'] * 1e6:8.1f} us {r['gflops']:6.1f} GFLOP/s {r['gflops'] / result['peak_gflops']:5.0%}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
