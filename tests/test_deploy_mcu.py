"""MCU partitions: --qemu takes their latency from QEMU instruction counts of the exported C
project, and --out writes each one's C project, which builds and matches under QEMU."""
import json
import shutil
from pathlib import Path

import pytest

from tinyjit.cli import main

from conftest import MODELS

pytestmark = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                reason="needs gcc-arm-none-eabi and qemu-system-arm")

# a Cortex-M4 with 400 KB of flash: AD's 1 MB of weights do not fit, its first layer (328 KB) does
TINY = '''[devices.tiny]
tier = "tinyml"
isa = "armv7e-m"
target = "cortex-m4"
clock_hz = 64e6
ram_bytes = 65536
flash_bytes = 400000
int8_macs_per_s = 18.6e6
float_macs_per_s = 9.3e6
mem_bandwidth = 256e6
cpi = 1.2
'''


def test_mcu_partition_latency_from_qemu_and_its_c_project(tmp_path, capsys):
    (tmp_path / "dev.toml").write_text(TINY)
    out_dir = tmp_path / "parts"
    code = main(["plan", str(MODELS / "ad01_fp32.tflite"), "--devices", "tiny,server", "--links", "tiny-server:ble",
                 "--device-file", str(tmp_path / "dev.toml"), "--qemu", "--out", str(out_dir), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["mode"] == "cloud-edge"
    assert "standalone" in out["alternatives"] and not out["alternatives"]["standalone"]["fits"]
    mcu, server = out["devices"]
    assert mcu["device"] == "tiny" and mcu["steps"][0] == 0 and mcu["steps"][1] >= 1
    assert mcu["latency_source"] == "qemu" and server["latency_source"] == "roofline"
    (c,) = [e for e in out["exports"] if e.get("target")]
    project = Path(c["path"])
    assert c["device"] == "tiny" and c["target"] == "cortex-m4" and project.parent == out_dir
    assert (project / "model.c").is_file() and (project / "Makefile").is_file()
    # the partition's own count under QEMU agrees with the share of the whole model's the planner used
    assert c["match"] is True and c["instructions"] > 0
    assert c["qemu_ms"] == pytest.approx(mcu["compute_ms"], rel=0.25) and c["predicted_ms"] == mcu["compute_ms"]
    assert c["flash_bytes"] <= 400000
