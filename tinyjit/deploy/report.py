"""What the planner says: a text report, the same as JSON, and a Gantt chart of the winner."""
from __future__ import annotations

from .planner import Candidate, Planner, Result


def stage_rows(planner: Planner, cand: Candidate) -> list[dict]:
    rows = []
    for s in cand.stages:
        dev = planner.topo.db.device(s.device)
        rows.append({"device": s.device, "steps": [s.start, s.stop], "macs": sum(
            st.macs for st in planner.profile.steps[s.start:s.stop]),
            "compute_ms": s.compute_s * 1e3, "latency_source": s.source,
            "send_bytes": s.send_bytes, "link": s.link, "send_ms": s.send_s * 1e3,
            "ram_bytes": s.ram_bytes, "ram_capacity": dev.ram_bytes,
            "flash_bytes": s.flash_bytes, "flash_capacity": dev.flash_bytes})
    return rows


def candidate_json(planner: Planner, c: Candidate) -> dict:
    return {"mode": c.mode, "kind": c.kind, "plan": c.describe(), "cuts": c.cuts,
            "predicted_latency_ms": c.latency_s * 1e3, "throughput_per_s": c.throughput,
            "energy_mj": c.energy_j * 1e3, "return_ms": c.return_s * 1e3, "fits": c.fits,
            "violations": c.violations, "executable": c.executable, "notes": c.notes,
            "spatial": c.spatial, "devices": stage_rows(planner, c)}


def to_json(planner: Planner, result: Result, execution: dict | None = None) -> dict:
    best = result.best
    out = candidate_json(planner, best)
    out.update({"model": planner.profile.plan.name, "objective": result.objective,
                "source_device": result.devices[0], "why": result.reasons,
                "alternatives": {m: candidate_json(planner, c) for m, c in result.by_mode.items() if c is not best}})
    spatial = [c for c in result.candidates if c.kind == "spatial"]
    if spatial:
        out["spatial_estimate"] = candidate_json(planner, spatial[0])
    if execution is not None:
        out["execution"] = execution
        for key in ("measured_latency_ms", "runtime_overhead_ms", "predicted_with_overhead_ms", "error", "match"):
            out[key] = execution[key]
    return out


def print_text(planner: Planner, result: Result, execution: dict | None, console) -> None:
    from rich.table import Table
    best = result.best
    console.print(f"[bold]mode: {best.mode}[/bold] ({best.kind}) {best.describe()}")
    console.print(f"predicted latency {best.latency_s * 1e3:.3f} ms, throughput {best.throughput:.1f}/s"
                  + (f", energy {best.energy_j * 1e3:.3f} mJ" if result.objective == "energy" else ""))
    table = Table(title="per device")
    for col in ("device", "steps", "MACs", "compute ms", "from", "RAM B (of)", "flash B (of)", "sends", "link ms"):
        table.add_column(col, justify="left" if col in ("device", "from") else "right")
    for r in stage_rows(planner, best):
        table.add_row(r["device"], f"{r['steps'][0]}..{r['steps'][1] - 1}" if r["steps"][1] > r["steps"][0] else "-",
                      f"{r['macs']:,}", f"{r['compute_ms']:.3f}", r["latency_source"],
                      f"{r['ram_bytes']:,} ({_short(r['ram_capacity'])})",
                      f"{r['flash_bytes']:,} ({_short(r['flash_capacity'])})",
                      f"{r['send_bytes']:,} B over {r['link']}" if r["link"] else "-",
                      f"{r['send_ms']:.3f}" if r["link"] else "-")
    console.print(table)
    if best.return_path:
        console.print("answer back to the source: " + ", ".join(f"{k} {t * 1e3:.3f} ms" for k, t in best.return_path))
    console.print("[bold]why not the others[/bold]")
    for line in result.reasons:
        console.print(f"  {line}")
    for c in result.candidates:
        if c.kind == "spatial" and c.spatial:
            sp = c.spatial
            console.print(f"spatial partitioning (estimate, DeepThings-style fused tiles): {c.describe()}: "
                          f"{c.latency_s * 1e3:.3f} ms; per-device activation peak {sp['tile_peak_bytes']:,} B vs "
                          f"{sp['whole_peak_bytes']:,} B whole ({sp['memory_saving']:.0%} less), halo overhead "
                          f"{sp['halo_overhead']:.0%} more MACs" + ("" if c.fits else f"; does not fit: {'; '.join(c.violations)}"))
    for d, note in planner.profile.notes.items():
        console.print(f"note: {d}: {note}")
    if execution is not None:
        e = execution
        console.print(f"[bold]executed[/bold] ({e['runtime']}; {e['emulate']} speed emulated, links emulated, "
                      f"{len(e['runs_ms'])} runs): measured {e['measured_latency_ms']:.3f} ms vs predicted "
                      f"{e['predicted_latency_ms']:.3f} ms + runtime overhead {e['runtime_overhead_ms']:.3f} ms "
                      f"(calibrated: {e['hops']} hops, {e['runtime_overhead_per_hop_ms']:.3f} ms each) = "
                      f"{e['predicted_with_overhead_ms']:.3f} ms ({e['error']:+.1%}; without the overhead "
                      f"{e['model_error']:+.1%}); output "
                      + ("matches the whole model" if e["match"] else f"DIFFERS from the whole model ({e['max_error']})"))


def _short(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def gantt(planner: Planner, result: Result, path, execution: dict | None = None) -> None:
    """One bar per device (compute) and per link (transfer) along the time of one inference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    best = result.best
    rows, bars = [], []
    t = 0.0
    if best.kind == "spatial":
        for s in best.stages:
            rows.append(s.device if s.device not in rows else s.device + " (rest)")
            bars.append((rows[-1], t if s.start == 0 else t + max(x.compute_s for x in best.stages[:-1]),
                         s.compute_s, "compute"))
    else:
        for s in best.stages:
            if s.steps:
                rows.append(s.device)
                bars.append((s.device, t, s.compute_s, f"steps {s.start}..{s.stop - 1}"))
                t += s.compute_s
            if s.link:
                name = f"{s.link}: {s.device} -> next"
                rows.append(name)
                bars.append((name, t, s.send_s, f"{s.send_bytes:,} B"))
                t += s.send_s
        for link, dt in best.return_path:
            name = f"{link}: answer back"
            rows.append(name)
            bars.append((name, t, dt, ""))
            t += dt
    order = list(dict.fromkeys(rows))
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.45 * len(order)))
    colors = {True: "#4c72b0", False: "#dd8452"}
    for name, start, width, label in bars:
        y = order.index(name)
        is_link = ":" in name
        ax.barh(y, width * 1e3, left=start * 1e3, color=colors[not is_link], edgecolor="black", height=0.6)
        if label:
            ax.text((start + width / 2) * 1e3, y, label, ha="center", va="center", fontsize=7, color="white"
                    if width > 0.15 * best.latency_s else "black")
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    title = (f"{planner.profile.plan.name}: {best.mode} ({best.kind}), predicted {best.latency_s * 1e3:.2f} ms")
    ax.axvline(best.latency_s * 1e3, color="gray", linestyle="--", linewidth=0.8)
    if execution:
        title += (f" + runtime overhead {execution['runtime_overhead_ms']:.2f} ms, "
                  f"measured {execution['measured_latency_ms']:.2f} ms (red)")
        ax.axvline(execution["measured_latency_ms"], color="#c44e52", linestyle=":", linewidth=1.2)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
