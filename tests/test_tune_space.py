"""The search space: knobs, constraints, enumeration, sampling, features."""
from types import SimpleNamespace

import numpy as np
import pytest

from tinyjit.tune import space as space_mod
from tinyjit.tune.space import Budget, SearchSpace
from tinyjit.tune.task import extract
from tune_helpers import conv_graph


@pytest.fixture(scope="module")
def conv_task():
    (task,) = extract(conv_graph(c_out=8, hw=6), "x86_64")
    return task


def test_task_is_the_conv_with_its_real_shapes(conv_task):
    assert conv_task.kernel == "conv2d_f32" and conv_task.signature.startswith("Conv(float32[1, 6, 6, 4]")
    assert conv_task.default == conv_task.k.default_schedule()
    assert conv_task.macs == 6 * 6 * 8 * 3 * 3 * 4


def test_masked_tiles_are_dropped_but_the_default_stays(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(32, 16))
    sp = conv_task.space()
    points = sp.enumerate()
    assert points[0] == conv_task.default
    assert len({sp.key(p) for p in points}) == len(points)
    for p in points[1:]:
        assert p["NR"] <= 8 or p["NR"] == min(v for v in sp.values["NR"] if v >= 8)   # 8 output channels
        assert p["MR"] <= 6                                                          # 6 output columns
    assert "a smaller tile covers it" in sp.why_invalid({"MR": 8, "NR": 8})
    unconstrained = conv_task.space(constrained=False)
    assert unconstrained.size == unconstrained.raw_size > sp.size


def test_register_budget(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(8, 4))     # 8 registers of 4 lanes
    sp = conv_task.space()
    assert "needs 10 registers" in sp.why_invalid({"MR": 4, "NR": 8})       # 32 accumulators / 4 + 2
    assert sp.why_invalid({"MR": 2, "NR": 8}) is None                        # 16 / 4 + 2 = 6
    assert sp.why_invalid(conv_task.default) is None                         # the baseline, always


def test_memory_budget_uses_the_packed_weights_of_each_candidate(conv_task, monkeypatch):
    w0, s0 = conv_task.footprint(conv_task.default)
    w8, _ = conv_task.footprint({**conv_task.default, "NR": 8})
    assert w0 > w8 > 0                           # NR=16 pads 8 channels to 16
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(32, 16, flash_bytes=10_000 + w8, ram_bytes=1 << 20))
    sp = SearchSpace(conv_task.k, conv_task.node, conv_task.graph, "x86_64", conv_task.default,
                     footprint=conv_task.footprint, memory=(10_000 + w0, 0))
    assert sp.why_invalid({"MR": 2, "NR": 8}) is None
    monkeypatch.setattr(space_mod, "budget", lambda target: Budget(32, 16, flash_bytes=9_000 + w8))
    sp = SearchSpace(conv_task.k, conv_task.node, conv_task.graph, "x86_64", conv_task.default,
                     footprint=conv_task.footprint, memory=(10_000 + w0, 0))
    assert "flash" in sp.why_invalid({"MR": 2, "NR": 8})


def test_budgets_of_targets():
    host = space_mod.budget("x86_64")
    assert host.vector_registers >= 16 and host.flash_bytes == 0
    m4 = space_mod.budget("cortex-m4")
    assert m4.lanes32 == 1 and m4.flash_bytes > 0 and m4.ram_bytes > 0
    assert space_mod.budget("cortex-m55").vector_registers == 8


def test_kernel_constraints_can_be_registered(conv_task, monkeypatch):
    monkeypatch.setattr(space_mod, "_CONSTRAINTS", {})

    @space_mod.constraint("conv2d_f32")
    def no_mr3(s, node, graph, budget):
        return "MR=3 is off" if s["MR"] == 3 else None

    sp = conv_task.space()
    assert sp.why_invalid({"MR": 3, "NR": 8}) == "MR=3 is off"
    assert all(p["MR"] != 3 for p in sp.enumerate())


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
