"""The planner: standalone, cloud-edge or edge-cluster, decided from predictions.

Devices are given in order; the first is the *source*, where the input is captured and where
the answer is wanted back. Links join pairs of devices. A layer-range plan walks a path of
linked devices from the source; each device runs a contiguous range of the plan's steps (the
source may run none: it then sends its raw input; a device in the middle may run none: it
relays). Its latency is

    sum of compute on each device + sum over hops of (RTT/2 + bytes crossing the cut / bandwidth)
    + the answer's way back to the source (RTT/2 + output bytes / bandwidth per hop)

so a single cut costs a full RTT, as in Neurosurgeon. In steady state a pipeline delivers one
answer per max(stage) seconds (a stage: one device's compute plus its outgoing transfer).

- standalone: the source alone;
- cloud-edge: a layer-range plan that uses a device of tier ``cloud`` (one cut, or two for
  device -> gateway -> server);
- edge-cluster: a layer-range plan over edge devices only (pipeline partitioning), or spatial
  partitioning of the early conv layers into fused tiles with halos (DeepThings' FTP): estimated
  only, never executed.
Every plan must fit each device's RAM (its partition's arena) and flash (its partition's
weights); the objective picks among those that fit.
"""
from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass, field

from ..errors import TinyJitError
from .devices import Database, Device, Link
from .partition import memory_of
from .profile import ModelProfile, add_device, roofline

MODES = ("standalone", "cloud-edge", "edge-cluster")
MAX_PATH = 4          # devices on one layer-range path (the enumeration is exact up to here)


@dataclass
class Stage:
    device: str
    start: int
    stop: int
    compute_s: float
    ram_bytes: int
    flash_bytes: int
    send_bytes: int = 0          # to the next device on the path (0 for the last)
    send_s: float = 0.0
    link: str | None = None
    source: str = ""             # where the compute figure comes from

    @property
    def steps(self) -> int:
        return self.stop - self.start


