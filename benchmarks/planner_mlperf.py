"""docs/planner.md's table: the four MLPerf Tiny float models x three scenarios, planned and run.

    python benchmarks/planner_mlperf.py [--runs 40] [--json out.json] [--png-dir docs]

For each model and scenario: the planner's choice, its predicted latency, `--execute`'s
measured latency (median of --runs passes over loopback TCP with emulated links, each after a
calibration pass), the runtime's calibrated overhead, and whether the output equals the whole
model's. The machine's load average is recorded around every run (these machines are shared).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models" / "mlperf_tiny"
FLOAT = {"kws": "kws_ref_model_float32.tflite", "resnet": "pretrainedResnet.tflite",
         "vww": "vww_96_float.tflite", "ad": "ad01_fp32.tflite"}
SCENARIOS = [   # (label, devices, links)
    ("esp32 alone", ["esp32"], {}),
    ("esp32 + rv1109, Wi-Fi", ["esp32", "rv1109"], {("esp32", "rv1109"): "wifi"}),
    ("esp32 + server (this machine), BLE", ["esp32", "host"], {("esp32", "host"): "ble"}),
    ("esp32 + server (this machine), Wi-Fi", ["esp32", "host"], {("esp32", "host"): "wifi"}),
]
PNGS = {("vww", 1): "planner_vww_esp32_rv1109_wifi.png", ("vww", 3): "planner_vww_esp32_host_wifi.png"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--models", default=",".join(FLOAT))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png-dir", type=Path)
    args = ap.parse_args()

    import tinyjit
    from tinyjit.deploy import devices, planner, profile, report, runtime
    db = devices.load()
    rows = []
    for name in args.models.split(","):
        plan = tinyjit.compile_model(str(MODELS / FLOAT[name]))
        plan.name = name
        prof = profile.build(plan)
        for si, (label, devs, links) in enumerate(SCENARIOS):
            pl = planner.Planner(prof, planner.Topology(db, devs, links))
            result = pl.plan()
            best = result.best
            if not best.executable:
                best = min((c for c in result.candidates if c.executable and c.fits), key=pl._cost)
            load_before = os.getloadavg()[0]
            e = runtime.execute(pl, best, runs=args.runs)
            load_after = os.getloadavg()[0]
            spatial = next((c for c in result.candidates if c.kind == "spatial"), None)
            row = {"model": name, "scenario": label, "mode": best.mode, "plan": best.describe(),
                   "predicted_ms": e["predicted_latency_ms"], "overhead_ms": e["runtime_overhead_ms"],
                   "hops": e["hops"], "predicted_with_overhead_ms": e["predicted_with_overhead_ms"],
                   "measured_ms": e["measured_latency_ms"], "error": e["error"], "model_error": e["model_error"],
                   "match": e["match"], "exact": e["exact"], "max_error": e["max_error"], "runs": len(e["runs_ms"]),
                   "load": [load_before, load_after],
                   "spatial": None if spatial is None else {"latency_ms": spatial.latency_s * 1e3, **spatial.spatial}}
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("model", "scenario", "plan", "predicted_ms", "overhead_ms",
                                                  "measured_ms", "error", "match", "load")}), file=sys.stderr)
            if args.png_dir and (name, si) in PNGS:
                report.gantt(pl, result, args.png_dir / PNGS[name, si], e)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))
    print("| model | scenario | mode | plan (device[steps]) | predicted ms | runtime overhead ms (hops) "
          "| predicted + overhead ms | measured ms | error | error without overhead | output |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        out = "bit-exact" if r["exact"] else ("equal (<= 1e-6)" if r["match"] else f"DIFFERS {r['max_error']}")
        print(f"| {r['model']} | {r['scenario']} | {r['mode']} | `{r['plan']}` | {r['predicted_ms']:.1f} | "
              f"{r['overhead_ms']:.2f} ({r['hops']}) | {r['predicted_with_overhead_ms']:.1f} | {r['measured_ms']:.1f} | "
              f"{r['error']:+.0%} | {r['model_error']:+.0%} | {out} |")
    within = sum(abs(r["error"]) <= 0.25 for r in rows)
    print(f"\nWithin 25% (with the overhead): {within} of {len(rows)}; without it: "
          f"{sum(abs(r['model_error']) <= 0.25 for r in rows)} of {len(rows)}. Load average (1 min) during the runs: "
          f"{min(min(r['load']) for r in rows):.1f}-{max(max(r['load']) for r in rows):.1f} on {os.cpu_count()} cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
