"""The tuning record database: one JSON object per line, appended as measurements arrive.

Every line names ``kernel``, ``signature`` (tinyjit.schedule.signature: op, input shapes and
dtypes, attributes) and ``schedule``, plus the measured ``value`` in ``unit`` ("s" per call on
the host, "instructions" under QEMU) and the record format ``version``. Two kinds of line:

- ``"kind": "trial"``: one measured candidate (``"error"`` says why a candidate failed: wrong
  output, did not compile, over budget; such a trial is kept so a resumed run skips it);
- ``"kind": "best"``: the tuner's decision for a signature once its search ends, with the
  default schedule's figure measured in the same conditions (``default_value``).

``best_per_key`` is the rule that schedule.py applies when it builds a plan: the last ``best``
line of a key wins; without one, the fastest error-free trial. Lines that are not JSON, miss a
field, or carry another format version are skipped, with one warning per file.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

VERSION = 1
KINDS = ("trial", "best")
_warned: set = set()


def _valid(rec) -> bool:
    if not isinstance(rec, dict) or not isinstance(rec.get("kernel"), str):
        return False
    if not isinstance(rec.get("signature"), str) or not isinstance(rec.get("schedule"), dict):
        return False
    if "version" in rec or "kind" in rec:    # a tuner's record (hand-written ones carry neither)
        if rec.get("version") != VERSION or rec.get("kind") not in KINDS:
            return False
        value = rec.get("value")
        if rec.get("error") is None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            return False
    return True


def parse(text: str) -> tuple[list[dict], int]:
    """The valid records of a file's text, and how many lines were skipped."""
    records, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if _valid(rec):
            records.append(rec)
        else:
            bad += 1
    return records, bad


def read(path) -> list[dict]:
    """Records of ``path`` (none if it does not exist); one warning if lines were skipped."""
    try:
        text = Path(path).read_text(errors="replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []
    records, bad = parse(text)
    key = (str(Path(path).resolve()), bad)
    if bad and key not in _warned:      # once per file (schedule.py, the tuner and the report all read it)
        _warned.add(key)
        warnings.warn(f"{path}: skipped {bad} unreadable tuning record line(s) (corrupt, incomplete or not "
                      f"format version {VERSION})", stacklevel=2)
    return records


def best_per_key(records: list[dict]) -> dict[tuple[str, str], dict]:
    """(kernel, signature) -> the record whose schedule a plan should use."""
    best: dict[tuple[str, str], dict] = {}
    decided: set = set()
    for rec in records:
        key = (rec["kernel"], rec["signature"])
        kind = rec.get("kind")
        if kind is None or kind == "best":       # a decision (or a hand-written record): the last one wins
            best[key] = rec
            decided.add(key)
        elif key not in decided and rec.get("error") is None:
            old = best.get(key)
            if old is None or rec["value"] < old["value"]:
                best[key] = rec
    return best


class Database:
    """Append-only records of one file; each line is flushed and synced as it is written, so an
    interrupted run keeps every measurement it finished."""

    def __init__(self, path):
        self.path = Path(path)
        self.records = read(self.path)

    def trials(self, kernel: str, signature: str, unit: str | None = None) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "trial" and r["kernel"] == kernel
                and r["signature"] == signature and (unit is None or r.get("unit") == unit)]

    def best(self, kernel: str, signature: str) -> dict | None:
        return best_per_key([r for r in self.records if r["kernel"] == kernel
                             and r["signature"] == signature]).get((kernel, signature))

    def append(self, rec: dict) -> dict:
        rec = {"version": VERSION, **rec}
        line = json.dumps(rec, sort_keys=False, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a file cut short by a crash ends without a newline: start on a fresh line
        needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        with open(self.path, "a") as f:
            f.write(("\n" if needs_newline else "") + line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records.append(rec)
        return rec


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
