"""int8 .tflite models give the same bytes as TF Lite Micro, checked live against the tflite-micro
package: the four MLPerf Tiny int8 models on random inputs and on the shared sample images, and
every intermediate tensor of each model (the model file is patched so that TFLM returns it)."""
import struct

import numpy as np
import pytest
import tflite
from tflite_micro.python.tflite_micro import runtime   # a test dependency: missing fails, never skips

import tinyjit
from tinyjit import passes, plan as planner
from tinyjit.executor import Executor
from tinyjit.frontends.tflite_frontend import import_tflite

from conftest import INT8_MODELS, MODELS, samples

TFLITE = {name: MODELS / files[1] for name, files in INT8_MODELS.items()}


def tflm_run(model: bytes | str, x: np.ndarray) -> np.ndarray:
    it = (runtime.Interpreter.from_bytes(model) if isinstance(model, (bytes, bytearray))
          else runtime.Interpreter.from_file(str(model)))
    it.set_input(x, 0)
    it.invoke()
    return it.get_output(0)


@pytest.fixture(scope="module", params=sorted(TFLITE))
def model(request):
    name = request.param
    return name, tinyjit.InferenceSession(str(TFLITE[name]))


def test_int8_io(model):
    _, sess = model
    assert sess.get_inputs()[0].dtype == np.int8 and sess.get_outputs()[0].dtype == np.int8


def test_bit_exact_on_random_inputs(model):
    name, sess = model
    arg = sess.get_inputs()[0]
    rng = np.random.default_rng(4)
    for _ in range(5):
        x = rng.integers(-128, 128, size=arg.shape, dtype=np.int8)
        got = sess.run(None, {arg.name: x})[0]
        np.testing.assert_array_equal(got, tflm_run(TFLITE[name], x), err_msg=name)


def quantize_input(image: np.ndarray, name: str, sess) -> np.ndarray:
    """The README's preprocessing, then the input tensor's quantization (TFLite rounding)."""
    from tinyjit.quant import quantize
    x = image.astype(np.float32)[None]
    if name == "vww":
        x = x / 255.0
    q = sess.plan.tensors[sess.plan.inputs[0]].quant
    return quantize(x, q.scale[0], q.zero_point[0], "int8", rounding="half_away")


@pytest.mark.parametrize("name,kind", [("vww", "vww"), ("resnet", "cifar10")])
def test_bit_exact_on_sample_images(name, kind):
    sess = tinyjit.InferenceSession(str(TFLITE[name]))
    images = samples(kind)
    assert images
    for key, image in sorted(images.items()):
        x = quantize_input(image, name, sess)
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        np.testing.assert_array_equal(got, tflm_run(TFLITE[name], x), err_msg=key)
        if name == "vww":   # the README: the reference classifies all six correctly
            assert int(got.argmax()) == (1 if "noperson" not in key else 0), key


def _with_output(buf: bytes, tensor_index: int) -> bytes:
    """The model bytes with subgraph 0's single output replaced by tensor ``tensor_index``."""
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    assert sg.OutputsLength() == 1
    offset = sg._tab.Offset(8)                  # Subgraph.outputs
    at = sg._tab.Vector(offset)
    patched = bytearray(buf)
    struct.pack_into("<i", patched, at, tensor_index)
    return bytes(patched)


def _tinyjit_tensors(path, names: list[str], x: np.ndarray) -> dict:
    """The named tensors of one tinyjit run: all made graph outputs, so one plan computes them."""
    graph = import_tflite(str(path))
    graph.outputs = list(names)
    p = planner.build(passes.optimize(graph))
    return dict(zip(names, Executor(p).run([x])))


# kws (conv, depthwise, pool, FC, softmax) and ad (FC stack) layer by layer; resnet (its residual
# Add too) and vww are checked bit for bit on their outputs above
@pytest.mark.parametrize("name", ["ad", "kws"])
def test_every_intermediate_tensor_bit_exact(name):
    """Each op's output, not only the model's: a wrong rounding cannot hide behind a softmax."""
    buf = TFLITE[name].read_bytes()
    sg = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    produced = sorted({int(sg.Operators(i).Outputs(0)) for i in range(sg.OperatorsLength())})
    produced = [i for i in produced if sg.Tensors(i).Type() == 9]          # int8 activations
    shape = [int(d) for d in sg.Tensors(int(sg.Inputs(0))).ShapeAsNumpy()]
    x = np.random.default_rng(7).integers(-128, 128, size=shape, dtype=np.int8)
    names = [sg.Tensors(i).Name().decode() for i in produced]
    got = _tinyjit_tensors(TFLITE[name], names, x)
    for index, tensor in zip(produced, names):
        want = tflm_run(_with_output(buf, index), x)
        np.testing.assert_array_equal(got[tensor].reshape(want.shape), want, err_msg=f"{name}: {tensor}")
    assert len(names) >= sg.OperatorsLength() - 1
