"""The .tjm format: exact round trips, zero-copy loading, and no crash on any bad file."""
import math
import mmap
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinyjit.format as tjm
from tinyjit.errors import FormatError, ModelLoadError
from tinyjit.ir import Quant
from tinyjit.plan import FORMAT_VERSION, Plan, PlannedTensor, Step

FORMAT_DIR = Path(tjm.__file__).parent


def make_plan() -> Plan:
    rng = np.random.default_rng(0)
    weights = np.zeros(300, np.uint8)
    weights[:256] = rng.integers(0, 256, 256, dtype=np.uint8)
    weights[256:300] = rng.integers(0, 256, 44, dtype=np.uint8)
    per_channel = Quant(np.array([0.5, 0.25, 1e-7, 3.0], np.float32), np.zeros(4, np.int64), axis=0)
    per_tensor = Quant(np.array([0.1], np.float64), np.array([-3], np.int32))
    tensors = [
        PlannedTensor("input", "float32", (1, 8, 8, 2), "arena", 0, 512),
        PlannedTensor("conv/w", "int8", (4, 3, 3, 2), "weights", 0, 72, per_channel),
        PlannedTensor("conv/b", "int32", (4,), "weights", 128, 16),
        PlannedTensor("act", "int8", (1, 8, 8, 4), "arena", 512, 256, per_tensor),
        PlannedTensor("scalar", "float64", (), "weights", 256, 8),
        PlannedTensor("empty", "uint8", (0, 5), "arena", 768, 0),
        PlannedTensor("out", "float32", (1, 4), "arena", 0, 16,
                      Quant(np.array([2.0], np.float32), np.array([7], np.uint8), axis=1)),
    ]
    steps = [
        Step("Conv", "conv", "conv2d_int8", [0, 1, 2, 3],
             [0, -1, 2**63 - 1, -2**63, 1.5, -0.0, math.nan, math.inf, -math.inf, 5e-324, np.float32(0.25),
              np.int32(-7)],
             {"OC_TILE": 8, "UNROLL": -2**63}, macs=2**40, tuned=True),
        Step("Relu", "relu", "relu_f32", [3, 6]),
    ]
    return Plan(tensors, steps, [0], [6, 3], 784, weights, target="cortex-m4", name="test model ✓")


def canon(plan: Plan):
    """Everything a plan holds, comparable with ==: arrays by dtype and bytes, floats by bits."""
    def value(x):
        if isinstance(x, (float, np.floating)):
            return ("float", struct.pack("<d", float(x)))
        return ("int", int(x))

    def array(a):
        a = np.asarray(a)
        return a.dtype.str, a.reshape(-1).tobytes()

    def quant(q):
        return None if q is None else (array(q.scale), array(q.zero_point), q.axis)
    tensors = [(t.name, t.dtype, tuple(t.shape), t.location, t.offset, t.nbytes, quant(t.quant))
               for t in plan.tensors]
    steps = [(s.op, s.node, s.kernel, list(s.args), [value(p) for p in s.params], list(s.schedule.items()),
              s.macs, s.tuned) for s in plan.steps]
    return (tensors, steps, list(plan.inputs), list(plan.outputs), plan.arena_bytes, array(plan.weights),
            plan.target, plan.name, tuple(plan.version))


def test_round_trip_bytes_and_file(tmp_path):
    plan = make_plan()
    path = tmp_path / "m.tjm"
    tjm.save(plan, path)
    assert path.read_bytes() == tjm.to_bytes(plan)
    for loaded in (tjm.load(path), tjm.load(path.read_bytes()), tjm.verify(path.read_bytes())):
        assert canon(loaded) == canon(plan)
        params = loaded.steps[0].params
        assert [type(p) for p in params] == [int] * 4 + [float] * 7 + [int]
        assert math.isnan(params[6]) and math.copysign(1, params[5]) == -1
        assert loaded.version == FORMAT_VERSION
        assert loaded.tensors[1].quant.per_channel and loaded.tensors[3].quant.axis is None


def test_round_trip_empty_plan():
    plan = Plan([], [], [], [], 0, np.zeros(0, np.uint8))
    assert canon(tjm.load(tjm.to_bytes(plan))) == canon(plan)


def test_weights_zero_copy_and_aligned(tmp_path):
    plan = make_plan()
    path = tmp_path / "m.tjm"
    tjm.save(plan, path)
    data = path.read_bytes()
    at = data.find(plan.weights.tobytes())
    assert at > 0 and at % 64 == 0 and len(data) % 64 == 0
    loaded = tjm.load(path)
    w = loaded.weights
    assert not w.flags.owndata and not w.flags.writeable
    assert isinstance(w.base, memoryview) and isinstance(w.base.obj, mmap.mmap)
    assert w.ctypes.data % 64 == 0


def test_save_replaces_so_loaded_plans_keep_their_weights(tmp_path):
    path = tmp_path / "m.tjm"
    plan = make_plan()
    tjm.save(plan, path)
    loaded = tjm.load(path)
    other = make_plan()
    other.weights = np.full_like(plan.weights, 0xAB)
    tjm.save(other, path)
    assert np.array_equal(loaded.weights, plan.weights)
    assert np.array_equal(tjm.load(path).weights, other.weights)


