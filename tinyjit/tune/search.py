"""Searchers: which schedules of a space to measure next.

All three share one protocol: ``tell(schedule, value)`` after each measurement (value None: the
candidate failed) and ``propose(n)`` for up to n schedules never proposed before. Everything
random comes from the generator they are given, and they only look at what they were told in
order, so with a deterministic runner (QEMU) the same seed gives the same sequence, locally or
on Ray.

- ``random``: uniform sampling without replacement; the baseline.
- ``evolution``: tournament selection among the fastest so far, crossover and one-knob
  mutation, a little random immigration.
- ``model``: a cost model (gradient-boosted regression trees over SearchSpace.features, fitted
  to log figures, as AutoTVM and Ansor do) ranks every unmeasured schedule; the top ones are
  measured, with a share of random picks so that the model keeps learning.
"""
from __future__ import annotations

import math

import numpy as np

SEARCHERS = ("random", "evolution", "model")


class Searcher:
    def __init__(self, space, rng):
        self.space = space
        self.rng = rng
        self.seen: set[tuple] = set()
        self.measured: list[tuple[dict, float]] = []     # valid (schedule, value) in the order told

    def tell(self, schedule: dict, value: float | None) -> None:
        self.seen.add(self.space.key(schedule))
        if value is not None:
            self.measured.append((dict(schedule), float(value)))

    def exhausted(self) -> bool:
        return self.space.raw_size <= 200_000 and len(self.seen) >= self.space.size

    def propose(self, n: int) -> list[dict]:
        raise NotImplementedError

    # helpers -----------------------------------------------------------------------------
    def _unseen(self) -> list[dict]:
        return [s for s in self.space.enumerate() if self.space.key(s) not in self.seen]

    def _random(self, n: int, taken: set) -> list[dict]:
        if self.space.raw_size <= 200_000:
            pool = [s for s in self._unseen() if self.space.key(s) not in taken]
            order = self.rng.permutation(len(pool))[:n]
            return [pool[i] for i in order]
        out = []
        for _ in range(n * 50):
            if len(out) >= n:
                break
            s = self.space.sample(self.rng)
            if s is not None and self.space.key(s) not in self.seen and self.space.key(s) not in taken:
                taken.add(self.space.key(s))
                out.append(s)
        return out


class RandomSearch(Searcher):
    name = "random"

    def propose(self, n: int) -> list[dict]:
        return self._random(n, set())


class EvolutionSearch(Searcher):
    name = "evolution"

    def __init__(self, space, rng, population: int = 8, immigration: float = 0.15, crossover: float = 0.3):
        super().__init__(space, rng)
        self.population = population
        self.immigration = immigration
        self.p_crossover = crossover

    def propose(self, n: int) -> list[dict]:
        if len(self.measured) < 4:
            return self._random(n, set())
        ranked = sorted(self.measured, key=lambda sv: sv[1])[: self.population]
        parents = [s for s, _ in ranked]
        out, taken = [], set()
        for _ in range(n * 30):
            if len(out) >= n:
                break
            if self.rng.random() < self.immigration:
                child = (self._random(1, taken) or [None])[0]
            else:
                a = parents[self._tournament(len(parents))]
                child = a
                if len(parents) > 1 and self.rng.random() < self.p_crossover:
                    b = parents[self._tournament(len(parents))]
                    child = self.space.crossover(a, b, self.rng) or a
                if self.space.key(child) in self.seen or self.space.key(child) in taken:
                    child = self.space.mutate(child, self.rng)
            if child is None:
                continue
            key = self.space.key(child)
            if key in self.seen or key in taken:
                continue
            taken.add(key)
            out.append(child)
        if len(out) < n:
            out += self._random(n - len(out), taken)
        return out

    def _tournament(self, size: int) -> int:
        a, b = self.rng.integers(size), self.rng.integers(size)
        return int(min(a, b))       # parents are sorted: the smaller index is the faster


