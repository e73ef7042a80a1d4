"""Deployment planner: device database, dataflow/cut sets, and choices on cases with known answers."""
import pytest

import tinyjit
from tinyjit.deploy import devices, planner, profile
from tinyjit.errors import TinyJitError

from conftest import MODELS


@pytest.fixture(scope="module")
def kws():
    return profile.build(tinyjit.compile_model(str(MODELS / "kws_ref_model_float32.tflite")))


def _db(tmp_path, text=""):
    path = tmp_path / "extra.toml"
    path.write_text(text)
    return devices.load([path])


def _plan(prof, db, devs, links):
    return planner.Planner(prof, planner.Topology(db, devs, planner.parse_links(links, db))).plan()


def test_database_has_every_tier_board_and_link_with_sources():
    db = devices.load()
    for tier in ("ai-box", "ai-camera", "aiot", "tinyml", "cloud"):
        assert tier in db.tiers
    for board in ("stm32f4", "stm32l4", "stm32h7", "nrf52840", "esp32", "esp32-s3", "rp2040", "k210", "bl808",
                  "rv1109", "jetson-nano", "rpi4", "server"):
        d = db.device(board)
        for f in ("clock_hz", "ram_bytes", "flash_bytes", "int8_macs_per_s", "float_macs_per_s", "mem_bandwidth"):
            assert f in d.sources, (board, f)
    assert db.device("stm32h7").target == "cortex-m7" and db.device("server").target == "x86_64"
    for link in ("ble", "802154", "lora", "wifi", "ethernet", "lte"):
        assert {"bandwidth_bps", "rtt_ms"} <= set(db.link(link).sources)


def test_unknown_names_list_the_known_ones():
    db = devices.load()
    with pytest.raises(TinyJitError, match=r"unknown device 'esp99'; known devices: .*esp32.*rv1109"):
        db.device("esp99")
    with pytest.raises(TinyJitError, match=r"unknown link 'wify'; known links: .*ble.*wifi"):
        planner.parse_links("esp32-server:wify", db)
    with pytest.raises(TinyJitError, match=r"unknown device 'esp99'"):
        planner.parse_links("esp99-server:wifi", db)


def test_device_file_missing_fields_are_named(tmp_path):
    with pytest.raises(TinyJitError, match=r"device 'mybox'.*missing field\(s\) isa, clock_hz, .*mem_bandwidth"):
        _db(tmp_path, '[devices.mybox]\ntier = "tinyml"\nram_bytes = 1000\nflash_bytes = 1000\n')
    with pytest.raises(TinyJitError, match=r"link 'mylink'.*missing field\(s\) rtt_ms"):
        _db(tmp_path, "[links.mylink]\nbandwidth_bps = 1e6\n")
    db = _db(tmp_path, "[devices.esp32]\nram_bytes = 1024\n")     # overriding one field of a known device
    assert db.device("esp32").ram_bytes == 1024 and db.device("esp32").clock_hz == 240e6


def test_cut_sets_carry_residuals_and_partial_concats():
    p = tinyjit.compile_model(str(MODELS / "pretrainedResnet.tflite"))
    prof = profile.build(p)
    sizes = [prof.dataflow.crossing_bytes(k) for k in range(1, len(p.steps))]
    # inside a residual block two activations are live: twice a single 32x32x16 float map
    assert 2 * 32 * 32 * 16 * 4 in sizes and min(sizes) < 32 * 32 * 16 * 4


def test_tiny_link_makes_standalone_win(kws, tmp_path):
    db = _db(tmp_path, "[links.trickle]\nbandwidth_bps = 1000.0\nrtt_ms = 500.0\n")
    r = _plan(kws, db, ["esp32", "server"], "esp32-server:trickle")
    assert r.best.mode == "standalone" and [s.device for s in r.best.stages] == ["esp32"]
    assert any(line.startswith("cloud-edge:") and "links take" in line for line in r.reasons)


def test_model_too_big_for_the_mcu_forces_a_cut(kws, tmp_path):
    # 40 KB of RAM: the whole KWS (64 KB arena) does not fit, its first conv (34 KB) does
    db = _db(tmp_path, '[devices.tiny]\ntier = "tinyml"\nisa = "armv7e-m"\ntarget = "cortex-m4"\nclock_hz = 64e6\n'
                       'ram_bytes = 40000\nflash_bytes = 1048576\nint8_macs_per_s = 1e9\nfloat_macs_per_s = 1e9\n'
                       'mem_bandwidth = 1e10\n')
    r = _plan(kws, db, ["tiny", "server"], "tiny-server:ble")
    assert r.best.mode == "cloud-edge"
    assert r.by_mode["standalone"].violations and "tiny: RAM" in r.by_mode["standalone"].violations[0]
    assert any(line.startswith("standalone: does not fit") for line in r.reasons)
    for s in r.best.stages:
        assert s.ram_bytes <= db.device(s.device).ram_bytes


def test_fast_link_and_slow_mcu_move_the_work_to_the_server(kws, tmp_path):
    db = _db(tmp_path, "[devices.rp2040]\nfloat_macs_per_s = 1e5\n")
    r = _plan(kws, db, ["rp2040", "server"], "rp2040-server:ethernet")
    assert r.best.mode == "cloud-edge"
    assert r.best.stages[0].stop == 0 and r.best.stages[-1].device == "server"   # the raw input goes up


def test_two_cuts_through_a_gateway(kws):
    db = devices.load()
    r = _plan(kws, db, ["esp32", "rv1109", "server"], "esp32-rv1109:wifi,rv1109-server:ethernet")
    assert r.best.mode in ("cloud-edge", "edge-cluster") and len(r.by_mode) == 3
    c = r.by_mode["cloud-edge"]
    assert [s.device for s in c.stages] == ["esp32", "rv1109", "server"] and c.kind == "2 cuts"
    # the prediction is the sum of its parts
    parts = sum(s.compute_s + s.send_s for s in c.stages) + c.return_s
    assert c.latency_s == pytest.approx(parts)


def test_a_plan_that_fits_nowhere_says_which_constraint_fails_where(kws, tmp_path):
    db = _db(tmp_path, "[devices.esp32]\nram_bytes = 1000\nflash_bytes = 1000\n")
    with pytest.raises(TinyJitError, match=r"no plan fits: .*esp32: RAM [\d,]+ B needed .*> 1,000 B"):
        _plan(kws, db, ["esp32"], "")


def test_spatial_partitioning_saves_memory():
    p = tinyjit.compile_model(str(MODELS / "vww_96_float.tflite"))
    prof = profile.build(p)
    db = devices.load()
    pl = planner.Planner(prof, planner.Topology(db, ["esp32", "rv1109"], {("esp32", "rv1109"): "wifi"}))
    (c,) = pl.spatial_candidates()
    assert c.kind == "spatial" and not c.executable
    assert 0 < c.spatial["memory_saving"] < 1 and c.spatial["halo_overhead"] >= 0
