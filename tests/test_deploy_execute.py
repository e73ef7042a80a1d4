"""Partitions: each a valid .tjm, together equal to the whole model; run over loopback TCP."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

import tinyjit
from tinyjit import format as tjm
from tinyjit.cli import main
from tinyjit.deploy import devices, partition, planner, profile, runtime
from tinyjit.errors import TinyJitError
from tinyjit.executor import Executor

from conftest import FLOAT_MODELS, MODELS, max_rel_err


@pytest.mark.parametrize("name", list(FLOAT_MODELS))
def test_partitions_equal_the_whole_model(name):
    plan = tinyjit.compile_model(str(MODELS / FLOAT_MODELS[name][1]))
    n = len(plan.steps)
    parts = partition.split(plan, [n // 3, 2 * n // 3])
    rng = np.random.default_rng(1)
    x = [rng.standard_normal(plan.tensors[i].shape).astype(plan.tensors[i].dtype) for i in plan.inputs]
    want = Executor(plan).run(x)
    for part in parts:
        part = tjm.load(tjm.to_bytes(part))          # every partition is a valid .tjm
        assert part.weights_bytes <= plan.weights_bytes and part.arena_bytes <= plan.arena_bytes * 2
        x = Executor(part).run(x)
    for got, w in zip(x, want):
        # fastmath lets LLVM reassociate differently once a kernel is inlined into another plan:
        # float results may differ in the last bits (int8 ones may not)
        assert got.dtype == w.dtype and max_rel_err(got, w) <= 1e-6


@pytest.fixture(scope="module")
def ad_planner():
    prof = profile.build(tinyjit.compile_model(str(MODELS / "ad01_fp32.tflite")))
    db = devices.load()
    topo = planner.Topology(db, ["esp32", "rv1109", "server"],
                            {("esp32", "rv1109"): "wifi", ("rv1109", "server"): "ethernet"})
    return planner.Planner(prof, topo)


def test_three_processes_over_tcp_match_and_predict(ad_planner):
    cand = ad_planner.chain(["esp32", "rv1109", "server"], [0, 3, 6, 10])
    out = runtime.execute(ad_planner, cand, runs=3)
    assert out["match"] and out["max_error"][0] <= 1e-6
    assert [p["device"] for p in out["partitions"]] == ["esp32", "rv1109", "server"]
    assert out["measured_latency_ms"] > 0.9 * out["predicted_latency_ms"]


@pytest.mark.parametrize("fault", ["exit", "hang"])
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
    cand = ad_planner.chain(["esp32", "rv1109", "server"], [0, 3, 6, 10])
    message = "partition 1 \\(rv1109, pid \\d+\\) died with exit code 3" if fault == "exit" else "no answer within 4 s"
    with pytest.raises(TinyJitError, match=message):
        runtime.execute(ad_planner, cand, runs=1, fault={1: fault}, timeout=4)
    assert not _workers()


def test_cli_plan_execute_json(tmp_path, capsys):
    png = tmp_path / "gantt.png"
    code = main(["plan", str(MODELS / "kws_ref_model_float32.tflite"), "--devices", "esp32,server",
                 "--links", "esp32-server:wifi", "--json", "--execute", "--runs", "2", "--gantt", str(png),
                 "--out", str(tmp_path / "parts")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["mode"] in ("standalone", "cloud-edge", "edge-cluster")
    assert out["predicted_latency_ms"] > 0 and out["measured_latency_ms"] > 0 and out["match"] is True
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
