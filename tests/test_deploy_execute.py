"""Partitions: each a valid .tjm, together equal to the whole model; run over loopback TCP.

Execution runs on the small models (AD, KWS, the bundled DS-CNN); ResNet only where it tests
what they cannot: a residual's skip tensor crossing a cut.
"""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import tinyjit
from tinyjit import format as tjm
from tinyjit.cli import main
from tinyjit.demo import build_ds_cnn
from tinyjit.deploy import devices, partition, planner, profile, runtime, wire
from tinyjit.deploy.dataflow import analyze
from tinyjit.deploy.worker import Emulation, Partition
from tinyjit.errors import TinyJitError
from tinyjit.executor import Executor

from conftest import FLOAT_MODELS, MODELS, max_rel_err


def _compile(name):
    if name == "ds_cnn":
        return tinyjit.compile_model(build_ds_cnn().SerializeToString())
    return tinyjit.compile_model(str(MODELS / FLOAT_MODELS[name][1]))


def _inputs(plan, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(plan.tensors[i].shape).astype(plan.tensors[i].dtype) for i in plan.inputs]


def _run_parts(plan, parts, x):
    want = Executor(plan).run(x)
    for part in parts:
        part = tjm.load(tjm.to_bytes(part))          # every partition is a valid .tjm
        assert part.weights_bytes <= plan.weights_bytes and part.arena_bytes <= plan.arena_bytes * 2
        x = Executor(part).run(x)
    for got, w in zip(x, want):
        # fastmath lets LLVM reassociate differently once a kernel is inlined into another plan:
        # float results may differ in the last bits (int8 ones may not)
        assert got.dtype == w.dtype and got.shape == w.shape and max_rel_err(got, w) <= 1e-6


