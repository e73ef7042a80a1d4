"""Users' kernels: registered with the same decorator as built-in ones, tested, run in models."""
import subprocess
import sys
import textwrap

import numpy as np
from onnx import TensorProto, helper

from conftest import REPO

USER_KERNELS = REPO / "tests" / "data" / "user_kernels"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tinyjit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=900)


def _custom_model(path):
    node = helper.make_node("Softsign2", ["x"], ["y"], name="soft_0", domain="com.example")
    graph = helper.make_graph([helper.make_node("Relu", ["x0"], ["x"], name="relu"), node], "g",
                              [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [2, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path.write_bytes(model.SerializeToString())


def test_kernel_test_command_passes_for_a_correct_kernel():
    proc = _cli("kernel", "test", USER_KERNELS / "softsign2.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("match") == 2      # one line per schedule


def test_custom_op_runs_in_a_model_with_kernels_dir(tmp_path):
    _custom_model(tmp_path / "m.onnx")
    code = _cli("convert", tmp_path / "m.onnx", "-o", tmp_path / "m.tjm")
    assert code.returncode == 1 and "com.example::Softsign2" in code.stderr and "soft_0" in code.stderr
    proc = _cli("convert", tmp_path / "m.onnx", "-o", tmp_path / "m.tjm", "--kernels", USER_KERNELS)
    assert proc.returncode == 0, proc.stderr
    x = np.linspace(-3, 3, 10, dtype=np.float32).reshape(2, 5)
    np.save(tmp_path / "x.npy", x)
    proc = _cli("run", tmp_path / "m.tjm", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
                "--kernels", USER_KERNELS)
    assert proc.returncode == 0, proc.stderr
    r = np.maximum(x, 0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), 2 * r / (1 + r), rtol=1e-6)
    proc = _cli("inspect", tmp_path / "m.tjm", "--json", "--kernels", USER_KERNELS)
    assert '"kernel": "softsign2"' in proc.stdout


def _write_kernel(tmp_path, body: str):
    path = tmp_path / "k.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_reference_disagreement_names_index_values_and_saves_inputs(tmp_path):
    path = _write_kernel(tmp_path, '''
        import numpy as np
        import tinyjit

        @tinyjit.kernel(op="AddOne", domain="com.test", dtypes=("int8",))
        def add_one_wrong(x, y):
            for i in range(x.size):
                y.flat[i] = x.flat[i] + 1 if x.flat[i] < 100 else x.flat[i]

        @add_one_wrong.reference
        def _(x):
            return np.clip(x.astype(np.int32) + 1, -128, 127).astype(np.int8)
    ''')
    proc = _cli("kernel", "test", path)
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1
    assert "differs from the reference at index" in err and "expected" in err and "got" in err
    saved = err.split("inputs saved to ")[1].strip()
    data = np.load(saved)
    assert {"input0", "expected", "got"} <= set(data.files)


def test_shape_function_disagreement(tmp_path):
    path = _write_kernel(tmp_path, '''
        import tinyjit

        @tinyjit.kernel(op="Copy", domain="com.test", dtypes=("float32",))
        def copy(x, y):
            for i in range(x.size):
                y.flat[i] = x.flat[i]

        @copy.shape
        def _(x_shape, attrs):
            return (x_shape[0] + 1,) + tuple(x_shape[1:])

        @copy.reference
        def _(x):
            return x.copy()
    ''')
    proc = _cli("kernel", "test", path)
    assert proc.returncode == 1 and "shape function" in proc.stderr


def test_two_kernels_for_one_op_and_dtype_need_override(tmp_path):
    path = _write_kernel(tmp_path, '''
        import tinyjit

        @tinyjit.kernel(op="Relu", dtypes=("float32",))
        def my_relu(x, y):
            for i in range(x.size):
                y.flat[i] = max(x.flat[i], 0)
    ''')
    proc = _cli("kernel", "test", path)
    assert proc.returncode == 1 and "override=True" in proc.stderr


def test_override_replaces_a_builtin_kernel_end_to_end(tmp_path):
    path = _write_kernel(tmp_path, '''
        import numpy as np
        import tinyjit

        @tinyjit.kernel(op="Relu", dtypes=("float32",), override=True)
        def leaky_variant(x, y):
            for i in range(x.size):
                v = x.flat[i]
                y.flat[i] = v if v > 0 else v * np.float32(0.5)
    ''')
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    (tmp_path / "m.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    np.save(tmp_path / "x.npy", np.array([-2, -1, 1, 2], np.float32))
    proc = _cli("run", tmp_path / "m.onnx", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--kernels", path)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), [-1, -0.5, 1, 2])


def test_missing_kernels_dir_is_a_clear_error(tmp_path):
    proc = _cli("kernel", "test", tmp_path / "nope")
    assert proc.returncode == 1 and "no kernel files" in proc.stderr