class ModelSearch(Searcher):
    """Cost-model guided. ``prior``: (features, log(figure / default figure)) of other layers of the
    same kernel, measured earlier in the run: what was learned there (say, that wide NR tiles pay
    on this machine) guides the first proposals of a new layer, as AutoTVM's transfer learning."""
    name = "model"

    def __init__(self, space, rng, model: str = "gbt", epsilon: float = 0.2, warmup: int = 6,
                 pool: int = 4096, prior: list | None = None):
        super().__init__(space, rng)
        self.model_name = model
        self.epsilon = epsilon
        self.warmup = warmup
        self.pool = pool
        width = len(self.features(space.default))
        self.prior = [(x, y) for x, y in (prior or []) if len(x) == width]

    def features(self, s: dict) -> np.ndarray:
        return np.concatenate([self.space.features(s), self.space.layer_features()])

    def training_data(self) -> list[tuple[np.ndarray, float]]:
        """This layer's measurements relative to its default schedule's figure (or its first)."""
        if not self.measured:
            return []
        dkey = self.space.key(self.space.default)
        base = next((v for s, v in self.measured if self.space.key(s) == dkey), self.measured[0][1])
        return [(self.features(s), math.log(v / base)) for s, v in self.measured]

    def propose(self, n: int) -> list[dict]:
        data = self.prior + self.training_data()
        if len(self.measured) < (1 if self.prior else self.warmup) or len(data) < self.warmup:
            return self._random(n, set())
        X = np.array([x for x, _ in data])
        y = np.array([v for _, v in data])
        model = make_model(self.model_name, self.rng)
        model.fit(X, y)
        candidates = self._candidates()
        if not candidates:
            return []
        pred = model.predict(np.array([self.features(s) for s in candidates]))
        order = list(np.argsort(pred, kind="stable"))
        out, taken = [], set()
        for _ in range(n):
            if not order:
                break
            if self.rng.random() < self.epsilon:
                i = order.pop(int(self.rng.integers(len(order))))
            else:
                i = order.pop(0)
            taken.add(self.space.key(candidates[i]))
            out.append(candidates[i])
        return out

    def _candidates(self) -> list[dict]:
        if self.space.raw_size <= 200_000:
            return self._unseen()
        taken: set = set()
        pool = self._random(self.pool, taken)
        for s, _ in sorted(self.measured, key=lambda sv: sv[1])[:16]:   # and the neighbours of the best
            for _ in range(16):
                m = self.space.mutate(s, self.rng)
                if m is not None and self.space.key(m) not in self.seen and self.space.key(m) not in taken:
                    taken.add(self.space.key(m))
                    pool.append(m)
        return pool


def make(name: str, space, rng, **kwargs) -> Searcher:
    if name == "random":
        return RandomSearch(space, rng)
    if name == "evolution":
        return EvolutionSearch(space, rng, **kwargs)
    if name.startswith("model"):
        model = name.split(":", 1)[1] if ":" in name else "gbt"
        return ModelSearch(space, rng, model=model, **kwargs)
    raise ValueError(f"unknown searcher {name!r}; choose one of {', '.join(SEARCHERS)}")


# cost models ---------------------------------------------------------------------------------

def make_model(name: str, rng):
    if name == "gbt":
        return BoostedTrees(seed=int(rng.integers(2**31)))
    if name == "sklearn":       # the same idea from scikit-learn, to check ours against
        from sklearn.ensemble import GradientBoostingRegressor
        return GradientBoostingRegressor(n_estimators=60, max_depth=3, learning_rate=0.2, subsample=0.8,
                                         random_state=int(rng.integers(2**31)))
    if name == "ridge":
        return Ridge()
    raise ValueError(f"unknown cost model {name!r} (gbt, sklearn, ridge)")