@pytest.mark.parametrize("name", ["ad", "kws", "ds_cnn"])
def test_partitions_equal_the_whole_model(name):
    plan = _compile(name)
    n = len(plan.steps)
    _run_parts(plan, partition.split(plan, [n // 3, 2 * n // 3]), _inputs(plan))


def test_a_residual_skip_tensor_crossing_a_cut():
    plan = _compile("resnet")
    df = analyze(plan)
    # the first cut inside a residual block: the skip tensor and the main branch both cross it
    k = next(k for k in range(1, len(plan.steps)) if len(partition.boundary(df, k)) >= 2)
    parts = partition.split(plan, [k])
    assert len(parts[0].outputs) >= 2 and len(parts[1].inputs) == len(parts[0].outputs)
    _run_parts(plan, parts, _inputs(plan))


def test_received_tensors_never_recompile_the_partition():
    """Arrays over received bytes (or Ray's zero-copy, read-only ones) are another Numba type:
    the partition makes them writable before its plan sees them."""
    plan = partition.split(_compile("ad"), [4])[1]
    part = Partition(plan, Emulation())
    (spec,) = part.in_specs
    x = np.random.default_rng(0).standard_normal(spec.shape).astype(spec.dtype)
    read_only = np.frombuffer(x.tobytes(), spec.dtype).reshape(spec.shape)
    assert not read_only.flags.writeable
    want = part.executor.run([x])
    strided = np.repeat(x, 2, axis=-1)[..., ::2]
    assert not strided.flags.c_contiguous
    for arr in (read_only, strided):
        (got,) = part.outputs({spec.name: arr})
        assert np.array_equal(got, want[0])
    assert len(part.executor._run.signatures) == 1


@pytest.fixture(scope="module")
def ad_planner():
    prof = profile.build(_compile("ad"))
    db = devices.load()
    topo = planner.Topology(db, ["esp32", "rv1109", "server"],
                            {("esp32", "rv1109"): "wifi", ("rv1109", "server"): "ethernet"})
    return planner.Planner(prof, topo)


def test_three_processes_over_tcp_match_and_predict(ad_planner):
    cand = ad_planner.chain(["esp32", "rv1109", "server"], [0, 3, 6, 10])
    out = runtime.execute(ad_planner, cand, runs=5)
    assert out["match"] and out["max_error"][0] <= 1e-6
    assert [p["device"] for p in out["partitions"]] == ["esp32", "rv1109", "server"]
    assert out["hops"] == 4 and len(out["runs_ms"]) == len(out["calibration_ms"]) == 5
    # the runtime's own time is measured apart, and the comparison adds it to the prediction
    assert math.isfinite(out["runtime_overhead_ms"])
    assert min(out["calibration_ms"]) >= 0.99 * out["emulated_ms"]
    assert out["predicted_with_overhead_ms"] == pytest.approx(out["predicted_latency_ms"] + out["runtime_overhead_ms"])
    assert out["emulated_ms"] == pytest.approx(out["predicted_latency_ms"], rel=0.01)   # all three are paced
    assert out["measured_latency_ms"] > 0.9 * out["predicted_latency_ms"]


def _workers() -> list[int]:
    """Worker processes this test process started that are still there."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"tinyjit.deploy.worker" in cmd:
            out.append(int(d.name))
    return out


@pytest.mark.parametrize("fault", ["exit", "hang"])
def test_a_partition_that_dies_or_hangs_fails_clearly(ad_planner, fault):
    # the upstream partition fails while the downstream one waits for it: both are ended
    cand = ad_planner.chain(["esp32", "rv1109"], [0, 5, 10])
    message = "partition 0 \\(esp32, pid \\d+\\) died with exit code 3" if fault == "exit" else "no answer within 2 s"
    with pytest.raises(TinyJitError, match=message):
        runtime.execute(ad_planner, cand, runs=1, fault={0: fault}, timeout=2)
    assert not _workers()


def test_wire_round_trip_with_calibration_and_not_before():
    import socket
    a, b = socket.socketpair()
    try:
        x = np.arange(6, dtype=np.int8).reshape(2, 3)
        wire.send_message(a, [wire.encode("x", x)], calibrate=True, not_before=12.5)
        msg = wire.recv_message(b)
        assert msg.calibrate and msg.not_before == 12.5 and msg.frames[0][0]["name"] == "x"
        assert np.array_equal(msg.frames[0][1], x) and msg.frames[0][1].flags.writeable
        wire.send_control(a, wire.STOP)
        assert wire.recv_message(b) is None
    finally:
        a.close()
        b.close()


def test_cli_plan_execute_json(tmp_path, capsys):
    png = tmp_path / "gantt.png"
    code = main(["plan", str(MODELS / "kws_ref_model_float32.tflite"), "--devices", "esp32,server",
                 "--links", "esp32-server:wifi", "--json", "--execute", "--runs", "2", "--gantt", str(png),
                 "--out", str(tmp_path / "parts")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out["mode"] == "cloud-edge" and out["plan"].startswith("esp32[0:0] -> server")
    assert out["predicted_latency_ms"] > 0 and out["measured_latency_ms"] > 0 and out["match"] is True
    assert "runtime_overhead_ms" in out and out["execution"]["runtime"].startswith("loopback TCP")
    # the source runs no step: the parent sends the input itself, one process, two hops
    assert out["execution"]["hops"] == 2
    assert all("ram_bytes" in d and "flash_bytes" in d for d in out["devices"])
    assert png.stat().st_size > 1000 and list((tmp_path / "parts").glob("*.tjm"))


def test_cli_bad_input(tmp_path, capsys):
    model = str(MODELS / "ad01_fp32.tflite")
    assert main(["plan", model, "--devices", "esp32,nosuch"]) == 1
    assert "known devices:" in capsys.readouterr().err
    assert main(["plan", model, "--devices", "esp32,server", "--links", "esp32-server:pigeon"]) == 1
    assert "known links:" in capsys.readouterr().err
    bad = tmp_path / "dev.toml"
    bad.write_text('[devices.x]\ntier = "tinyml"\n')
    assert main(["devices", "--device-file", str(bad)]) == 1
    assert "missing field(s) isa" in capsys.readouterr().err
    assert main(["profile", model, "--device", "esp32", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert prof["latency_source"] == "roofline" and len(prof["steps"]) == 10
