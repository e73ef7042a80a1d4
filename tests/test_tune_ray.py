"""--ray: the same candidates as a local run with the same seed; clear errors for bad addresses."""
import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from tinyjit.tune import tune_model  # noqa: E402
from tune_helpers import matmul_graph  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _sequence(path):
    return [(r["kind"], r["schedule"], r.get("error")) for r in map(json.loads, path.read_text().splitlines())
            if r["kind"] == "trial"]


def test_ray_run_proposes_what_a_local_run_proposes(local_ray, tmp_path):
    model = matmul_graph(m=4, k=16, n=32)         # a user kernel: the workers load its file too
    kw = dict(target="x86_64", trials=6, searcher="random", seed=11, batch=3, progress=False)
    tune_model(model, db=tmp_path / "local.jsonl", **kw)
    tune_model(model, db=tmp_path / "ray.jsonl", ray="auto", **kw)
    local, remote = _sequence(tmp_path / "local.jsonl"), _sequence(tmp_path / "ray.jsonl")
    assert len(local) == 6 and local == remote
    runners = {json.loads(line)["runner"] for line in (tmp_path / "ray.jsonl").read_text().splitlines()}
    assert runners == {"host+ray"}


def test_deterministic_runner_gives_identical_records_on_ray(local_ray, tmp_path):
    """With figures that do not depend on the machine (as QEMU's instruction counts), the records
    themselves are equal, figures and the guided search's choices included."""
    import ray.cloudpickle

    import test_tune_tuner
    ray.cloudpickle.register_pickle_by_value(test_tune_tuner)   # the workers cannot import tests/
    model = matmul_graph(m=8, k=16, n=32)
    kw = dict(target="x86_64", trials=10, searcher="model", seed=5, batch=4, progress=False)
    tune_model(model, db=tmp_path / "local.jsonl", runner=test_tune_tuner.CountingRunner(), **kw)
    tune_model(model, db=tmp_path / "ray.jsonl", runner=test_tune_tuner.CountingRunner(), ray="auto", **kw)

    def records(name):
        keep = ("kind", "schedule", "value", "default_value", "trial")
        return [{k: r.get(k) for k in keep} for r in map(json.loads, (tmp_path / name).read_text().splitlines())]
    assert records("local.jsonl") == records("ray.jsonl")
    assert len(records("ray.jsonl")) == 11


def test_a_server_that_never_answers_times_out(tmp_path):
    """Something accepts connections at the address but never speaks Ray: an error, not a hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def accept():
        conns = []
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass
        for c in conns:
            c.close()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        code = ("from tinyjit.tune.distributed import connect\n"
                f"connect('127.0.0.1:{port}', timeout=8)\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        t.join()
        srv.close()
    assert proc.returncode != 0 and f"127.0.0.1:{port}" in proc.stderr
    assert "TinyJitError" in proc.stderr and elapsed < 30


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs gcc-arm-none-eabi and qemu-system-arm")
def test_qemu_counts_on_ray_equal_a_local_run(local_ray, tmp_path):
    graph = matmul_graph(m=4, k=8, n=8)
    kw = dict(target="cortex-m4", trials=4, searcher="model", seed=4, batch=2, progress=False)
    tune_model(graph, db=tmp_path / "local.jsonl", **kw)
    tune_model(graph, db=tmp_path / "ray.jsonl", ray="auto", **kw)

    def records(name):
        keep = ("kind", "schedule", "value", "default_value", "error")
        return [{k: r.get(k) for k in keep} for r in map(json.loads, (tmp_path / name).read_text().splitlines())]
    assert records("local.jsonl") == records("ray.jsonl") and len(records("ray.jsonl")) == 5
