"""The int8 arena is never larger than TF Lite Micro's planned arena, measured live (the same
probe as tests/test_memory.py): kws 16,000 B, resnet 49,152 B, vww 73,728 B, ad 768 B."""
import pytest

import tinyjit

from conftest import INT8_MODELS, MODELS
from test_memory import tflm_head_bytes


@pytest.mark.parametrize("name", sorted(INT8_MODELS))
def test_int8_arena_at_most_tflm(name):
    onnx_file, tflite_file = INT8_MODELS[name]
    limit = tflm_head_bytes(MODELS / tflite_file)
    for source in (tflite_file, onnx_file):
        plan = tinyjit.compile_model(str(MODELS / source))
        assert plan.arena_bytes <= limit, f"{source}: arena {plan.arena_bytes} B > TFLM {limit} B"


def test_vww_int8_arena_reaches_the_live_set_bound():
    """VWW's largest step holds a 48x48x8 input and 48x48x16 output: 55,296 B, below TFLM's 73,728."""
    plan = tinyjit.compile_model(str(MODELS / INT8_MODELS["vww"][1]))
    assert plan.arena_bytes == 55296
