"""`tinyjit tune` end to end on a tiny model: records, report, resume, bad input, convert/inspect."""
import json
import subprocess
import sys
import time

import pytest

from tune_helpers import TUNE_KERNELS, write_matmul, write_tiny_conv

KERNELS = ("--kernels", TUNE_KERNELS)


def _cli(*args, env=None):
    import os
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "tinyjit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=full_env)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    d = tmp_path_factory.mktemp("tune")
    model = write_matmul(d / "mm.onnx", m=4, k=16, n=16)
    db = d / "x86_64.jsonl"
    proc = _cli("tune", model, "--trials", 3, "--db", db, "--searcher", "random", "--no-progress", *KERNELS)
    assert proc.returncode == 0, proc.stderr
    return d, model, db, proc


def test_tune_writes_records_and_prints_the_table(tuned):
    d, model, db, proc = tuned
    lines = [json.loads(line) for line in db.read_text().splitlines()]
    assert [r["kind"] for r in lines] == ["trial"] * 3 + ["best"]
    assert {r["unit"] for r in lines} == {"s"} and all(r["signature"].startswith("TiledMatMul(") for r in lines)
    assert "tiled_matmul" in proc.stdout and "speedup" in proc.stdout


def test_report_json_and_plot(tuned):
    d, model, db, _ = tuned
    png = d / "curve.png"
    proc = _cli("tune", "--report", db, "--json", "--plot", png)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    for key in ("default", "best", "unit", "trials", "speedup", "signature", "kernel"):
        assert key in row
    assert row["trials"] == 3 and row["best"] <= row["default"] * 1.0000001
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    text = _cli("tune", "--report", db, "--plot", "none")
    assert text.returncode == 0 and "tiled_matmul" in text.stdout


def test_rerun_resumes(tuned, tmp_path):
    d, model, db, _ = tuned
    copy = tmp_path / "db.jsonl"
    copy.write_text(db.read_text() + "this line is not JSON\n")
    proc = _cli("tune", model, "--trials", 4, "--db", copy, "--searcher", "random", "--no-progress", *KERNELS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("skipped 1 unreadable") == 1
    kinds = [json.loads(line)["kind"] for line in copy.read_text().splitlines()[:-1] if line.startswith("{")]
    assert kinds.count("trial") == 4                  # one more, not four more


def test_convert_and_inspect_use_the_records(tuned):
    d, model, db, _ = tuned
    env = {"TINYJIT_TUNED_DB": str(db)}
    assert _cli("convert", model, "-o", d / "m.tjm", *KERNELS, env=env).returncode == 0
    report = json.loads(_cli("inspect", d / "m.tjm", "--json").stdout)
    (op,) = report["ops"]
    best = [json.loads(line) for line in db.read_text().splitlines()][-1]
    assert op["tuned"] and op["schedule"] == best["schedule"]
    assert "(tuned)" in _cli("inspect", d / "m.tjm").stdout
    untuned = _cli("inspect", model, "--json", *KERNELS, env={"TINYJIT_TUNED_DB": str(d / "none.jsonl")})
    assert not any(op["tuned"] for op in json.loads(untuned.stdout)["ops"])


@pytest.mark.parametrize("args, message", [
    (["--target", "z80"], "unknown target"),
    (["--searcher", "annealing"], "unknown searcher"),
    (["--trials", "0"], "at least 1"),
])
def test_bad_arguments(tuned, args, message):
    d, model, db, _ = tuned
    proc = _cli("tune", model, "--db", d / "other.jsonl", *KERNELS, *args)
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_tune_a_tjm_like_its_source(tuned):
    """A .tjm's layers are the source model's: the same signatures, the same seeded candidates,
    and records that the next convert of the source picks up."""
    d, model, db, _ = tuned
    assert _cli("convert", model, "-o", d / "plain.tjm", *KERNELS).returncode == 0
    tjm_db = d / "from_tjm.jsonl"
    proc = _cli("tune", d / "plain.tjm", "--trials", 3, "--db", tjm_db, "--searcher", "random", "--no-progress",
                *KERNELS)
    assert proc.returncode == 0, proc.stderr
    from_source = [json.loads(line) for line in db.read_text().splitlines()]
    from_tjm = [json.loads(line) for line in tjm_db.read_text().splitlines()]
    assert [(r["kind"], r["kernel"], r["signature"]) for r in from_tjm] == \
        [(r["kind"], r["kernel"], r["signature"]) for r in from_source]
    assert [r["schedule"] for r in from_tjm if r["kind"] == "trial"] == \
        [r["schedule"] for r in from_source if r["kind"] == "trial"]
    assert all(r["error"] is None for r in from_tjm if r["kind"] == "trial")
    assert _cli("convert", model, "-o", d / "retuned.tjm", *KERNELS, env={"TINYJIT_TUNED_DB": str(tjm_db)}).returncode == 0
    (op,) = json.loads(_cli("inspect", d / "retuned.tjm", "--json").stdout)["ops"]
    assert op["tuned"] and op["schedule"] == from_tjm[-1]["schedule"]


def test_tjm_without_layers_and_missing_model(tuned):
    """A .tjm written before format 1.1 has no layer records: a clear error, not a crash."""
    from tinyjit import format as tjm
    d, model, db, _ = tuned
    assert _cli("convert", model, "-o", d / "old.tjm", *KERNELS).returncode == 0
    plan = tjm.load(d / "old.tjm")
    for step in plan.steps:
        step.layer = ""
    tjm.save(plan, d / "old.tjm")
    proc = _cli("tune", d / "old.tjm", "--db", d / "other.jsonl", *KERNELS)
    assert proc.returncode == 1 and "convert the model again" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("tune")
    assert proc.returncode == 1 and "--report" in proc.stderr
    proc = _cli("tune", d / "absent.onnx")
    assert proc.returncode == 1 and "no such file" in proc.stderr


def test_mcu_target_without_qemu_names_the_package(tuned, monkeypatch):
    """A target whose emulator is not installed: the error says which Debian package brings it."""
    from tinyjit import targets
    from tinyjit.errors import TinyJitError
    from tinyjit.tune import make_runner
    t = targets.TARGETS["cortex-m4"]
    monkeypatch.setitem(targets.TARGETS, "cortex-m4", type(t)(**{**t.__dict__, "qemu": ("qemu-system-nowhere",)}))
    monkeypatch.setattr("shutil.which", lambda name: None if "nowhere" in name else "/usr/bin/" + name)
    try:
        make_runner("cortex-m4")
    except TinyJitError as e:
        assert t.qemu_package in str(e) or "tinyjit.export" in str(e)
    else:
        pytest.fail("no error for a missing emulator")


def test_unanswering_ray_address_fails_fast(tuned):
    pytest.importorskip("ray")
    d, model, db, _ = tuned
    t0 = time.monotonic()
    proc = _cli("tune", model, "--db", d / "other.jsonl", "--ray", "127.0.0.1:9", *KERNELS)   # nothing listens there
    assert proc.returncode == 1 and "no Ray cluster answers at 127.0.0.1:9" in proc.stderr
    assert time.monotonic() - t0 < 30


def test_builtin_conv_model(tmp_path):
    """A model of built-in kernels only, through the command line, one trial (the default)."""
    model = write_tiny_conv(tmp_path / "tiny.onnx", c_out=8, hw=6)
    proc = _cli("tune", model, "--trials", 1, "--db", tmp_path / "t.jsonl", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(_cli("tune", "--report", tmp_path / "t.jsonl", "--json", "--plot", "none").stdout)
    assert all(r["speedup"] == 1.0 and r["trials"] == 1 for r in rows)