class Ridge:
    """Least squares over the features, their squares and pairwise products (a quadratic model)."""

    def __init__(self, alpha: float = 1e-2):
        self.alpha = alpha

    @staticmethod
    def _expand(X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        cols = [np.ones((n, 1)), X]
        cols += [(X[:, i] * X[:, j])[:, None] for i in range(d) for j in range(i, d)]
        return np.hstack(cols)

    def fit(self, X, y):
        A = self._expand(X)
        self.mu, self.sd = A.mean(0), A.std(0) + 1e-9
        self.mu[0], self.sd[0] = 0.0, 1.0
        A = (A - self.mu) / self.sd
        self.w = np.linalg.solve(A.T @ A + self.alpha * np.eye(A.shape[1]), A.T @ y)
        return self

    def predict(self, X):
        return ((self._expand(X) - self.mu) / self.sd) @ self.w


class BoostedTrees:
    """Gradient-boosted regression trees (squared loss), small enough to read: the learned cost
    model of the ``model`` searcher. Depth-limited trees with exact greedy splits, shrinkage and
    row subsampling."""

    def __init__(self, rounds: int = 60, depth: int = 3, rate: float = 0.2, min_leaf: int = 2,
                 subsample: float = 0.8, seed: int = 0):
        self.rounds, self.depth, self.rate = rounds, depth, rate
        self.min_leaf, self.subsample = min_leaf, subsample
        self.rng = np.random.default_rng(seed)

    def fit(self, X: np.ndarray, y: np.ndarray):
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        self.base = float(y.mean())
        self.trees = []
        pred = np.full(len(y), self.base)
        order = np.argsort(X, axis=0, kind="stable").T          # per feature, the rows sorted by it
        for _ in range(self.rounds):
            resid = y - pred
            idx = order
            if self.subsample < 1 and len(y) > 8:
                keep = np.zeros(len(y), bool)
                keep[self.rng.choice(len(y), max(4, int(len(y) * self.subsample)), replace=False)] = True
                idx = order[keep[order]].reshape(order.shape[0], -1)
            tree = self._grow(X, resid, idx, self.depth)
            self.trees.append(tree)
            pred += self.rate * _tree_predict(tree, X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float64)
        out = np.full(len(X), self.base)
        for tree in self.trees:
            out += self.rate * _tree_predict(tree, X)
        return out

    def _grow(self, X, r, idx, depth):
        """A tree over the rows in ``idx`` (features x rows, each line sorted by its feature):
        every feature's best split is found at once from cumulative sums."""
        n = idx.shape[1]
        mean = float(r[idx[0]].mean()) if n else 0.0
        if depth == 0 or n < 2 * self.min_leaf:
            return mean
        rs = r[idx]                                             # features x rows
        xs = X.T[np.arange(idx.shape[0])[:, None], idx]
        total = rs[0].sum()
        csum = np.cumsum(rs, axis=1)[:, :-1]
        left_n = np.arange(1, n)
        ok = (xs[:, 1:] != xs[:, :-1]) & (left_n >= self.min_leaf) & (n - left_n >= self.min_leaf)
        if not ok.any():
            return mean
        gain = np.where(ok, -(csum ** 2) / left_n - ((total - csum) ** 2) / (n - left_n), np.inf)
        f, i = np.unravel_index(int(np.argmin(gain)), gain.shape)
        if gain[f, i] >= -(total * total) / n - 1e-12:
            return mean
        thr = (xs[f, i] + xs[f, i + 1]) / 2
        left = np.zeros(len(r), bool)
        left[idx[f, : i + 1]] = True
        inside = left[idx]
        d = idx.shape[0]
        return (int(f), float(thr), self._grow(X, r, idx[inside].reshape(d, -1), depth - 1),
                self._grow(X, r, idx[~inside].reshape(d, -1), depth - 1))


def _tree_predict(tree, X: np.ndarray) -> np.ndarray:
    if not isinstance(tree, tuple):
        return np.full(len(X), tree)
    f, thr, left, right = tree
    mask = X[:, f] <= thr
    out = np.empty(len(X))
    out[mask] = _tree_predict(left, X[mask])
    out[~mask] = _tree_predict(right, X[~mask])
    return out


def task_rng(seed: int, task_id: str) -> np.random.Generator:
    """One generator per (seed, task), the same in every process."""
    return np.random.default_rng([seed, int(task_id, 16) % (1 << 63)])


def geomean(xs) -> float:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")
