"""The search space: knobs, constraints, enumeration, sampling, features."""
from types import SimpleNamespace

import numpy as np
import pytest

from tinyjit.tune import space as space_mod
from tinyjit.tune.space import Budget, SearchSpace
from tinyjit.tune.task import extract
from tune_helpers import conv_graph, matmul_graph


@pytest.fixture(scope="module")
def conv_task():
    """A layer of the test kernel tests/data/tune_kernels/tiled_matmul.py: MR x NR tiles over 4 x 12."""
    (task,) = extract(matmul_graph(m=4, k=16, n=12), "x86_64")
    return task


def test_task_has_the_real_shapes(conv_task):
    assert conv_task.kernel == "tiled_matmul" and conv_task.signature == "TiledMatMul(float32[4, 16],float32[16, 12]){}"
    assert conv_task.default == conv_task.k.default_schedule() == {"MR": 2, "NR": 8}
    assert conv_task.macs == 4 * 12 * 16


def test_builtin_conv_layers_become_tasks():
    (task,) = extract(conv_graph(c_out=8, hw=6), "x86_64") or [None]
    if task is None:
        pytest.skip("the built-in conv has no schedule knobs in this tree")
    assert task.signature.startswith("Conv(float32[1, 6, 6, 4]") and task.count == 1


def test_masked_tiles_are_dropped_but_the_default_stays(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(32, 16))
    sp = conv_task.space()
    points = sp.enumerate()
    assert points[0] == conv_task.default
    assert len({sp.key(p) for p in points}) == len(points)
    assert {sp.key(p) for p in points} == {(m, n) for m in (1, 2, 4) for n in (4, 8, 16)}   # 4 rows, 12 columns
    assert "a smaller tile covers it" in sp.why_invalid({"MR": 8, "NR": 8})
    assert "a smaller tile covers it" in sp.why_invalid({"MR": 2, "NR": 32})
    unconstrained = conv_task.space(constrained=False)
    assert unconstrained.size == unconstrained.raw_size > sp.size


def test_register_budget(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(1, 2))     # 1 register of 2 lanes
    monkeypatch.setattr(space_mod, "SPILL_FACTOR", 5)
    sp = conv_task.space()
    assert "needs 6 registers" in sp.why_invalid({"MR": 1, "NR": 8})        # 8 accumulators / 2 + 2
    assert sp.why_invalid({"MR": 1, "NR": 4}) is None                        # 4 / 2 + 2 = 4
    assert sp.why_invalid(conv_task.default) is None                         # the baseline, always


def test_memory_budget_uses_the_packed_weights_of_each_candidate(conv_task, monkeypatch):
    w8, _ = conv_task.footprint(conv_task.default)
    w4, _ = conv_task.footprint({"MR": 2, "NR": 4})
    w16, _ = conv_task.footprint({"MR": 2, "NR": 16})
    assert w8 == w16 == 16 * 16 * 4 and w4 == 12 * 16 * 4     # 12 columns padded to whole tiles
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(32, 16, flash_bytes=10_000 + w4, ram_bytes=1 << 20))
    sp = SearchSpace(conv_task.k, conv_task.node, conv_task.graph, "x86_64", conv_task.default,
                     footprint=conv_task.footprint, memory=(10_000 + w8, 0))
    assert sp.why_invalid({"MR": 2, "NR": 4}) is None
    assert "flash" in sp.why_invalid({"MR": 2, "NR": 16})
    assert sp.why_invalid(conv_task.default) is None


def test_budgets_of_targets():
    host = space_mod.budget("x86_64")
    assert host.vector_registers >= 16 and host.flash_bytes == 0
    m4 = space_mod.budget("cortex-m4")
    assert m4.lanes32 == 1 and m4.flash_bytes > 0 and m4.ram_bytes > 0
    assert space_mod.budget("cortex-m55").vector_registers == 8


def test_kernel_constraints_can_be_registered(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "_CONSTRAINTS", {})

    @space_mod.constraint("tiled_matmul")
    def nothing_off(s, node, graph, budget):
        return None

    sp = conv_task.space()
    assert sp.why_invalid({"MR": 4, "NR": 8}) is None
    monkeypatch.setattr(space_mod, "_CONSTRAINTS", {"tiled_matmul": [lambda s, *_: "MR=4 is off" if s["MR"] == 4 else None]})
    sp = conv_task.space()
    assert sp.why_invalid({"MR": 4, "NR": 8}) == "MR=4 is off"
    assert all(p["MR"] != 4 for p in sp.enumerate())


def test_sampling_mutation_and_features(conv_task):
    sp = conv_task.space()
    rng = np.random.default_rng(0)
    a = [sp.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    for _ in range(20):
        s = sp.sample(rng)
        assert sp.why_invalid(s) is None
        m = sp.mutate(s, rng)
        if m is not None:
            assert sp.why_invalid(m) is None and sum(m[k] != s[k] for k in sp.knobs) == 1
    lengths = {len(sp.features(s)) for s in sp.enumerate()}
    assert len(lengths) == 1 and lengths.pop() >= len(sp.knobs)


def test_large_spaces_are_sampled_not_listed(conv_task):
    fake = SimpleNamespace(name="fake", schedule_space={f"K{i}": tuple(range(1, 9)) for i in range(7)})
    sp = SearchSpace(fake, conv_task.node, conv_task.graph, "x86_64", {})
    assert sp.raw_size == 8 ** 7
    with pytest.raises(ValueError):
        sp.enumerate()
    s = sp.sample(np.random.default_rng(0))
    assert set(s) == set(fake.schedule_space)
