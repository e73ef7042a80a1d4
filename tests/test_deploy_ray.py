"""--ray: partitions as Ray actors placed by a device:NAME resource, equal to the whole model."""
import os
import re
import time

import pytest

ray = pytest.importorskip("ray")

import tinyjit  # noqa: E402
from tinyjit.cli import main  # noqa: E402
from tinyjit.deploy import devices, planner, profile  # noqa: E402
from tinyjit.deploy.ray_runtime import execute_on_ray  # noqa: E402
from tinyjit.errors import TinyJitError  # noqa: E402

from conftest import MODELS  # noqa: E402


@pytest.fixture(scope="module")
def ad_planner():
    prof = profile.build(tinyjit.compile_model(str(MODELS / "ad01_fp32.tflite")))
    db = devices.load()
    topo = planner.Topology(db, ["esp32", "rv1109", "host", "server"],
                            {("esp32", "rv1109"): "wifi", ("rv1109", "host"): "ethernet", ("esp32", "host"): "wifi",
                             ("esp32", "server"): "wifi"})
    return planner.Planner(prof, topo)


def test_an_unreachable_address_is_a_clear_error_within_30_s(capsys):
    if ray.is_initialized():
        ray.shutdown()
    t0 = time.monotonic()
    code = main(["plan", str(MODELS / "ad01_fp32.tflite"), "--devices", "esp32,server", "--links", "esp32-server:wifi",
                 "--ray", "127.0.0.1:1", "--runs", "1"])
    assert code == 1 and time.monotonic() - t0 < 30 and not ray.is_initialized()
    assert re.search(r"no Ray cluster answers at 127\.0\.0\.1:1 .*ray start --head", capsys.readouterr().err)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, resources={"device:esp32": 1, "device:rv1109": 1, "device:host": 1},
             include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_partitions_as_ray_actors_equal_the_whole_model(local_ray, ad_planner):
    # the source runs no step (the driver sends its input over Wi-Fi), the tensors cut after
    # step 6 go from actor to actor
    cand = ad_planner.chain(["esp32", "rv1109", "host"], [0, 0, 6, 10])
    out = execute_on_ray(ad_planner, cand, "auto", runs=3)
    assert out["match"] and out["max_error"][0] <= 1e-6
    placed = out["placement"]
    assert [p["resource"] for p in placed] == ["device:rv1109", "device:host"]
    assert len({p["pid"] for p in placed}) == 2 and os.getpid() not in {p["pid"] for p in placed}
    assert out["hops"] == 3 and len(out["calibration_ms"]) == 3 and out["runtime"].startswith("Ray")
    assert min(out["calibration_ms"]) >= 0.99 * out["emulated_ms"]
    assert out["measured_latency_ms"] > 0.9 * out["predicted_latency_ms"]
    assert ray.is_initialized()                 # the cluster it did not start is kept, the actors are ended
    deadline = time.monotonic() + 20
    while _alive(p["pid"] for p in placed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(p["pid"] for p in placed)


def _alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            out.append(pid)
        except ProcessLookupError:
            pass
    return out


def test_a_device_that_no_node_offers_is_named(local_ray, ad_planner):
    cand = ad_planner.chain(["esp32", "server"], [0, 5, 10])
    with pytest.raises(TinyJitError, match=r"no node of the Ray cluster offers device:server: .*--resources "
                                           r"'\{\"device:server\": 1\}'.*device:esp32"):
        execute_on_ray(ad_planner, cand, "auto", runs=1)
