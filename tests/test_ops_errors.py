"""An attribute value tinyjit does not implement fails at convert time, naming the node and the
attribute; never a wrong answer in silence."""
import numpy as np
import pytest

import tinyjit
from tinyjit import UnsupportedError

from ops_helpers import make_model, node

X4 = np.zeros((1, 4, 4, 4), np.float32)

CASES = {
    "resize_mode": ([node("Resize", ["x", "", "scales"], ["y"], mode="bicubic")],
                    {"scales": np.array([1, 1, 2, 2], np.float32)}, "mode='bicubic'"),
    "resize_coordinates": ([node("Resize", ["x", "", "scales"], ["y"], coordinate_transformation_mode="center")],
                           {"scales": np.array([1, 1, 2, 2], np.float32)}, "coordinate_transformation_mode='center'"),
    "resize_nearest_mode": ([node("Resize", ["x", "", "scales"], ["y"], nearest_mode="round_half_even")],
                            {"scales": np.array([1, 1, 2, 2], np.float32)}, "nearest_mode='round_half_even'"),
    "pad_mode": ([node("Pad", ["x", "pads"], ["y"], mode="mirror")],
                 {"pads": np.zeros(8, np.int64)}, "mode 'mirror'"),
    "depth_to_space_mode": ([node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="XYZ")], {}, "mode 'XYZ'"),
    "lp_normalization_p": ([node("LpNormalization", ["x"], ["y"], p=3)], {}, "p=3"),
    "layer_norm_stash_type": ([node("LayerNormalization", ["x", "s"], ["y"], stash_type=0)],
                              {"s": np.ones(4, np.float32)}, "stash_type=0"),
    "batchnorm_training": ([node("BatchNormalization", ["x", "s", "s", "s", "s"], ["y", "m", "v"], training_mode=1)],
                           {"s": np.ones(4, np.float32)}, "training mode"),
    "dropout_training": ([node("Dropout", ["x", "r", "t"], ["y"])],
                         {"r": np.array(0.5, np.float32), "t": np.array(True)}, "training mode"),
    "cast_to_float16": ([node("Cast", ["x"], ["y"], to=10)], {}, "float16"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_attribute_is_named_at_convert_time(case):
    nodes, inits, words = CASES[case]
    model = make_model(nodes, {"x": X4}, ["y"], inits, opset=19)
    with pytest.raises(UnsupportedError) as err:
        tinyjit.compile_model(model)
    message = str(err.value)
    assert nodes[0].name in message and words in message, message


def test_computed_shape_inputs_must_be_constant():
    """Slice bounds computed at run time: the frontend names the input that must be constant."""
    model = make_model([node("Slice", ["x", "starts", "ends"], ["y"])],
                       {"x": X4, "starts": np.zeros(1, np.int64), "ends": np.ones(1, np.int64)}, ["y"])
    with pytest.raises(UnsupportedError, match=r"Slice.*input 1 \(starts\) must be a constant"):
        tinyjit.compile_model(model)
