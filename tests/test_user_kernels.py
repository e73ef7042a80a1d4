"""Users' kernels: registered with the same decorator as built-in ones, tested, run in models."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
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
    # the index is the first where the saved kernel output and reference differ, with their values
    index = tuple(int(i) for i in err.split("at index (")[1].split(")")[0].split(",") if i.strip())
    first = tuple(int(i) for i in np.argwhere(data["got"] != data["expected"])[0])
    assert index == first and data["input0"][index] >= 100
    assert f"expected {data['expected'][index]!r}, got {data['got'][index]!r}" in err


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
    assert proc.returncode == 1
    assert "the shape function gives (2,) for inputs of shape (1,) but the reference returns (1,)" in proc.stderr


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
    assert "two kernels for ai.onnx::Relu float32" in proc.stderr and "my_relu" in proc.stderr


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


# --- user primitives: a Python definition and C definitions per ISA, checked against each other ---------

SAT_ADD_KERNEL = '''
import numpy as np
import tinyjit


@tinyjit.primitive
def saturating_add_int8(a, b):
    return np.int8(min(max(np.int32(a) + np.int32(b), -128), 127))


@tinyjit.kernel(op="SatAdd", domain="com.example", dtypes=("int8",))
def sat_add_int8(a, b, y):
    for i in range(y.size):
        y.flat[i] = saturating_add_int8(a.flat[i], b.flat[i])


@sat_add_int8.reference
def _(a, b):
    return np.clip(a.astype(np.int32) + b, -128, 127).astype(np.int8)
'''

SAT_ADD_GENERIC = '''#include <stdint.h>
static inline int8_t saturating_add_int8(int8_t a, int8_t b)
{
    int32_t s = (int32_t)a + b;
    return (int8_t)(s < %d ? %d : (s > 127 ? 127 : s));
}
'''

SAT_ADD_ARMV7EM = '''#include <stdint.h>
static inline int8_t saturating_add_int8(int8_t a, int8_t b)
{
    int32_t r;
    __asm__("%s %%0, %%1, %%2" : "=r"(r) : "r"((int32_t)a), "r"((int32_t)b));
    return (int8_t)r;
}
'''


def _primitive_dir(tmp_path, generic_low=None, armv7em_insn=None):
    """The SatAdd kernel with its primitive; stubs/generic.h clamps below at ``generic_low`` (-127: a
    wrong bound), stubs/armv7em_dsp.h saturates with ``armv7em_insn`` (qadd8; uqadd8 is unsigned)."""
    folder = tmp_path / "my_kernels"
    (folder / "stubs").mkdir(parents=True)
    (folder / "sat_add.py").write_text(SAT_ADD_KERNEL)
    if generic_low is not None:
        (folder / "stubs" / "generic.h").write_text(SAT_ADD_GENERIC % (generic_low, generic_low))
    if armv7em_insn is not None:
        (folder / "stubs" / "armv7em_dsp.h").write_text(SAT_ADD_ARMV7EM % armv7em_insn)
    return folder


def test_kernel_test_checks_user_primitives_on_every_operand_pair(tmp_path):
    folder = _primitive_dir(tmp_path, generic_low=-128, armv7em_insn="qadd8")
    proc = _cli("kernel", "test", folder, "--target", "generic", "--target", "cortex-m4")
    assert proc.returncode == 0, proc.stderr
    assert "saturating_add_int8 on generic (generic.h): C equals Python bit for bit on 65536" in proc.stdout
    assert "saturating_add_int8 on cortex-m4 (armv7em_dsp.h): C equals Python bit for bit on 65536" in proc.stdout
    assert "sat_add_int8 int8 (no knobs): 13 cases match" in proc.stdout


def test_wrong_c_definition_of_a_primitive_shows_the_operands(tmp_path):
    folder = _primitive_dir(tmp_path, generic_low=-127, armv7em_insn="qadd8")
    proc = _cli("kernel", "test", folder, "--target", "generic")
    assert proc.returncode == 1
    # every (a, b) in order: the 129 * 130 / 2 pairs with a + b <= -128 differ, (-128, -128) first
    assert (f"the C definition in {folder / 'stubs' / 'generic.h'} for generic differs from the Python definition "
            "on 8385 of 65536 operand tuples: saturating_add_int8(-128, -128) = -127 in C, -128 in Python") in proc.stderr


def test_wrong_isa_definition_is_caught_under_qemu(tmp_path):
    folder = _primitive_dir(tmp_path, generic_low=-128, armv7em_insn="uqadd8")
    proc = _cli("kernel", "test", folder / "sat_add.py", "--target", "generic", "--target", "cortex-m4")
    assert proc.returncode == 1
    assert "saturating_add_int8 on generic (generic.h): C equals Python" in proc.stdout
    assert "armv7em_dsp.h for cortex-m4 differs from the Python definition" in proc.stderr
    # UQADD8 adds bytes as unsigned: 0x80 + 0x80 saturates to 0xFF, -1 as an int8
    assert "saturating_add_int8(-128, -128) = -1 in C, -128 in Python" in proc.stderr


def _sat_add_model(path):
    node = helper.make_node("SatAdd", ["a", "b"], ["y"], name="sat_0", domain="com.example")
    graph = helper.make_graph([node], "sat", [helper.make_tensor_value_info(n, TensorProto.INT8, [1, 300]) for n in "ab"],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 300])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path.write_bytes(model.SerializeToString())


def test_user_primitive_exported_and_verified_and_missing_definition(tmp_path):
    """The ISA header alone: cortex-m4 exports (user_stubs/ in the project) and matches under QEMU;
    generic has no definition, which export names with the header it searched."""
    folder = _primitive_dir(tmp_path, armv7em_insn="qadd8")
    _sat_add_model(tmp_path / "sat.onnx")
    proc = _cli("convert", tmp_path / "sat.onnx", "-o", tmp_path / "sat.tjm", "--target", "cortex-m4", "--kernels", folder)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "sat_m4"
    proc = _cli("export", tmp_path / "sat.tjm", "--target", "cortex-m4", "-o", out, "--kernels", folder)
    assert proc.returncode == 0, proc.stderr
    assert '#include "user_stubs/my_kernels/armv7em_dsp.h"' in (out / "kernels.c").read_text()
    assert "saturating_add_int8(a[" in (out / "kernels.c").read_text()
    proc = _cli("verify", out, "--kernels", folder)
    assert proc.returncode == 0 and "output matches" in proc.stdout, proc.stdout + proc.stderr
    proc = _cli("export", tmp_path / "sat.tjm", "--target", "generic", "-o", tmp_path / "sat_c", "--kernels", folder)
    assert proc.returncode == 1 and not (tmp_path / "sat_c").exists()
    assert (f"primitive saturating_add_int8 has no C definition for generic: searched {folder / 'stubs' / 'generic.h'}"
            in proc.stderr)


@pytest.mark.parametrize("statement,construct", [("acc += np.sum(x) * 0", "a call of np.sum"),
                                                 ("seen = {i: acc}", "a Dict")])
def test_kernel_outside_the_subset_names_file_line_and_construct(tmp_path, statement, construct):
    """Numba compiles both kernels; the C lowering cannot: `kernel test` says so before testing values."""
    path = _write_kernel(tmp_path, f'''
        import numpy as np
        import tinyjit

        @tinyjit.kernel(op="Cumulate", domain="com.test", dtypes=("float32",))
        def cumulate(x, y):
            acc = np.float32(0)
            for i in range(x.size):
                acc += x.flat[i]
                {statement}
                y.flat[i] = acc

        @cumulate.reference
        def _(x):
            return np.cumsum(x.reshape(-1), dtype=np.float32).reshape(x.shape)
    ''')
    line = path.read_text().splitlines().index(" " * 8 + statement) + 1
    proc = _cli("kernel", "test", path)
    assert proc.returncode == 1
    assert f"{path}:{line}: {construct} is outside the kernel subset" in proc.stderr, proc.stderr
