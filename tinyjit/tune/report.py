"""``tinyjit tune --report DB``: per op signature, the default figure against the tuned one.

For each (kernel, signature) of a record file: ``default`` and ``best`` (from the last ``best``
record: both measured in the same conditions; without one, from the trials), ``unit``,
``trials`` (on the kernel's latest measured source: an edited kernel starts over) and
``speedup`` = default / best. The plot shows, for every signature, the speedup of
the best schedule found so far against the number of candidates measured.
"""
from __future__ import annotations

import math

from .db import read


def summarize(records: list[dict]) -> list[dict]:
    rows: dict[tuple, dict] = {}
    for rec in records:
        if rec.get("kind") is None:       # a hand-written record: nothing measured
            continue
        key = (rec["kernel"], rec["signature"], rec.get("target", ""))
        row = rows.setdefault(key, {"kernel": rec["kernel"], "signature": rec["signature"],
                                    "target": rec.get("target"), "unit": rec.get("unit"), "default": None,
                                    "best": None, "best_schedule": None, "default_schedule": None,
                                    "trials": 0, "failed": 0, "history": [], "_trial_best": None,
                                    "_decided": False, "_hash": rec.get("kernel_hash")})
        if rec["kind"] == "trial":
            if rec.get("kernel_hash") != row.get("_hash"):     # the kernel was edited: its figures start over
                row.update(trials=0, failed=0, history=[], _trial_best=None, _first=None, _decided=False,
                           _hash=rec.get("kernel_hash"))
            row["trials"] += 1
            value = rec.get("value") if rec.get("error") is None else None
            if rec.get("error") is not None:
                row["failed"] += 1
            row["history"].append(value)
            if row["trials"] == 1 and value is not None:
                row["_first"] = (rec["schedule"], value)
            if value is not None and (row["_trial_best"] is None or value < row["_trial_best"][1]):
                row["_trial_best"] = (rec["schedule"], value)
        else:
            row.update(best=rec["value"], best_schedule=rec["schedule"], default=rec.get("default_value"),
                       default_schedule=rec.get("default_schedule"), unit=rec.get("unit"), _decided=True)
        row["kernel_hash"] = rec.get("kernel_hash", row.get("kernel_hash"))
    out = []
    for row in rows.values():
        if not row["_decided"] and row["_trial_best"] is not None:
            # no decision yet (an interrupted run): the first trial is the default schedule
            first = row.get("_first")
            row.update(best_schedule=row["_trial_best"][0], best=row["_trial_best"][1],
                       default=first[1] if first else None, default_schedule=first[0] if first else None)
        row["speedup"] = (row["default"] / row["best"]) if row["default"] and row["best"] else None
        row["stale"] = _stale(row["kernel"], row.pop("kernel_hash", None))
        for k in [k for k in row if k.startswith("_")]:
            del row[k]
        out.append(row)
    return out


def _stale(kernel: str, recorded: str | None) -> bool | None:
    """True if the kernel's source changed since it was measured (None: unknown kernel or hash)."""
    from .. import registry
    from .task import kernel_hash
    try:
        return recorded is not None and kernel_hash(registry.by_name(kernel)) != recorded
    except Exception:
        return None


def load(path) -> list[dict]:
    return summarize(read(path))


def best_so_far(history: list, default: float | None) -> list[float]:
    """Speedup over the default of the best figure after each trial (failed trials repeat the last)."""
    out, best = [], None
    base = default or next((v for v in history if v is not None), None)
    for v in history:
        if v is not None and (best is None or v < best):
            best = v
        out.append(base / best if base and best else float("nan"))
    return out


def plot(rows: list[dict], path, title: str = "tinyjit tune: best schedule so far") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    curves = []
    for row in rows:
        # relative to the default's figure of the decision (timed with the finalists, in turns)
        ys = best_so_far(row["history"], row["default"] or (row["history"][0] if row["history"] else None))
        if not ys:
            continue
        curves.append(ys)
        ax.plot(range(1, len(ys) + 1), ys, color="tab:blue", alpha=0.25, linewidth=1)
    if curves:
        n = max(len(c) for c in curves)
        padded = np.array([c + [c[-1]] * (n - len(c)) for c in curves], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            geo = np.exp(np.nanmean(np.log(padded), axis=0))
        ax.plot(range(1, n + 1), geo, color="tab:red", linewidth=2.5, label=f"geometric mean of {len(curves)} layers")
        ax.legend(loc="lower right")
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter
    for axis in (ax.yaxis,):
        axis.set_major_formatter(FormatStrFormatter("%.3gx"))
        axis.set_minor_formatter(FormatStrFormatter("%.3gx"))
    ax.set_xlabel("candidates measured (trial 1 = the default schedule)")
    ax.set_ylabel("speedup of the best so far over the default")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_rows(rows: list[dict]) -> list[list[str]]:
    from .tuner import format_value
    table = []
    for r in rows:
        sp = r["speedup"]
        table.append([r["kernel"], r["signature"], format_value(r["default"], r["unit"]),
                      format_value(r["best"], r["unit"]), str(r["trials"]) + (f" ({r['failed']} failed)" if r["failed"] else ""),
                      (f"{sp:.2f}x" if sp and not math.isnan(sp) else "-") + (" (stale)" if r.get("stale") else ""),
                      ", ".join(f"{k}={v}" for k, v in (r["best_schedule"] or {}).items())])
    return table


def json_rows(rows: list[dict]) -> list[dict]:
    keys = ("kernel", "signature", "target", "unit", "default", "best", "speedup", "trials", "failed",
            "default_schedule", "best_schedule", "stale")
    return [{k: r[k] for k in keys} for r in rows]
