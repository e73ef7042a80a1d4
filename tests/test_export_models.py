"""Exported C projects give the Python executor's outputs: the bundled demo and the float MLPerf
Tiny kws and ad models on Cortex-M4, the int8 MLPerf Tiny models on Cortex-M4, Cortex-M55 and RV64GCV, all
under QEMU; plus the CLI and the bad inputs of `tinyjit export` / `tinyjit verify`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FLOAT_MODELS, INT8_MODELS, MODELS
from tinyjit import demo, pipeline
from tinyjit import format as tjm
from tinyjit.errors import TinyJitError, UnsupportedError
from tinyjit.export import export, verify

INT8_TARGETS = ["cortex-m4", "cortex-m55", "rv64gcv"]


def _export_verify(plan, target: str, out: Path) -> dict:
    export(plan, target, out)
    return verify(out)


@pytest.fixture(scope="module")
def demo_m4(tmp_path_factory):
    plan = pipeline.compile_model(demo.build_ds_cnn().SerializeToString(), target="cortex-m4")
    out = tmp_path_factory.mktemp("demo") / "ds_cnn_m4"
    return out, _export_verify(plan, "cortex-m4", out)


def test_demo_cortex_m4(demo_m4):
    out, r = demo_m4
    assert r["match"], r
    assert r["max_error"] <= 1e-5
    assert r["instructions"] > r["macs"]            # measured, not zero
    assert 0 < r["flash_bytes"] and r["arena_bytes"] <= r["ram_bytes"]
    for name in ("model.h", "model.c", "kernels.c", "weights.c", "Makefile", "CMakeLists.txt", "main.c",
                 "armv7em_dsp.h", "generic.h"):
        assert (out / name).is_file(), name


def test_demo_model_code_has_no_malloc_or_stdio(demo_m4):
    out, _ = demo_m4
    for name in ("model.c", "kernels.c", "weights.c", "model.h", "kernels.h", "tinyjit_runtime.h"):
        text = (out / name).read_text()
        for banned in ("malloc", "printf", "<stdio.h>", "free("):
            assert banned not in text, f"{name} uses {banned}"


def test_demo_builds_with_cmake(demo_m4, tmp_path):
    out, _ = demo_m4
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    build = tmp_path / "b"
    proc = subprocess.run(["cmake", "-S", str(out), "-B", str(build)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# kws (convolutions) and ad (fully connected layers) cover the float kernels in C; resnet and vww add
# minutes of emulated float arithmetic and no kernel the other two lack
@pytest.mark.parametrize("name", ["ad", "kws"])
def test_float_mlperf_cortex_m4(name, tmp_path):
    plan = pipeline.compile_model(str(MODELS / FLOAT_MODELS[name][0]), target="cortex-m4")
    r = _export_verify(plan, "cortex-m4", tmp_path / name)
    assert r["match"], r


@pytest.fixture(scope="module")
def int8_plans():
    return {name: pipeline.compile_model(str(MODELS / files[1]), target="cortex-m4")
            for name, files in INT8_MODELS.items()}


@pytest.mark.parametrize("target", INT8_TARGETS)
@pytest.mark.parametrize("name", sorted(INT8_MODELS))
def test_int8_mlperf_exact(name, target, int8_plans, tmp_path):
    r = _export_verify(int8_plans[name], target, tmp_path / f"{name}_{target}")
    assert r["match"] and r["exact"], r
    assert r["instructions"] > 0


def test_cli_export_verify_json(tmp_path):
    plan = pipeline.compile_model(str(MODELS / INT8_MODELS["ad"][1]), target="cortex-m4")
    model = tmp_path / "ad.tjm"
    tjm.save(plan, model)
    out = tmp_path / "ad_m4"
    cli = [sys.executable, "-m", "tinyjit.cli"]
    proc = subprocess.run(cli + ["export", str(model), "--target", "cortex-m4", "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(cli + ["verify", str(out), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("match", "instructions", "flash_bytes", "ram_bytes", "arena_bytes"):
        assert key in report
    assert report["match"] is True
    # deterministic: the same count twice
    assert verify(out)["instructions"] == report["instructions"]


# bad input ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_plan():
    return pipeline.compile_model(str(MODELS / INT8_MODELS["ad"][1]), target="cortex-m4")


def test_unknown_target_lists_the_known_ones(small_plan, tmp_path):
    with pytest.raises(TinyJitError, match="known targets: cortex-m4, cortex-m7, cortex-m55, rv32imac"):
        export(small_plan, "cortex-m99", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_unknown_target(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", "export", "x.tjm", "--target", "avr", "-o",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "known targets" in proc.stderr and not (tmp_path / "o").exists()


def test_op_without_c_lowering_is_named_and_nothing_is_written(small_plan, tmp_path, monkeypatch):
    import importlib.util
    import inspect

    from tinyjit import registry
    real = registry.by_name(small_plan.steps[0].kernel)
    params = ", ".join(inspect.signature(real.fn).parameters)
    module = tmp_path / "bad_kernel_mod.py"       # a kernel with the real one's signature, outside the subset
    module.write_text(f"def bad_kernel({params}):\n    y = [v for v in range(3)]\n    return y\n")
    spec = importlib.util.spec_from_file_location("bad_kernel_mod", module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fake = registry.Kernel(mod.bad_kernel, real.op, real.dtypes, dict(real.schedule_space), "", name=real.name)
    monkeypatch.setattr(registry, "by_name", lambda name: fake)
    out = tmp_path / "out"
    with pytest.raises(UnsupportedError, match=rf"no C lowering for {real.op} .*bad_kernel_mod.py:2: a ListComp is outside"):
        export(small_plan, "cortex-m4", out)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]   # no temp dir left


def test_refuses_to_overwrite_a_foreign_directory(small_plan, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(TinyJitError, match="not a tinyjit export"):
        export(small_plan, "cortex-m4", out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_reexport_replaces_an_earlier_export(small_plan, tmp_path):
    out = tmp_path / "p"
    export(small_plan, "x86_64", out)
    export(small_plan, "cortex-m4", out)
    assert json.loads((out / "tinyjit.json").read_text())["target"] == "cortex-m4"
    assert not (out / "x86_sse.h").exists()


def test_missing_cross_compiler_names_the_package(small_plan, tmp_path, monkeypatch):
    out = tmp_path / "p"
    export(small_plan, "cortex-m4", out)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if "arm-none-eabi" in name else real_which(name))
    with pytest.raises(TinyJitError, match="gcc-arm-none-eabi"):
        verify(out)


def test_missing_qemu_names_the_package(small_plan, tmp_path, monkeypatch):
    out = tmp_path / "p"
    export(small_plan, "rv64gcv", out)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if "qemu" in name else real_which(name))
    with pytest.raises(TinyJitError, match="qemu-system-misc"):
        verify(out)


def test_verify_of_a_non_export(tmp_path):
    with pytest.raises(TinyJitError, match="not a tinyjit export"):
        verify(tmp_path)


def test_verify_with_a_given_input(small_plan, tmp_path):
    out = tmp_path / "p"
    export(small_plan, "x86_64", out)
    info = small_plan.tensors[small_plan.inputs[0]]
    x = np.random.default_rng(3).integers(-128, 127, size=info.shape).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert verify(out, input_path=str(tmp_path / "x.npy"))["match"]
    np.save(tmp_path / "bad.npy", x.astype(np.float32))
    with pytest.raises(TinyJitError, match="must be int8"):
        verify(out, input_path=str(tmp_path / "bad.npy"))
