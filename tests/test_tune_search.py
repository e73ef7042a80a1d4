"""Searchers on a synthetic space (no timing): no repeats, determinism, and guidance that helps."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from tinyjit.tune import search
from tinyjit.tune.space import SearchSpace
from tune_helpers import conv_graph

KNOBS = {"A": (1, 2, 4, 8, 16, 32), "B": (1, 2, 4, 8, 16), "C": ("x", "y", "z"), "D": (1, 2, 3, 4)}


@pytest.fixture(scope="module")
def space():
    g = conv_graph()
    node = next(n for n in g.nodes if n.op == "Conv")
    return SearchSpace(SimpleNamespace(name="fake", schedule_space=KNOBS), node, g, "x86_64", {})


def cost(s):
    """A smooth landscape with one optimum (A=8, B=2, C=y, D=3), like a tile size sweep."""
    return (1 + (math.log2(s["A"]) - 3) ** 2 + 0.7 * (math.log2(s["B"]) - 1) ** 2
            + {"x": 0.5, "y": 0.0, "z": 1.5}[s["C"]] + 0.3 * abs(s["D"] - 3))


def run(searcher, budget, batch=8):
    order = []
    searcher.tell(dict(searcher.space.default), cost(searcher.space.default))
    order.append(searcher.space.default)
    while len(order) < budget:
        proposal = searcher.propose(min(batch, budget - len(order)))
        if not proposal:
            break
        for s in proposal:
            searcher.tell(s, cost(s))
            order.append(s)
    return order


@pytest.mark.parametrize("name", ["random", "evolution", "model"])
def test_searchers_never_repeat_and_exhaust_the_space(space, name):
    order = run(search.make(name, space, np.random.default_rng(1)), budget=10_000)
    keys = [space.key(s) for s in order]
    assert len(keys) == len(set(keys)) == space.size == 6 * 5 * 3 * 4


@pytest.mark.parametrize("name", ["random", "evolution", "model"])
def test_same_seed_same_sequence(space, name):
    a = run(search.make(name, space, np.random.default_rng(7)), budget=40)
    b = run(search.make(name, space, np.random.default_rng(7)), budget=40)
    c = run(search.make(name, space, np.random.default_rng(8)), budget=40)
    assert a == b and a != c


def test_failed_candidates_are_not_proposed_again(space):
    s = search.make("model", space, np.random.default_rng(0))
    bad = {"A": 8, "B": 2, "C": "y", "D": 3}
    s.tell(bad, None)
    proposed = [space.key(p) for _ in range(20) for p in s.propose(8)]
    assert space.key(bad) not in proposed


def trials_to_optimum(name, space, seed, batch=8):
    best = min(cost(s) for s in space.enumerate())
    searcher = search.make(name, space, np.random.default_rng(seed))
    searcher.tell(dict(space.default), cost(space.default))
    n = 1
    while True:
        for s in searcher.propose(batch):
            n += 1
            if cost(s) == best:
                return n
            searcher.tell(s, cost(s))


def test_guided_search_beats_random_on_a_smooth_landscape(space):
    seeds = range(8)
    mean = {name: np.mean([trials_to_optimum(name, space, s) for s in seeds])
            for name in ("random", "evolution", "model")}
    assert mean["model"] < 0.6 * mean["random"], mean
    assert mean["evolution"] < mean["random"], mean


@pytest.mark.parametrize("model", ["gbt", "ridge"])
def test_cost_models_fit(model):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(150, 3))
    y = X[:, 0] ** 2 + 0.5 * X[:, 1]
    m = search.make_model(model, rng).fit(X[:100], y[:100])
    pred = m.predict(X[100:])
    r2 = 1 - np.sum((pred - y[100:]) ** 2) / np.sum((y[100:] - y[100:].mean()) ** 2)
    assert r2 > 0.85


def test_unknown_searcher(space):
    with pytest.raises(ValueError, match="unknown searcher"):
        search.make("annealing", space, np.random.default_rng(0))