@pytest.mark.parametrize("breakage, words", [
    (lambda p: setattr(p.tensors[0], "dtype", "complex64"), ["dtype", "complex64"]),
    (lambda p: setattr(p.tensors[0], "nbytes", 511), ["nbytes", "511", "512"]),
    (lambda p: setattr(p.tensors[2], "offset", 290), ["offset 290", "weights"]),
    (lambda p: setattr(p.tensors[3], "offset", 600), ["offset 600", "arena"]),
    (lambda p: setattr(p.tensors[0], "location", "flash"), ["location", "flash"]),
    (lambda p: setattr(p.tensors[0], "shape", (1, -8, 8, 2)), ["shape"]),
    (lambda p: setattr(p.tensors[1].quant, "axis", 4), ["axis 4"]),
    (lambda p: p.steps[0].args.append(7), ["index 7", "7 tensors"]),
    (lambda p: p.steps[0].params.append(2**63), ["param 12", "int64"]),
    (lambda p: p.steps[0].params.append("x"), ["param 12"]),
    (lambda p: p.steps[0].schedule.update(LOOP_ORDER="ij"), ["LOOP_ORDER"]),
    (lambda p: p.outputs.append(-1), ["outputs", "-1"]),
    (lambda p: p.inputs.append(7), ["inputs", "7"]),
])
def test_save_refuses_a_plan_the_reader_would_refuse(tmp_path, breakage, words):
    plan = make_plan()
    breakage(plan)
    with pytest.raises(FormatError) as e:
        tjm.save(plan, tmp_path / "m.tjm")
    assert all(w in str(e.value) for w in words), str(e.value)
    assert os.listdir(tmp_path) == []   # neither the file nor a temporary one


def test_failed_save_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.tjm"
    tjm.save(make_plan(), path)
    before = path.read_bytes()

    def fail(*_):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        tjm.save(Plan([], [], [], [], 0, np.zeros(0, np.uint8)), path)
    assert os.listdir(tmp_path) == ["m.tjm"] and path.read_bytes() == before


def one_line_format_error(buf) -> str:
    with pytest.raises(FormatError) as e:
        tjm.load(buf)
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def test_truncated_at_every_cut_point():
    data = tjm.to_bytes(make_plan())
    for cut in range(len(data)):
        one_line_format_error(data[:cut])


def test_truncated_and_empty_files(tmp_path):
    data = tjm.to_bytes(make_plan())
    path = tmp_path / "m.tjm"
    for cut in (0, 3, 8, 100, len(data) - 64, len(data) - 1):
        path.write_bytes(data[:cut])
        assert str(path) in one_line_format_error(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="nope.tjm"):
        tjm.load(tmp_path / "nope.tjm")


def test_trailing_garbage():
    one_line_format_error(tjm.to_bytes(make_plan()) + bytes(64))


def test_random_corruption_never_raises_anything_else():
    """Flips bytes before the weights (flipping weights just gives other weights)."""
    data = tjm.to_bytes(make_plan())
    head = data.find(make_plan().weights.tobytes())
    rng = np.random.default_rng(1234)
    verified = failed = 0
    for _ in range(3000):
        buf = bytearray(data)
        for at in rng.integers(0, head, rng.integers(1, 6)):
            buf[at] = rng.integers(0, 256)
        try:
            plan = tjm.load(bytes(buf))
        except FormatError as e:
            assert "\n" not in str(e)
            failed += 1
        else:
            verified += 1
            assert plan.weights.size >= max((t.offset + t.nbytes for t in plan.tensors
                                             if t.location == "weights"), default=0)
    assert failed > 100 and verified > 100   # both outcomes really happen


def test_corrupt_vector_lengths_do_not_blow_up():
    """Every 4-byte word before the weights set to huge values: must fail fast, not hang."""
    data = tjm.to_bytes(make_plan())
    head = data.find(make_plan().weights.tobytes())
    for at in range(0, head - 3):
        for value in (0xFFFFFFFF, 0x7FFFFFFF, len(data)):
            buf = bytearray(data)
            struct.pack_into("<I", buf, at, value)
            try:
                tjm.load(bytes(buf))
            except FormatError:
                pass


def test_wrong_identifier():
    data = bytearray(tjm.to_bytes(make_plan()))
    data[4:8] = b"TFL3"
    assert "TFL3" in one_line_format_error(bytes(data))
    assert "identifier" in one_line_format_error(b"not a flatbuffer at all")


def test_other_major_version_names_both(monkeypatch):
    major, minor = FORMAT_VERSION
    for version in ((major + 1, 0), (major - 1, 3)):
        monkeypatch.setattr(tjm, "FORMAT_VERSION", version)
        data = tjm.to_bytes(make_plan())
        monkeypatch.undo()
        msg = one_line_format_error(data)
        assert f"{version[0]}.{version[1]}" in msg and f"{major}.x" in msg, msg


def test_newer_minor_version_loads(monkeypatch):
    major, minor = FORMAT_VERSION
    monkeypatch.setattr(tjm, "FORMAT_VERSION", (major, minor + 1))
    data = tjm.to_bytes(make_plan())
    monkeypatch.undo()
    assert tjm.load(data).version == (major, minor + 1)


def test_generated_code_matches_schema(tmp_path):
    assert shutil.which("flatc"), "flatc is missing: scripts/install-test-deps.sh installs flatbuffers-compiler"
    version = subprocess.run(["flatc", "--version"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["sh", str(FORMAT_DIR / "regenerate.sh"), str(tmp_path)], check=True)
    committed = FORMAT_DIR / "tjm"
    want = sorted(p.name for p in committed.glob("*.py"))
    assert sorted(p.name for p in tmp_path.glob("*.py")) == want
    for name in want:
        assert (tmp_path / name).read_text() == (committed / name).read_text(), (
            f"tinyjit/format/tjm/{name} differs from what {version} generates from tjm.fbs: "
            f"run tinyjit/format/regenerate.sh")
