"""The command line on its happy paths: convert, run, inspect, demo."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinyjit.demo import INPUT_SHAPE, build_ds_cnn

from conftest import FLOAT_MODELS, MODELS, max_rel_err, ort_session


def _cli(*args, cwd=None, env=None):
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=900, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "kws.onnx").write_bytes(build_ds_cnn().SerializeToString())
    out = _cli("convert", d / "kws.onnx", "-o", d / "kws.tjm")
    assert "arena" in out
    return d


def test_run_npy_matches_onnxruntime(converted):
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(np.float32)
    np.save(converted / "x.npy", x)
    _cli("run", converted / "kws.tjm", "--input", converted / "x.npy", "-o", converted / "y.npy")
    want = ort_session(build_ds_cnn().SerializeToString()).run(None, {"input": x})[0]
    assert max_rel_err(np.load(converted / "y.npy"), want) < 1e-4


def test_run_npz_in_and_out(converted):
    x = np.random.default_rng(1).standard_normal(INPUT_SHAPE).astype(np.float32)
    np.savez(converted / "x.npz", input=x)
    _cli("run", converted / "kws.tjm", "--input", converted / "x.npz", "-o", converted / "y.npz")
    y = np.load(converted / "y.npz")
    assert y.files == ["probabilities"] and y["probabilities"].shape == (1, 12)
    printed = _cli("run", converted / "kws.tjm", "--input", converted / "x.npz")
    assert "probabilities float32[1, 12]" in printed


def test_inspect_json(converted):
    report = json.loads(_cli("inspect", converted / "kws.tjm", "--json"))
    assert report["arena_bytes"] > 0 and report["weights_bytes"] > 0
    ops = report["ops"]
    assert [o["op"] for o in ops].count("DepthwiseConv") == 4
    assert all(o["macs"] >= 0 and "schedule" in o and "kernel" in o for o in ops)
    assert report["macs"] == sum(o["macs"] for o in ops) > 2_000_000


def test_inspect_table(converted):
    text = _cli("inspect", converted / "kws.tjm")
    for word in ("DepthwiseConv", "arena", "weights", "MACs", "input"):
        assert word in text


def test_convert_tflite_and_run(tmp_path):
    src = MODELS / FLOAT_MODELS["ad"][1]
    _cli("convert", src, "-o", tmp_path / "ad.tjm")
    x = np.random.default_rng(2).standard_normal((1, 640)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _cli("run", tmp_path / "ad.tjm", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    want = ort_session(MODELS / FLOAT_MODELS["ad"][0]).run(None, {"input_1": x})[0]
    assert max_rel_err(np.load(tmp_path / "y.npy"), want) < 1e-4


def test_demo(tmp_path):
    out = _cli("demo", "--dir", tmp_path / "demo", "--repeat", "20")
    for word in ("latency median", "arena", "class"):
        assert word in out
    assert (tmp_path / "demo" / "ds_cnn_kws.tjm").is_file()
