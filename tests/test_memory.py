"""The static arena: never larger than TF Lite Micro's planned arena, measured live."""
import re
import subprocess
import sys

import pytest

import tinyjit
from tinyjit.memory import Buffer, live_set_lower_bound, plan_arena

from conftest import FLOAT_MODELS, INT8_MODELS, MODELS

_TFLM_PROBE = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1])
d = it.get_input_details(0)
it.set_input(np.zeros(d['shape'], d['dtype']), 0)
it.invoke()
it.print_allocations()
"""


def tflm_head_bytes(path) -> int:
    """TFLM's planned activation arena ('head' of the recording allocator)."""
    proc = subprocess.run([sys.executable, "-c", _TFLM_PROBE, str(path)], capture_output=True, text=True,
                          timeout=300)
    match = re.search(r"Arena allocation head (\d+) bytes", proc.stderr + proc.stdout)
    assert match, f"tflite-micro printed no allocation record for {path}: {proc.stderr[-500:]}"
    return int(match.group(1))


@pytest.mark.parametrize("name", sorted(FLOAT_MODELS))
def test_float_arena_at_most_tflm(name):
    onnx_file, tflite_file = FLOAT_MODELS[name]
    if name == "kws":   # TFLM refuses the hybrid float kws: compare with 4x its int8 twin's arena
        limit = 4 * tflm_head_bytes(MODELS / INT8_MODELS["kws"][1])
    else:
        limit = tflm_head_bytes(MODELS / tflite_file)
    for source in (onnx_file, tflite_file):
        plan = tinyjit.compile_model(str(MODELS / source))
        assert plan.arena_bytes <= limit, f"{source}: arena {plan.arena_bytes} B > TFLM {limit} B"


def test_planner_reuses_memory_of_dead_buffers():
    chain = [Buffer(128, i, i + 1) for i in range(6)]      # each lives for two steps
    assert plan_arena(chain) == live_set_lower_bound(chain) == 2 * 128


def test_planner_never_overlaps_live_buffers_on_random_lifetimes():
    import random
    rng = random.Random(0)
    for _ in range(50):
        buffers = []
        for _ in range(rng.randint(1, 30)):
            first = rng.randint(0, 20)
            buffers.append(Buffer(rng.randint(1, 5000), first, first + rng.randint(0, 6)))
        size = plan_arena(buffers)
        assert size >= live_set_lower_bound(buffers)
        for i, a in enumerate(buffers):
            assert a.offset % 16 == 0 and a.offset + a.size <= size
            for b in buffers[i + 1:]:
                if a.first <= b.last and b.first <= a.last:
                    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
