"""Bad input ends in a clear TinyJitError (CLI: one line on stderr, non-zero exit), nothing else."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tinyjit
from tinyjit import InputError, ModelLoadError, UnsupportedError
from tinyjit.demo import build_ds_cnn

from conftest import FLOAT_MODELS, MODELS


def _cli(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def _assert_one_line_error(code, err, *words):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tinyjit: error:"), lines[0]
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("fname", [FLOAT_MODELS["vww"][0], FLOAT_MODELS["vww"][1]])
@pytest.mark.parametrize("cut", [0.01, 0.5, 0.97])
def test_truncated_model_is_a_load_error(tmp_path, fname, cut):
    data = (MODELS / fname).read_bytes()
    path = tmp_path / fname
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelLoadError):
        tinyjit.compile_model(str(path))


@pytest.mark.parametrize("fname", [FLOAT_MODELS["ad"][0], FLOAT_MODELS["ad"][1]])
def test_corrupt_model_is_a_load_error(tmp_path, fname):
    rng = np.random.default_rng(0)
    data = bytearray((MODELS / fname).read_bytes())
    for trial in range(5):
        corrupt = bytearray(data)
        idx = rng.integers(0, len(corrupt), 64)
        corrupt[:8] = bytes(rng.integers(0, 256, 8, dtype=np.uint8)) if trial == 0 else corrupt[:8]
        for i in idx:
            corrupt[i] = rng.integers(0, 256)
        path = tmp_path / fname
        path.write_bytes(bytes(corrupt))
        try:
            tinyjit.compile_model(str(path))
        except tinyjit.TinyJitError:
            pass   # a clear error, or (if the flips hit only weights) a model that still converts


def test_garbage_file_is_a_load_error(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\x01this is not a model" * 10)
    with pytest.raises(ModelLoadError):
        tinyjit.compile_model(str(path))


def test_missing_file():
    with pytest.raises(ModelLoadError, match="no such file"):
        tinyjit.compile_model("/nonexistent/model.onnx")


def _model_with_unsupported_ops() -> bytes:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("NonMaxSuppression", ["a", "a"], ["b"], name="nms_1"),
             helper.make_node("Relu", ["x"], ["c"], name="ok2"),
             helper.make_node("StringNormalizer", ["c"], ["d"], name="strnorm"),
             helper.make_node("NonMaxSuppression", ["c", "c"], ["e"], name="nms_2")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4])],
                              [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in "bde"])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_unsupported_ops_are_listed_all_at_once_with_node_names():
    with pytest.raises(tinyjit.TinyJitError) as info:
        tinyjit.compile_model(_model_with_unsupported_ops())
    msg = str(info.value)
    for word in ("NonMaxSuppression", "nms_1", "nms_2", "StringNormalizer", "strnorm"):
        assert word in msg


def test_custom_domain_op_is_named_with_its_domain():
    node = helper.make_node("Swish", ["x"], ["y"], name="swish_0", domain="com.example")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedError, match="com.example::Swish.*swish_0"):
        tinyjit.compile_model(model.SerializeToString())


@pytest.fixture(scope="module")
def demo_session():
    return tinyjit.InferenceSession(build_ds_cnn().SerializeToString())


def test_wrong_input_name(demo_session):
    with pytest.raises(InputError, match="expected \\['input'\\].*unknown \\['image'\\]"):
        demo_session.run(None, {"image": np.zeros((1, 1, 49, 10), np.float32)})


def test_wrong_input_shape(demo_session):
    with pytest.raises(InputError, match="shape \\[1, 1, 49, 10\\], got \\[1, 49, 10\\]"):
        demo_session.run(None, {"input": np.zeros((1, 49, 10), np.float32)})


def test_wrong_input_dtype(demo_session):
    with pytest.raises(InputError, match="must be float32, got float64"):
        demo_session.run(None, {"input": np.zeros((1, 1, 49, 10))})


def test_unknown_output_name(demo_session):
    with pytest.raises(InputError, match="unknown output"):
        demo_session.run(["nope"], {"input": np.zeros((1, 1, 49, 10), np.float32)})


def test_cli_convert_truncated_model_one_line_and_no_output(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes((MODELS / FLOAT_MODELS["kws"][0]).read_bytes()[:5000])
    out = tmp_path / "m.tjm"
    code, _, err = _cli("convert", src, "-o", out)
    _assert_one_line_error(code, err, "m.onnx")
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_cli_convert_unsupported_op_one_line(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(_model_with_unsupported_ops())
    out = tmp_path / "m.tjm"
    code, _, err = _cli("convert", src, "-o", out)
    _assert_one_line_error(code, err, "nms_1", "nms_2", "strnorm")
    assert not out.exists()


def test_cli_run_wrong_input_shape_one_line_and_no_output(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(build_ds_cnn().SerializeToString())
    np.save(tmp_path / "x.npy", np.zeros((1, 49, 10), np.float32))
    code, _, err = _cli("run", src, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    _assert_one_line_error(code, err, "shape")
    assert not (tmp_path / "y.npy").exists()


def test_cli_run_bad_input_file(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(build_ds_cnn().SerializeToString())
    (tmp_path / "x.npy").write_bytes(b"garbage")
    code, _, err = _cli("run", src, "--input", tmp_path / "x.npy")
    _assert_one_line_error(code, err, "x.npy")


def test_cli_corrupt_tjm_one_line(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(build_ds_cnn().SerializeToString())
    tjm = tmp_path / "m.tjm"
    code, _, err = _cli("convert", src, "-o", tjm)
    assert code == 0, err
    data = tjm.read_bytes()
    for cut in (16, len(data) // 3, len(data) - 10):
        tjm.write_bytes(data[:cut])
        code, _, err = _cli("inspect", tjm)
        _assert_one_line_error(code, err)


def test_bad_input_shape_flag(tmp_path):
    src = tmp_path / "m.onnx"
    src.write_bytes(build_ds_cnn().SerializeToString())
    code, _, err = _cli("convert", src, "-o", tmp_path / "m.tjm", "--input-shape", "nope=1,2")
    _assert_one_line_error(code, err, "nope", "input")
    code, _, err = _cli("convert", src, "-o", tmp_path / "m.tjm", "--input-shape", "input=a,b")
    _assert_one_line_error(code, err, "input=a,b")


def test_non_contiguous_and_list_inputs_are_accepted(demo_session):
    x = np.random.default_rng(0).standard_normal((1, 1, 10, 49)).astype(np.float32)
    want = demo_session.run(None, {"input": np.ascontiguousarray(x.transpose(0, 1, 3, 2))})[0]
    np.testing.assert_array_equal(demo_session.run(None, {"input": x.transpose(0, 1, 3, 2)})[0], want)
    with pytest.raises(InputError, match="dict"):
        demo_session.run(None, [x])
