"""Batch-1 latency of the int8 MLPerf Tiny models: tinyjit vs onnxruntime vs LiteRT, same run.

    pytest benchmarks/bench_int8.py --benchmark-json=out.json

One benchmark group per model, "<model>-int8", holds the three runtimes: tinyjit on the int8
.tflite (converted in memory, int8 in and out, as TF Lite Micro runs it), onnxruntime on the QDQ
int8 .onnx twin (one thread) and LiteRT on the int8 .tflite (one thread). All three get the same
int8 input, so a group's numbers come from the same process and the same data: compare within a
group only, the machines are noisy. Each call is a whole inference as a user makes it: the input
handed over, the output returned.

Not part of the test suite (testpaths is tests/) and it asserts nothing about time.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models" / "mlperf_tiny"
MODELS = {   # name: file stem of the int8 .onnx (QDQ) / .tflite pair
    "kws": "kws_ref_model",
    "resnet": "pretrainedResnet_quant",
    "vww": "vww_96_int8",
    "ad": "ad01_int8",
}
RUNTIMES = ("tinyjit", "onnxruntime", "litert")


def _input(shape, seed=0) -> np.ndarray:
    """A random int8 input; a dynamic dimension (the ONNX batch axis) is 1."""
    dims = [d if isinstance(d, (int, np.integer)) and d > 0 else 1 for d in shape]
    return np.random.default_rng(seed).integers(-128, 128, dims).astype(np.int8)


def open_runtime(runtime: str, path: Path):
    """(infer, input shape): ``infer(x)`` runs one inference of the model at ``path`` on ``x``."""
    if runtime == "tinyjit":
        import tinyjit
        sess = tinyjit.InferenceSession(str(path))
        name = sess.get_inputs()[0].name
        return (lambda x: sess.run(None, {name: x})[0]), sess.get_inputs()[0].shape
    if runtime == "onnxruntime":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return (lambda x: sess.run(None, {name: x})[0]), sess.get_inputs()[0].shape
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter
        interp = Interpreter(model_path=str(path), num_threads=1)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]

        def infer(x):
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            return interp.get_tensor(out["index"])
        return infer, inp["shape"]
    raise ValueError(runtime)


@functools.lru_cache(maxsize=None)   # one session per (runtime, model) for the whole run
def make_runner(runtime: str, model: str):
    """A zero-argument callable doing one batch-1 inference on a fixed int8 input."""
    file = MODELS[model] + (".onnx" if runtime == "onnxruntime" else ".tflite")
    infer, shape = open_runtime(runtime, MODELS_DIR / file)
    x = _input(shape)
    return lambda: infer(x)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", list(MODELS))
def test_latency(benchmark, model, runtime):
    run = make_runner(runtime, model)
    if runtime == "tinyjit":    # TF Lite's bytes on the same input (1 LSB for rounding), or the timing means nothing
        got, want = run().astype(np.int32), make_runner("litert", model)().astype(np.int32)
        assert np.abs(got - want).max() <= 1
    benchmark.group = f"{model}-int8"
    benchmark.extra_info.update(model=model, runtime=runtime, dtype="int8")
    for _ in range(20):     # warm caches and lazy initialization before the clock starts
        run()
    benchmark.pedantic(run, rounds=2000, iterations=1, warmup_rounds=50)
