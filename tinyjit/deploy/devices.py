"""The device and link database: devices.toml in this package, extended by users' files.

``load(extra_files)`` returns a Database; every figure keeps the source the file cites for it.
A device file with missing or mistyped fields is refused with every problem named at once.
The pseudo-device ``host`` is this machine: its latencies are measured, not estimated.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import TinyJitError

DEVICE_FIELDS = {   # name: (type, required)
    "tier": (str, True), "isa": (str, True), "clock_hz": (float, True), "ram_bytes": (int, True),
    "flash_bytes": (int, True), "int8_macs_per_s": (float, True), "float_macs_per_s": (float, True),
    "mem_bandwidth": (float, True), "name": (str, False), "target": (str, False),
    "weight_bandwidth": (float, False), "cpi": (float, False), "power_w": (float, False),
    "sources": (dict, False),
}
LINK_FIELDS = {"bandwidth_bps": (float, True), "rtt_ms": (float, True), "name": (str, False),
               "tx_power_w": (float, False), "sources": (dict, False)}
HOST = "host"


@dataclass
class Device:
    key: str
    tier: str
    isa: str
    clock_hz: float
    ram_bytes: int
    flash_bytes: int
    int8_macs_per_s: float
    float_macs_per_s: float
    mem_bandwidth: float
    name: str = ""
    target: str = ""
    weight_bandwidth: float = 0.0
    cpi: float = 1.0
    power_w: float | None = None
    sources: dict = field(default_factory=dict)
    measured: bool = False       # latencies come from running on this machine

    def __post_init__(self):
        self.name = self.name or self.key
        self.weight_bandwidth = self.weight_bandwidth or self.mem_bandwidth

    @property
    def is_mcu(self) -> bool:
        return self.tier == "tinyml"


@dataclass
class Link:
    key: str
    bandwidth_bps: float
    rtt_ms: float
    name: str = ""
    tx_power_w: float | None = None
    sources: dict = field(default_factory=dict)

    def transfer_s(self, nbytes: int) -> float:
        """One way: half the round trip plus the bytes at the link's rate."""
        return self.rtt_ms / 2e3 + nbytes * 8 / self.bandwidth_bps


@dataclass
class Database:
    devices: dict[str, Device]
    links: dict[str, Link]
    tiers: dict[str, str]

    def device(self, key: str) -> Device:
        if key not in self.devices:
            raise TinyJitError(f"unknown device {key!r}; known devices: {', '.join(sorted(self.devices))}")
        return self.devices[key]

    def link(self, key: str) -> Link:
        if key not in self.links:
            raise TinyJitError(f"unknown link {key!r}; known links: {', '.join(sorted(self.links))}")
        return self.links[key]


def _check(kind: str, key: str, entry: dict, fields: dict, where: str) -> dict:
    missing = [f for f, (_, required) in fields.items() if required and f not in entry]
    unknown = sorted(set(entry) - set(fields))
    wrong = []
    out = {}
    for f, value in entry.items():
        if f not in fields:
            continue
        typ = fields[f][0]
        if typ in (float, int) and isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                wrong.append(f"{f} = {value} is negative")
            out[f] = typ(value)
        elif isinstance(value, typ):
            out[f] = value
        else:
            wrong.append(f"{f} must be a {typ.__name__}, not {type(value).__name__}")
    problems = []
    if missing:
        problems.append(f"missing field(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    problems += wrong
    if problems:
        raise TinyJitError(f"{where}: {kind} {key!r}: {'; '.join(problems)}")
    return out


def _read(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TinyJitError(f"{where}: not valid TOML ({e})") from None


def _merge(db: Database, data: dict, where: str, partial_ok: bool) -> None:
    for key, entry in data.get("tiers", {}).items():
        db.tiers[key] = entry.get("description", key) if isinstance(entry, dict) else str(entry)
    unknown_sections = sorted(set(data) - {"tiers", "devices", "links"})
    if unknown_sections:
        raise TinyJitError(f"{where}: unknown section(s) {', '.join(unknown_sections)}; "
                           "a device file has [devices.NAME], [links.NAME] and [tiers.NAME] tables")
    for key, entry in data.get("devices", {}).items():
        if not isinstance(entry, dict):
            raise TinyJitError(f"{where}: devices.{key} must be a table")
        base = db.devices.get(key)
        if base is not None and partial_ok:     # override some fields of a known device
            entry = {**{f: getattr(base, f) for f in DEVICE_FIELDS}, **entry}
        fields = _check("device", key, entry, DEVICE_FIELDS, where)
        if fields["tier"] not in db.tiers:
            raise TinyJitError(f"{where}: device {key!r}: unknown tier {fields['tier']!r}; "
                               f"known tiers: {', '.join(db.tiers)}")
        target = fields.get("target", "")
        if target:
            from .. import targets
            if target not in targets.TARGETS:
                raise TinyJitError(f"{where}: device {key!r}: unknown tinyjit target {target!r}; "
                                   f"known targets: {', '.join(targets.TARGETS)} (or \"\" for none)")
        db.devices[key] = Device(key, **fields)
    for key, entry in data.get("links", {}).items():
        if not isinstance(entry, dict):
            raise TinyJitError(f"{where}: links.{key} must be a table")
        base = db.links.get(key)
        if base is not None and partial_ok:
            entry = {**{f: getattr(base, f) for f in LINK_FIELDS}, **entry}
        fields = _check("link", key, entry, LINK_FIELDS, where)
        if fields["bandwidth_bps"] <= 0:
            raise TinyJitError(f"{where}: link {key!r}: bandwidth_bps must be positive")
        db.links[key] = Link(key, **fields)


def host_device() -> Device:
    """This machine: figures from the OS; its latencies are always measured."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 1 << 34
    return Device(HOST, "cloud", "x86-64", 0.0, int(ram), 1 << 40, 0.0, 0.0, 0.0,
                  name="this machine (latency measured with the Numba executor)", target="x86_64",
                  sources={"*": "measured: the Numba executor on this machine, per step"}, measured=True)


def load(extra_files=()) -> Database:
    db = Database({}, {}, {})
    text = resources.files(__package__).joinpath("devices.toml").read_text()
    _merge(db, _read(text, "devices.toml"), "devices.toml", partial_ok=False)
    db.devices[HOST] = host_device()
    for path in extra_files or ():
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise TinyJitError(f"--device-file {path}: cannot read it ({e.strerror})") from None
        _merge(db, _read(text, str(path)), str(path), partial_ok=True)
    return db