@dataclass
class Candidate:
    mode: str
    kind: str                    # "standalone", "1 cut", "2 cuts", "pipeline", "spatial"
    stages: list[Stage]
    latency_s: float
    throughput: float            # answers per second in steady state
    energy_j: float
    return_s: float = 0.0
    return_path: list = field(default_factory=list)   # (link key, seconds) per hop back
    violations: list[str] = field(default_factory=list)
    executable: bool = True
    notes: list[str] = field(default_factory=list)
    spatial: dict | None = None

    @property
    def cuts(self) -> list[int]:
        return [s.start for s in self.stages[1:]]

    @property
    def fits(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        if self.spatial:
            sp = self.spatial
            return (f"spatial: steps 0..{sp['fused'] - 1} as {sp['grid'][0]}x{sp['grid'][1]} fused tiles on "
                    f"{', '.join(sp['devices'])}, the rest on {sp['gather']}")
        parts = [f"{s.device}[{s.start}:{s.stop}]" for s in self.stages]
        return " -> ".join(parts)


@dataclass
class Result:
    best: Candidate
    by_mode: dict                # mode -> best candidate of that mode (fitting if any fits)
    candidates: list[Candidate]
    objective: str
    devices: list[str]
    reasons: list[str]           # why the other modes lose


class Topology:
    """The devices (source first) and the links between them."""

    def __init__(self, db: Database, devices: list[str], links: dict[tuple[str, str], str]):
        if not devices:
            raise TinyJitError("no devices given")
        self.db = db
        self.devices = [db.device(d).key for d in devices]
        if len(set(self.devices)) != len(self.devices):
            raise TinyJitError(f"a device is named twice in {devices}")
        self.links: dict[frozenset, Link] = {}
        for (a, b), key in links.items():
            for d in (a, b):
                if d not in self.devices:
                    raise TinyJitError(f"link {a}-{b}: {d!r} is not one of the devices {', '.join(self.devices)}")
            self.links[frozenset((a, b))] = db.link(key)

    def link(self, a: str, b: str) -> Link | None:
        return self.links.get(frozenset((a, b)))

    def paths(self, max_len: int = MAX_PATH) -> list[list[str]]:
        """Simple paths of linked devices starting at the source."""
        out = []

        def walk(path):
            out.append(list(path))
            if len(path) == max_len:
                return
            for d in self.devices:
                if d not in path and self.link(path[-1], d) is not None:
                    walk(path + [d])
        walk([self.devices[0]])
        return out


def parse_links(spec: str | None, db: Database) -> dict[tuple[str, str], str]:
    """``a-b:wifi,b-c:ethernet`` -> {(a, b): "wifi", ...}."""
    links = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        pair, sep, kind = item.rpartition(":")
        if not sep or not pair:
            raise TinyJitError(f"--links {item!r}: expected DEVICE-DEVICE:LINK, e.g. esp32-server:wifi "
                               f"(links: {', '.join(sorted(db.links))})")
        names = _split_pair(pair, db)
        links[names] = db.link(kind).key
    return links


def _split_pair(pair: str, db: Database) -> tuple[str, str]:
    # device names may hold '-' (esp32-s3, jetson-nano): try every split
    for i, ch in enumerate(pair):
        if ch == "-" and pair[:i] in db.devices and pair[i + 1:] in db.devices:
            return pair[:i], pair[i + 1:]
    for i, ch in enumerate(pair):
        if ch == "-":
            for name in (pair[:i], pair[i + 1:]):
                if name and name not in db.devices and (pair[:i] in db.devices or pair[i + 1:] in db.devices):
                    db.device(name)     # raises: unknown device, with the known ones
    db.device(pair)                     # no '-' at all, or neither side known
    raise TinyJitError(f"link {pair!r}: expected two device names joined by '-'")


class Planner:
    def __init__(self, profile: ModelProfile, topo: Topology, objective: str = "latency", qemu: bool = False,
                 spatial: bool = True):
        if objective not in ("latency", "energy"):
            raise TinyJitError(f"--objective {objective!r}: expected latency or energy")
        self.profile = profile
        self.topo = topo
        self.objective = objective
        self.spatial = spatial
        self.n = len(profile.steps)
        self._memory: dict[tuple[int, int], object] = {}
        self._prefix: dict[str, list[float]] = {}
        for d in topo.devices:
            add_device(profile, topo.db.device(d), qemu=qemu)
            lat = profile.latency[d]
            self._prefix[d] = [0.0] + list(itertools.accumulate(lat))
        if objective == "energy":
            missing = [d for d in topo.devices if topo.db.device(d).power_w is None]
            missing += [l.key for l in topo.links.values() if l.tx_power_w is None]
            if missing:
                raise TinyJitError(f"--objective energy needs power figures: power_w of device(s) / tx_power_w "
                                   f"of link(s) {', '.join(sorted(set(missing)))} are missing")

    # figures ----------------------------------------------------------------------------
    def compute(self, device: str, a: int, b: int) -> float:
        p = self._prefix[device]
        return p[b] - p[a]

    def memory(self, a: int, b: int):
        if (a, b) not in self._memory:
            self._memory[(a, b)] = memory_of(self.profile.dataflow, a, b)
        return self._memory[(a, b)]

    def violations(self, device: str, a: int, b: int) -> list[str]:
        if a == b:
            return []
        dev = self.topo.db.device(device)
        m = self.memory(a, b)
        out = []
        if m.ram_bytes > dev.ram_bytes:
            out.append(f"{device}: RAM {m.ram_bytes:,} B needed (steps {a}..{b - 1}) > {dev.ram_bytes:,} B")
        if m.flash_bytes > dev.flash_bytes:
            out.append(f"{device}: flash {m.flash_bytes:,} B needed (steps {a}..{b - 1}) > {dev.flash_bytes:,} B")
        return out

    def _energy(self, device: str, seconds: float) -> float:
        return seconds * (self.topo.db.device(device).power_w or 0.0)

    def _tx_energy(self, link: Link, nbytes: int) -> float:
        return nbytes * 8 / link.bandwidth_bps * (link.tx_power_w or 0.0)

    # candidates -------------------------------------------------------------------------
    def chain(self, path: list[str], bounds: list[int]) -> Candidate:
        """The layer-range plan: path[i] runs steps [bounds[i], bounds[i+1])."""
        stages, energy, viol = [], 0.0, []
        for i, d in enumerate(path):
            a, b = bounds[i], bounds[i + 1]
            m = self.memory(a, b) if a < b else None
            st = Stage(d, a, b, self.compute(d, a, b), m.ram_bytes if m else 0, m.flash_bytes if m else 0,
                       source=self.profile.source[d])
            viol += self.violations(d, a, b)
            energy += self._energy(d, st.compute_s)
            if i + 1 < len(path):
                link = self.topo.link(d, path[i + 1])
                st.link, st.send_bytes = link.key, self.profile.cut_bytes(b)
                st.send_s = link.transfer_s(st.send_bytes)
                energy += self._tx_energy(link, st.send_bytes)
            stages.append(st)
        back = []
        out_bytes = self.profile.output_bytes
        for x, y in zip(reversed(path[1:]), reversed(path[:-1])):
            link = self.topo.link(x, y)
            back.append((link.key, link.transfer_s(out_bytes)))
            energy += self._tx_energy(link, out_bytes)
        ret = sum(t for _, t in back)
        latency = sum(s.compute_s + s.send_s for s in stages) + ret
        period = max(s.compute_s + s.send_s for s in stages)
        used = [s for s in stages if s.steps]
        cloud = any(self.topo.db.device(s.device).tier == "cloud" for s in used)
        if len(path) == 1:
            mode, kind = "standalone", "standalone"
        elif cloud:
            mode, kind = "cloud-edge", f"{len(path) - 1} cut" + ("s" if len(path) > 2 else "")
        else:
            mode, kind = "edge-cluster", "pipeline"
        return Candidate(mode, kind, stages, latency, 1.0 / max(period, 1e-12), energy, ret, back, viol)

    def _cost(self, c: Candidate) -> tuple:
        return (bool(c.violations), c.energy_j if self.objective == "energy" else c.latency_s, c.latency_s)

    def layer_range_candidates(self) -> list[Candidate]:
        out = []
        n = self.n
        for path in self.topo.paths():
            L = len(path)
            if L == 1:
                out.append(self.chain(path, [0, n]))
                continue
            best = None
            # bounds: 0 = b0 <= b1 <= ... <= b_{L-1} < b_L = n (the last device runs something,
            # and the second device too: otherwise a shorter path says the same)
            for inner in itertools.combinations_with_replacement(range(n), L - 1):
                bounds = [0, *inner, n]
                if bounds[-2] >= n or (L > 2 and bounds[1] == bounds[2] and bounds[1] == 0):
                    continue
                c = self.chain(path, bounds)
                if best is None or self._cost(c) < self._cost(best):
                    best = c
            if best is not None:
                out.append(best)
        return out

    def plan(self) -> Result:
        cands = self.layer_range_candidates()
        if self.spatial:
            cands += self.spatial_candidates()
        by_mode = {}
        for c in cands:
            cur = by_mode.get(c.mode)
            if cur is None or self._cost(c) < self._cost(cur):
                by_mode[c.mode] = c
        fitting = [c for c in cands if c.fits]
        if not fitting:
            lines = sorted({v for c in cands for v in c.violations})
            raise TinyJitError("no plan fits: " + "; ".join(lines))
        best = min(fitting, key=self._cost)
        return Result(best, by_mode, cands, self.objective, list(self.topo.devices), self._reasons(best, by_mode))

    def _reasons(self, best: Candidate, by_mode: dict) -> list[str]:
        out = []
        unit = "J" if self.objective == "energy" else "ms"

        def value(c):
            return c.energy_j if self.objective == "energy" else c.latency_s * 1e3
        for mode in MODES:
            if mode == best.mode:
                continue
            c = by_mode.get(mode)
            if c is None:
                why = {"standalone": "no source device",
                       "cloud-edge": "no device of tier 'cloud' is linked to the source",
                       "edge-cluster": "no second edge device is linked to the source"}[mode]
                out.append(f"{mode}: not possible: {why}")
            elif c.violations:
                out.append(f"{mode}: does not fit: {'; '.join(c.violations)}")
            else:
                out.append(f"{mode}: {value(c):.4g} {unit} ({c.describe()}) vs {value(best):.4g} {unit}"
                           + _why(c, best))
        return out

    # spatial partitioning (DeepThings fused tile partitioning), estimated ------------------
    def spatial_candidates(self) -> list[Candidate]:
        src = self.topo.devices[0]
        edge = [d for d in self.topo.devices if self.topo.db.device(d).tier != "cloud"
                and (d == src or self.topo.link(src, d) is not None)]
        if len(edge) < 2:
            return []
        chain = fusible_prefix(self.profile)
        if not chain:
            return []
        out = []
        for k in range(2, len(edge) + 1):
            devs = edge[:k]
            for grid in _grids(k):
                for depth in range(1, len(chain) + 1):
                    c = self._spatial(chain[:depth], devs, grid)
                    if c is not None:
                        out.append(c)
        if not out:
            return []
        return [min(out, key=self._cost)]

    def _spatial(self, layers: list[dict], devs: list[str], grid: tuple[int, int]) -> Candidate | None:
        src = self.topo.devices[0]
        f = len(layers)
        last = layers[-1]
        oh, ow = last["out"][1], last["out"][2]
        if grid[0] > oh or grid[1] > ow:
            return None
        tiles = []
        for gi in range(grid[0]):
            for gj in range(grid[1]):
                r = (oh * gi // grid[0], oh * (gi + 1) // grid[0])
                c = (ow * gj // grid[1], ow * (gj + 1) // grid[1])
                tiles.append(_tile_regions(layers, r, c))
        # per device: the tile's fused stack; scatter from the source, gather at the best device
        per_dev, peak, scatter_s, scatter_b = [], [], 0.0, 0
        for d, regions in zip(devs, tiles):
            t = 0.0
            for layer, (rin, rout) in zip(layers, regions):
                frac = _area(rout) / (layer["out"][1] * layer["out"][2])
                t += roofline(_scaled(self.profile.steps[layer["step"]], frac), self.topo.db.device(d)) \
                    if not self.topo.db.device(d).measured else self.profile.latency[d][layer["step"]] * frac
            per_dev.append(t)
            peak.append(max(_area(rin) * layer["in"][3] * layer["itemsize"] + _area(rout) * layer["out"][3]
                            * layer["itemsize"] for layer, (rin, rout) in zip(layers, regions)))
            if d != src:
                nbytes = _area(regions[0][0]) * layers[0]["in"][3] * layers[0]["itemsize"]
                scatter_b += nbytes
                scatter_s += self.topo.link(src, d).transfer_s(nbytes)
        whole_peak = max((_area(((0, l["in"][1]), (0, l["in"][2]))) * l["in"][3]
                          + _area(((0, l["out"][1]), (0, l["out"][2]))) * l["out"][3]) * l["itemsize"]
                         for l in layers)
        stop = layers[-1]["step"] + 1
        best = None
        for g in devs:
            gather_s = 0.0
            ok = True
            for d, regions in zip(devs, tiles):
                if d == g:
                    continue
                link = self.topo.link(d, g)
                if link is None:
                    ok = False
                    break
                gather_s += link.transfer_s(_area(regions[-1][1]) * last["out"][3] * last["itemsize"])
            if not ok:
                continue
            rest = self.compute(g, stop, self.n)
            back = []
            if g != src:
                link = self.topo.link(g, src)
                back = [(link.key, link.transfer_s(self.profile.output_bytes))]
            ret = sum(t for _, t in back)
            latency = scatter_s + max(per_dev) + gather_s + rest + ret
            viol = self.violations(g, stop, self.n)
            for d, pk in zip(devs, peak):
                dev = self.topo.db.device(d)
                flash = sum(self.profile.steps[l["step"]].weight_bytes for l in layers)
                if pk > dev.ram_bytes:
                    viol.append(f"{d}: RAM {pk:,} B for its tile > {dev.ram_bytes:,} B")
                if flash > dev.flash_bytes:
                    viol.append(f"{d}: flash {flash:,} B > {dev.flash_bytes:,} B")
            energy = sum(self._energy(d, t) for d, t in zip(devs, per_dev)) + self._energy(g, rest)
            stages = [Stage(d, 0, stop, t, pk, sum(self.profile.steps[l["step"]].weight_bytes for l in layers),
                            source=self.profile.source[d]) for d, t, pk in zip(devs, per_dev, peak)]
            m = self.memory(stop, self.n) if stop < self.n else None
            if stop < self.n:
                stages.append(Stage(g, stop, self.n, rest, m.ram_bytes, m.flash_bytes, source=self.profile.source[g]))
            macs_tiles = sum(_area(rout) / (l["out"][1] * l["out"][2]) * self.profile.steps[l["step"]].macs
                             for regions in tiles for l, (rin, rout) in zip(layers, regions))
            macs_whole = sum(self.profile.steps[l["step"]].macs for l in layers)
            c = Candidate("edge-cluster", "spatial", stages, latency,
                          1.0 / max(max(per_dev) + gather_s, scatter_s, rest, 1e-12), energy, ret, back, viol,
                          executable=False,
                          notes=["spatial partitioning is estimated (roofline/measured per-step times scaled by "
                                 "tile area); --execute does not run it"],
                          spatial={"fused": stop, "grid": list(grid), "devices": devs, "gather": g,
                                   "tile_peak_bytes": max(peak), "whole_peak_bytes": whole_peak,
                                   "memory_saving": 1 - max(peak) / whole_peak,
                                   "halo_overhead": macs_tiles / max(macs_whole, 1) - 1,
                                   "scatter_bytes": scatter_b})
            if best is None or self._cost(c) < self._cost(best):
                best = c
        return best


def _why(c: Candidate, best: Candidate) -> str:
    if c.mode == "standalone":
        return ": computing alone is slower than the split" if best.latency_s < c.latency_s else ""
    transfer = sum(s.send_s for s in c.stages) + c.return_s
    compute = sum(s.compute_s for s in c.stages)
    if transfer > compute:
        return f": its links take {transfer * 1e3:.4g} ms, more than its compute ({compute * 1e3:.4g} ms)"
    return f": compute {compute * 1e3:.4g} ms + links {transfer * 1e3:.4g} ms"


def _grids(k: int) -> list[tuple[int, int]]:
    return sorted({(a, k // a) for a in range(1, k + 1) if k % a == 0})


def _area(region) -> int:
    (r0, r1), (c0, c1) = region
    return max(r1 - r0, 0) * max(c1 - c0, 0)


def _scaled(step, frac: float):
    from dataclasses import replace
    return replace(step, macs=int(step.macs * frac), activation_bytes=int(step.activation_bytes * frac))


SPATIAL_OPS = {"Conv", "DepthwiseConv", "MaxPool", "AveragePool", "Relu", "Clip"}


def fusible_prefix(profile: ModelProfile) -> list[dict]:
    """Geometry of the leading chain of spatial NHWC steps (each reading the one before)."""
    plan, df = profile.plan, profile.dataflow
    from .. import registry
    out = []
    prev_buffer = df.buffer_of.get(plan.inputs[0]) if len(plan.inputs) == 1 else None
    for s, step in enumerate(plan.steps):
        if step.op not in SPATIAL_OPS or len(df.reads[s]) != 1 or prev_buffer is None:
            break
        if df.buffer_of[df.reads[s][0]] != prev_buffer:
            break
        written = [a for a in df.writes[s] if "/scratch" not in plan.tensors[a].name]
        if len(written) != 1:
            break
        xin = _root_shape(df, df.reads[s][0])
        xout = _root_shape(df, written[0])
        if len(xin) != 4 or len(xout) != 4:
            break
        geo = _geometry(registry.by_name(step.kernel), step, plan)
        if geo is None:
            break
        out.append({"step": s, "in": xin, "out": xout, "itemsize": plan.tensors[written[0]].nbytes
                    // max(math.prod(xout), 1), **geo})
        prev_buffer = df.buffer_of[written[0]]
    return out


def _root_shape(df, t: int) -> tuple:
    """The shape of the buffer's tensor that is not a reshaped view (views flatten H x W)."""
    buf = df.buffers[df.buffer_of[t]]
    for i in buf.tensors:
        name = df.plan.tensors[i].name
        if "@" not in name:
            return df.plan.tensors[i].shape
    return df.plan.tensors[t].shape


def _geometry(k, step, plan) -> dict | None:
    names = list(inspect.signature(k.fn).parameters)
    params = dict(zip(names[len(names) - len(step.params):], step.params))
    if step.op in ("Relu", "Clip"):
        return {"k": (1, 1), "stride": (1, 1), "pad": (0, 0), "dil": (1, 1)}
    if "stride_h" not in params:
        return None
    if "k_h" in params:
        kh, kw = params["k_h"], params["k_w"]
    else:
        w = next((plan.tensors[a] for a in step.args if plan.tensors[a].location == "weights"), None)
        if w is None:
            return None
        # the float kernels' weight layouts: HWIO, or packed [g, blocks, KH, KW, ci, NR]; depthwise HWC
        if k.name == "conv2d_f32" and len(w.shape) in (4, 6):
            kh, kw = w.shape[len(w.shape) - 4], w.shape[len(w.shape) - 3]
        elif k.name == "depthwise_conv2d_f32" and len(w.shape) == 3:
            kh, kw = w.shape[0], w.shape[1]
        else:
            return None
    return {"k": (int(kh), int(kw)), "stride": (int(params["stride_h"]), int(params["stride_w"])),
            "pad": (int(params.get("pad_t", 0)), int(params.get("pad_l", 0))),
            "dil": (int(params.get("dil_h", 1)), int(params.get("dil_w", 1)))}


def _tile_regions(layers: list[dict], rows: tuple, cols: tuple) -> list:
    """Per layer (input region, output region) for one output tile of the last layer, halos included."""
    regions = []
    out_r, out_c = rows, cols
    for layer in reversed(layers):
        rr = _input_range(out_r, layer, 0)
        cc = _input_range(out_c, layer, 1)
        regions.append(((rr, cc), (out_r, out_c)))
        out_r, out_c = rr, cc
    return list(reversed(regions))


def _input_range(rng: tuple, layer: dict, axis: int) -> tuple:
    lo, hi = rng
    k, s, p, d = layer["k"][axis], layer["stride"][axis], layer["pad"][axis], layer["dil"][axis]
    size = layer["in"][1 + axis]
    a = lo * s - p
    b = (hi - 1) * s - p + (k - 1) * d + 1
    return (max(a, 0), min(b, size))
