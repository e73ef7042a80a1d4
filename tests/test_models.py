"""The float MLPerf Tiny models, ONNX and TFLite, end to end against onnxruntime."""
import numpy as np
import pytest

import tinyjit

from conftest import FLOAT_MODELS, MODELS, max_rel_err, ort_session, samples


@pytest.fixture(scope="module", params=sorted(FLOAT_MODELS))
def model(request):
    name = request.param
    onnx_path = MODELS / FLOAT_MODELS[name][0]
    return name, onnx_path, tinyjit.InferenceSession(str(onnx_path)), ort_session(onnx_path)


def _random_input(sess, seed=0):
    arg = sess.get_inputs()[0]
    return {arg.name: np.random.default_rng(seed).standard_normal(arg.shape).astype(np.float32)}


def test_onnx_matches_onnxruntime_on_random_inputs(model):
    _, _, sess, ref = model
    for seed in range(3):
        feed = _random_input(sess, seed)
        got, want = sess.run(None, feed)[0], ref.run(None, feed)[0]
        assert got.shape == want.shape
        assert max_rel_err(got, want) < 1e-4


@pytest.mark.parametrize("name", sorted(FLOAT_MODELS))
def test_tflite_matches_onnxruntime_on_random_inputs(name):
    onnx_file, tflite_file = FLOAT_MODELS[name]
    sess = tinyjit.InferenceSession(str(MODELS / tflite_file))
    ref = ort_session(MODELS / onnx_file)
    feed = _random_input(sess)
    ref_name = ref.get_inputs()[0].name
    got = sess.run(None, feed)[0]
    want = ref.run(None, {ref_name: next(iter(feed.values()))})[0]
    assert max_rel_err(got, want) < 1e-4


def _preprocess(name: str, image: np.ndarray) -> np.ndarray:
    x = image.astype(np.float32)[None]
    return x / 255.0 if name == "vww" else x


@pytest.mark.parametrize("name,kind,fmt", [("vww", "vww", 0), ("resnet", "cifar10", 0),
                                           ("vww", "vww", 1), ("resnet", "cifar10", 1)])
def test_class_predictions_on_real_samples_match_onnxruntime(name, kind, fmt):
    onnx_path = MODELS / FLOAT_MODELS[name][0]
    sess = tinyjit.InferenceSession(str(MODELS / FLOAT_MODELS[name][fmt]))
    ref = ort_session(onnx_path)
    images = samples(kind)
    assert len(images) == 6
    for key, image in sorted(images.items()):
        x = _preprocess(name, image)
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        want = ref.run(None, {ref.get_inputs()[0].name: x})[0]
        assert got.argmax() == want.argmax(), key
        assert max_rel_err(got, want) < 1e-4, key
