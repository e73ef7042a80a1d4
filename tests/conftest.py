from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models" / "mlperf_tiny"
SAMPLES = SHARED / "data" / "samples.npz"

FLOAT_MODELS = {   # name: (onnx file, tflite file)
    "kws": ("kws_ref_model_float32.onnx", "kws_ref_model_float32.tflite"),
    "resnet": ("pretrainedResnet.onnx", "pretrainedResnet.tflite"),
    "vww": ("vww_96_float.onnx", "vww_96_float.tflite"),
    "ad": ("ad01_fp32.onnx", "ad01_fp32.tflite"),
}
INT8_MODELS = {
    "kws": ("kws_ref_model.onnx", "kws_ref_model.tflite"),
    "resnet": ("pretrainedResnet_quant.onnx", "pretrainedResnet_quant.tflite"),
    "vww": ("vww_96_int8.onnx", "vww_96_int8.tflite"),
    "ad": ("ad01_int8.onnx", "ad01_int8.tflite"),
}


@pytest.fixture(autouse=True, scope="session")
def _shared_present():
    assert MODELS.is_dir(), f"the shared models must be at {MODELS} (CI puts ../shared beside the checkout)"


def ort_session(path_or_bytes):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes),
                                opts, providers=["CPUExecutionProvider"])


def max_rel_err(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


def samples(kind: str) -> dict[str, np.ndarray]:
    data = np.load(SAMPLES)
    return {k: data[k] for k in data.files if k.startswith(kind)}
