"""Batch-1 latency of the float MLPerf Tiny models: tinyjit vs onnxruntime vs LiteRT, same run.

    pytest benchmarks/bench_float.py --benchmark-json=out.json      # or: python benchmarks/report.py

One benchmark group per model, "<model>-float", holds the three runtimes (a parameter named
runtime; onnxruntime and LiteRT with one thread; onnxruntime on the same .onnx file tinyjit
converts, LiteRT on the model's .tflite twin), so a group's numbers come from the same process,
minutes apart at most: compare within a group only, the machines are noisy. Each call is a whole
inference as a user makes it: the input handed over, the output returned.

Group "start" times a fresh process loading the model's .tjm (converted beforehand, as `tinyjit
convert` does once) and running it once, as `tinyjit run` does: first with an empty
TINYJIT_CACHE_DIR (cold: everything compiled), then again (warm: numba's cache on disk), with the
split between import, load (the plan compiled, or loaded from the cache) and first run in
extra_info. Group "overhead" times a one-node model (Relu on 16 floats): the fixed cost of a run,
through the session and as the bare native call of the compiled plan.

Not part of the test suite (testpaths is tests/) and it asserts nothing about time.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models" / "mlperf_tiny"
MODELS = {   # name: file stem of the .onnx / .tflite pair
    "kws": "kws_ref_model_float32",
    "vww": "vww_96_float",
    "resnet": "pretrainedResnet",
    "ad": "ad01_fp32",
}
RUNTIMES = ("tinyjit", "onnxruntime", "litert")


def _dim(d) -> int:
    """A static dimension, or 1 for a dynamic one (None, a name, -1)."""
    try:
        return max(int(d), 1)
    except (TypeError, ValueError):
        return 1


def _input(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal([_dim(d) for d in shape]).astype(np.float32)


def make_runner(runtime: str, model: str):
    """A zero-argument callable doing one batch-1 inference, and its output for the fixed input."""
    stem = MODELS_DIR / MODELS[model]
    if runtime == "tinyjit":
        import tinyjit
        sess = tinyjit.InferenceSession(str(stem.with_suffix(".onnx")))
        name, x = sess.get_inputs()[0].name, _input(sess.get_inputs()[0].shape)
        return (lambda: sess.run(None, {name: x})[0]), x
    if runtime == "onnxruntime":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(stem.with_suffix(".onnx")), opts, providers=["CPUExecutionProvider"])
        name, x = sess.get_inputs()[0].name, _input(sess.get_inputs()[0].shape)
        return (lambda: sess.run(None, {name: x})[0]), x
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter
        interp = Interpreter(model_path=str(stem.with_suffix(".tflite")), num_threads=1)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        x = _input(inp["shape"])

        def run():
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            return interp.get_tensor(out["index"])
        return run, x
    raise ValueError(runtime)


@pytest.fixture(scope="module")
def runners():
    cache = {}

    def get(runtime, model):
        if (runtime, model) not in cache:
            cache[(runtime, model)] = make_runner(runtime, model)
        return cache[(runtime, model)]
    return get


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", list(MODELS))
def test_latency(benchmark, runners, model, runtime):
    run, _ = runners(runtime, model)
    if runtime == "tinyjit":    # the same answer as onnxruntime on the same input, or the timing means nothing
        ort_run, _ = runners("onnxruntime", model)
        got, want = run(), ort_run()
        assert np.abs(got - want).max() <= 1e-4 * max(np.abs(want).max(), 1e-30)
    benchmark.group = f"{model}-float"
    benchmark.extra_info.update(model=model, runtime=runtime, dtype="float32")
    for _ in range(20):     # warm caches and lazy initialization before the clock starts
        run()
    benchmark.pedantic(run, rounds=2000, iterations=1, warmup_rounds=50)


START = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import tinyjit
t1 = time.perf_counter()
sess = tinyjit.InferenceSession(sys.argv[1])
t2 = time.perf_counter()
inp = sess.get_inputs()[0]
sess.run(None, {inp.name: np.zeros(inp.shape, np.float32)})
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_run_s": t3 - t2, "total_s": t3 - t0}))
"""


def start_process(tjm: str, cache_dir: str) -> dict:
    """Import tinyjit, load ``tjm`` and run it once in a fresh process; its timings, seconds."""
    env = {**os.environ, "TINYJIT_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", START, tjm], env=env, capture_output=True, text=True, check=True,
                         cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def start_cache():
    with tempfile.TemporaryDirectory(prefix="tinyjit-start-") as d:
        yield d


def converted(model: str, directory: str) -> str:
    """The model's .tjm in ``directory``, converted once (conversion compiles nothing)."""
    import tinyjit
    tjm = os.path.join(directory, f"{model}.tjm")
    if not os.path.exists(tjm):
        tinyjit.convert(str((MODELS_DIR / MODELS[model]).with_suffix(".onnx")), tjm)
    return tjm


@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("model", list(MODELS))
def test_start(benchmark, start_cache, model, start):
    """A fresh process: import, convert, first inference; cold = empty cache, warm = the cache the
    cold process of the same model filled (so each model is compiled once)."""
    tjm, cache_dir = converted(model, start_cache), os.path.join(start_cache, f"cache-{model}")
    if start == "cold":
        shutil.rmtree(cache_dir, ignore_errors=True)
    elif not os.path.isdir(cache_dir):
        start_process(tjm, cache_dir)     # warm selected alone: fill the cache first, not timed
    benchmark.group = "start"
    result = benchmark.pedantic(start_process, args=(tjm, cache_dir), rounds=1, iterations=1)
    benchmark.extra_info.update(model=model, runtime="tinyjit", start=start, **result)


def one_node_model() -> bytes:
    """Relu on 16 floats: a model whose run is all fixed cost."""
    from onnx import TensorProto, helper
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16]) for n in ("x", "y")]
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", io[:1], io[1:])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.mark.parametrize("call", ["session", "native"])
def test_overhead(benchmark, call):
    """The fixed cost of a run: ``session.run`` as a user calls it (input checks, output arrays),
    and the native call of the compiled plan alone (numba's dispatch of the arena, weights, in, out)."""
    import tinyjit
    sess = tinyjit.InferenceSession(one_node_model())
    x = np.ones((1, 16), np.float32)
    if call == "session":
        def run():
            return sess.run(None, {"x": x})
    else:
        executor, y = sess._executor, np.empty((1, 16), np.float32)

        def run():
            return executor._run(executor.arena, executor.weights, x, y)
    run()
    benchmark.group = "overhead"
    benchmark.extra_info.update(model="relu16", runtime="tinyjit", call=call)
    benchmark.pedantic(run, rounds=20000, iterations=1, warmup_rounds=1000)
