"""onnx's own backend test suite (``onnx.backend.test``) run against ``tinyjit.backend``.

Every node test of every ONNX op tinyjit supports (``tinyjit.SUPPORTED_OPS``) is collected here;
an ``*_expanded`` test (the op's function body) belongs to the op it expands. A test that is not
run is in EXCLUDED, the one list, with its reason, and pytest reports it as a skip with that
reason (``-ra``); so is every ``_expanded`` test past the first of its op (``further_expansions``,
all run with ``TINYJIT_ALL_NODE_TESTS=1``). Nothing is dropped silently:

- ``test_exclusions_name_collected_tests`` fails on an entry that names no collected test;
- ``test_dtype_filter_is_exact`` checks that exactly the tests with a value that is not a
  TinyML dtype (float32, int8, uint8, int16, int32, int64, bool) are excluded for their dtype;
- ``TINYJIT_RUN_EXCLUDED=1 pytest tests/test_backend_node.py`` runs the excluded tests as
  expected failures, which reports the entries that have started to pass.

Inputs that tinyjit needs at convert time (shapes, axes, pads, scales, Conv weights, ...) are fed
by these tests as graph inputs; the backend binds them to the test's values before compiling
(see tinyjit/backend.py).
"""
import os
import re
import unittest
import warnings

import onnx
import onnx.backend.test
from onnx.backend.test.loader import load_node_model_tests

import tinyjit
import tinyjit.backend

TINYML_DTYPES = {"float32", "int8", "uint8", "int16", "int32", "int64", "bool"}

EXCLUDED = {
    'test_add_int8': "int8/uint8 Add is the TFLite-quantized kernel (issue 4): it needs a scale and zero point, so ONNX's plain wrapping integer Add on these types is not provided",
    'test_add_uint16': 'dtype uint16: not a TinyML dtype',
    'test_add_uint32': 'dtype uint32: not a TinyML dtype',
    'test_add_uint64': 'dtype uint64: not a TinyML dtype',
    'test_add_uint8': "int8/uint8 Add is the TFLite-quantized kernel (issue 4): it needs a scale and zero point, so ONNX's plain wrapping integer Add on these types is not provided",
    'test_batchnorm_epsilon_training_mode': 'training_mode=1 (batch statistics and running-statistics outputs): tinyjit runs inference only',
    'test_batchnorm_example_training_mode': 'training_mode=1 (batch statistics and running-statistics outputs): tinyjit runs inference only',
    'test_bitwise_and_ui64_bcast_3v1d': 'dtype uint64: not a TinyML dtype',
    'test_bitwise_not_3d': 'dtype uint16: not a TinyML dtype',
    'test_bitwise_or_ui64_bcast_3v1d': 'dtype uint64: not a TinyML dtype',
    'test_bitwise_xor_ui64_bcast_3v1d': 'dtype uint64: not a TinyML dtype',
    'test_cast_BFLOAT16_to_FLOAT': 'dtype bfloat16: not a TinyML dtype',
    'test_cast_DOUBLE_to_FLOAT': 'dtype float64: not a TinyML dtype',
    'test_cast_DOUBLE_to_FLOAT16': 'dtype float16, float64: not a TinyML dtype',
    'test_cast_FLOAT16_to_DOUBLE': 'dtype float16, float64: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT': 'dtype float16: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT4E2M1': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT8E4M3FN': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT8E4M3FNUZ': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT8E5M2': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_cast_FLOAT16_to_FLOAT8E5M2FNUZ': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_cast_FLOAT16_to_INT2': 'dtype float16, int2: not a TinyML dtype',
    'test_cast_FLOAT16_to_INT4': 'dtype float16, int4: not a TinyML dtype',
    'test_cast_FLOAT16_to_UINT2': 'dtype float16, uint2: not a TinyML dtype',
    'test_cast_FLOAT16_to_UINT4': 'dtype float16, uint4: not a TinyML dtype',
    'test_cast_FLOAT4E2M1_to_FLOAT': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_cast_FLOAT4E2M1_to_FLOAT16': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_cast_FLOAT8E4M3FNUZ_to_FLOAT': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_FLOAT8E4M3FNUZ_to_FLOAT16': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_FLOAT8E4M3FN_to_FLOAT': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_cast_FLOAT8E4M3FN_to_FLOAT16': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_cast_FLOAT8E5M2FNUZ_to_FLOAT': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_cast_FLOAT8E5M2FNUZ_to_FLOAT16': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_cast_FLOAT8E5M2_to_FLOAT': 'dtype float8_e5m2: not a TinyML dtype',
    'test_cast_FLOAT8E5M2_to_FLOAT16': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_cast_FLOAT_to_BFLOAT16': 'dtype bfloat16: not a TinyML dtype',
    'test_cast_FLOAT_to_DOUBLE': 'dtype float64: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT16': 'dtype float16: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT4E2M1': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT8E4M3FN': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT8E4M3FNUZ': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT8E5M2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_cast_FLOAT_to_FLOAT8E5M2FNUZ': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_cast_FLOAT_to_INT2': 'dtype int2: not a TinyML dtype',
    'test_cast_FLOAT_to_INT4': 'dtype int4: not a TinyML dtype',
    'test_cast_FLOAT_to_UINT2': 'dtype uint2: not a TinyML dtype',
    'test_cast_FLOAT_to_UINT4': 'dtype uint4: not a TinyML dtype',
    'test_cast_INT2_to_FLOAT': 'dtype int2: not a TinyML dtype',
    'test_cast_INT2_to_FLOAT16': 'dtype float16, int2: not a TinyML dtype',
    'test_cast_INT2_to_INT8': 'dtype int2: not a TinyML dtype',
    'test_cast_INT4_to_FLOAT': 'dtype int4: not a TinyML dtype',
    'test_cast_INT4_to_FLOAT16': 'dtype float16, int4: not a TinyML dtype',
    'test_cast_INT4_to_INT8': 'dtype int4: not a TinyML dtype',
    'test_cast_UINT2_to_FLOAT': 'dtype uint2: not a TinyML dtype',
    'test_cast_UINT2_to_FLOAT16': 'dtype float16, uint2: not a TinyML dtype',
    'test_cast_UINT2_to_UINT8': 'dtype uint2: not a TinyML dtype',
    'test_cast_UINT4_to_FLOAT': 'dtype uint4: not a TinyML dtype',
    'test_cast_UINT4_to_FLOAT16': 'dtype float16, uint4: not a TinyML dtype',
    'test_cast_UINT4_to_UINT8': 'dtype uint4: not a TinyML dtype',
    'test_cast_e8m0_FLOAT16_to_FLOAT8E8M0': 'dtype float16, float8_e8m0fnu: not a TinyML dtype',
    'test_cast_e8m0_FLOAT8E8M0_to_FLOAT': 'dtype float8_e8m0fnu: not a TinyML dtype',
    'test_cast_e8m0_FLOAT8E8M0_to_FLOAT16': 'dtype float16, float8_e8m0fnu: not a TinyML dtype',
    'test_cast_e8m0_FLOAT_to_FLOAT8E8M0': 'dtype float8_e8m0fnu: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FN': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FN': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT_to_FLOAT8E5M2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_cast_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_BFLOAT16_to_FLOAT': 'dtype bfloat16: not a TinyML dtype',
    'test_castlike_BFLOAT16_to_FLOAT_expanded': 'dtype bfloat16: not a TinyML dtype',
    'test_castlike_DOUBLE_to_FLOAT': 'dtype float64: not a TinyML dtype',
    'test_castlike_DOUBLE_to_FLOAT16': 'dtype float16, float64: not a TinyML dtype',
    'test_castlike_DOUBLE_to_FLOAT16_expanded': 'dtype float16, float64: not a TinyML dtype',
    'test_castlike_DOUBLE_to_FLOAT_expanded': 'dtype float64: not a TinyML dtype',
    'test_castlike_FLOAT16_to_DOUBLE': 'dtype float16, float64: not a TinyML dtype',
    'test_castlike_FLOAT16_to_DOUBLE_expanded': 'dtype float16, float64: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT': 'dtype float16: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT4E2M1': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT4E2M1_expanded': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E4M3FN': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E4M3FNUZ': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E4M3FNUZ_expanded': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E4M3FN_expanded': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E5M2': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E5M2FNUZ': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E5M2FNUZ_expanded': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT8E5M2_expanded': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_FLOAT_expanded': 'dtype float16: not a TinyML dtype',
    'test_castlike_FLOAT16_to_INT2': 'dtype float16, int2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_INT2_expanded': 'dtype float16, int2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_INT4': 'dtype float16, int4: not a TinyML dtype',
    'test_castlike_FLOAT16_to_INT4_expanded': 'dtype float16, int4: not a TinyML dtype',
    'test_castlike_FLOAT16_to_UINT2': 'dtype float16, uint2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_UINT2_expanded': 'dtype float16, uint2: not a TinyML dtype',
    'test_castlike_FLOAT16_to_UINT4': 'dtype float16, uint4: not a TinyML dtype',
    'test_castlike_FLOAT16_to_UINT4_expanded': 'dtype float16, uint4: not a TinyML dtype',
    'test_castlike_FLOAT4E2M1_to_FLOAT': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT4E2M1_to_FLOAT16': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT4E2M1_to_FLOAT16_expanded': 'dtype float16, float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT4E2M1_to_FLOAT_expanded': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FNUZ_to_FLOAT': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FNUZ_to_FLOAT16': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FNUZ_to_FLOAT16_expanded': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FNUZ_to_FLOAT_expanded': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FN_to_FLOAT': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FN_to_FLOAT16': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FN_to_FLOAT16_expanded': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT8E4M3FN_to_FLOAT_expanded': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2FNUZ_to_FLOAT': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2FNUZ_to_FLOAT16': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2FNUZ_to_FLOAT16_expanded': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2FNUZ_to_FLOAT_expanded': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2_to_FLOAT': 'dtype float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2_to_FLOAT16': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2_to_FLOAT16_expanded': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT8E5M2_to_FLOAT_expanded': 'dtype float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT_to_BFLOAT16': 'dtype bfloat16: not a TinyML dtype',
    'test_castlike_FLOAT_to_BFLOAT16_expanded': 'dtype bfloat16: not a TinyML dtype',
    'test_castlike_FLOAT_to_DOUBLE': 'dtype float64: not a TinyML dtype',
    'test_castlike_FLOAT_to_DOUBLE_expanded': 'dtype float64: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT16': 'dtype float16: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT16_expanded': 'dtype float16: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT4E2M1': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT4E2M1_expanded': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E4M3FN': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E4M3FNUZ': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E4M3FNUZ_expanded': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E4M3FN_expanded': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E5M2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E5M2FNUZ': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E5M2FNUZ_expanded': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_FLOAT_to_FLOAT8E5M2_expanded': 'dtype float8_e5m2: not a TinyML dtype',
    'test_castlike_FLOAT_to_INT2': 'dtype int2: not a TinyML dtype',
    'test_castlike_FLOAT_to_INT2_expanded': 'dtype int2: not a TinyML dtype',
    'test_castlike_FLOAT_to_INT4': 'dtype int4: not a TinyML dtype',
    'test_castlike_FLOAT_to_INT4_expanded': 'dtype int4: not a TinyML dtype',
    'test_castlike_FLOAT_to_UINT2': 'dtype uint2: not a TinyML dtype',
    'test_castlike_FLOAT_to_UINT2_expanded': 'dtype uint2: not a TinyML dtype',
    'test_castlike_FLOAT_to_UINT4': 'dtype uint4: not a TinyML dtype',
    'test_castlike_FLOAT_to_UINT4_expanded': 'dtype uint4: not a TinyML dtype',
    'test_castlike_INT2_to_FLOAT': 'dtype int2: not a TinyML dtype',
    'test_castlike_INT2_to_FLOAT16': 'dtype float16, int2: not a TinyML dtype',
    'test_castlike_INT2_to_FLOAT16_expanded': 'dtype float16, int2: not a TinyML dtype',
    'test_castlike_INT2_to_FLOAT_expanded': 'dtype int2: not a TinyML dtype',
    'test_castlike_INT2_to_INT8': 'dtype int2: not a TinyML dtype',
    'test_castlike_INT2_to_INT8_expanded': 'dtype int2: not a TinyML dtype',
    'test_castlike_INT4_to_FLOAT': 'dtype int4: not a TinyML dtype',
    'test_castlike_INT4_to_FLOAT16': 'dtype float16, int4: not a TinyML dtype',
    'test_castlike_INT4_to_FLOAT16_expanded': 'dtype float16, int4: not a TinyML dtype',
    'test_castlike_INT4_to_FLOAT_expanded': 'dtype int4: not a TinyML dtype',
    'test_castlike_INT4_to_INT8': 'dtype int4: not a TinyML dtype',
    'test_castlike_INT4_to_INT8_expanded': 'dtype int4: not a TinyML dtype',
    'test_castlike_UINT2_to_FLOAT': 'dtype uint2: not a TinyML dtype',
    'test_castlike_UINT2_to_FLOAT16': 'dtype float16, uint2: not a TinyML dtype',
    'test_castlike_UINT2_to_FLOAT16_expanded': 'dtype float16, uint2: not a TinyML dtype',
    'test_castlike_UINT2_to_FLOAT_expanded': 'dtype uint2: not a TinyML dtype',
    'test_castlike_UINT2_to_UINT8': 'dtype uint2: not a TinyML dtype',
    'test_castlike_UINT2_to_UINT8_expanded': 'dtype uint2: not a TinyML dtype',
    'test_castlike_UINT4_to_FLOAT': 'dtype uint4: not a TinyML dtype',
    'test_castlike_UINT4_to_FLOAT16': 'dtype float16, uint4: not a TinyML dtype',
    'test_castlike_UINT4_to_FLOAT16_expanded': 'dtype float16, uint4: not a TinyML dtype',
    'test_castlike_UINT4_to_FLOAT_expanded': 'dtype uint4: not a TinyML dtype',
    'test_castlike_UINT4_to_UINT8': 'dtype uint4: not a TinyML dtype',
    'test_castlike_UINT4_to_UINT8_expanded': 'dtype uint4: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FN': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ_expanded': 'dtype float16, float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FN_expanded': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ_expanded': 'dtype float16, float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2_expanded': 'dtype float16, float8_e5m2: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FN': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ_expanded': 'dtype float8_e4m3fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FN_expanded': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ_expanded': 'dtype float8_e5m2fnuz: not a TinyML dtype',
    'test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2_expanded': 'dtype float8_e5m2: not a TinyML dtype',
    'test_celu_bfloat16': 'dtype bfloat16: not a TinyML dtype',
    'test_celu_bfloat16_expanded': 'dtype bfloat16: not a TinyML dtype',
    'test_celu_float16': 'dtype float16: not a TinyML dtype',
    'test_celu_float16_expanded': 'dtype float16: not a TinyML dtype',
    'test_cumsum_1d': 'dtype float64: not a TinyML dtype',
    'test_cumsum_1d_exclusive': 'dtype float64: not a TinyML dtype',
    'test_cumsum_1d_reverse': 'dtype float64: not a TinyML dtype',
    'test_cumsum_1d_reverse_exclusive': 'dtype float64: not a TinyML dtype',
    'test_cumsum_2d_axis_0': 'dtype float64: not a TinyML dtype',
    'test_cumsum_2d_axis_1': 'dtype float64: not a TinyML dtype',
    'test_cumsum_2d_negative_axis': 'dtype float64: not a TinyML dtype',
    'test_dequantizelinear_blocked': 'blocked quantization (block_size) is not supported by the int8 kernels (issue 4)',
    'test_dequantizelinear_e4m3fn': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_dequantizelinear_e4m3fn_float16': 'dtype float16, float8_e4m3fn: not a TinyML dtype',
    'test_dequantizelinear_e4m3fn_zero_point': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_dequantizelinear_e5m2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_dequantizelinear_float4e2m1': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_dequantizelinear_int2': 'dtype int2: not a TinyML dtype',
    'test_dequantizelinear_int4': 'dtype int4: not a TinyML dtype',
    'test_dequantizelinear_uint16': 'dtype uint16: not a TinyML dtype',
    'test_dequantizelinear_uint2': 'dtype uint2: not a TinyML dtype',
    'test_dequantizelinear_uint4': 'dtype uint4: not a TinyML dtype',
    'test_div_uint16': 'dtype uint16: not a TinyML dtype',
    'test_div_uint32': 'dtype uint32: not a TinyML dtype',
    'test_div_uint64': 'dtype uint64: not a TinyML dtype',
    'test_equal_string': 'dtype string: not a TinyML dtype',
    'test_equal_string_broadcast': 'dtype string: not a TinyML dtype',
    'test_equal_uint16': 'dtype uint16: not a TinyML dtype',
    'test_equal_uint32': 'dtype uint32: not a TinyML dtype',
    'test_equal_uint64': 'dtype uint64: not a TinyML dtype',
    'test_greater_equal_uint16': 'dtype uint16: not a TinyML dtype',
    'test_greater_equal_uint16_expanded': 'dtype uint16: not a TinyML dtype',
    'test_greater_equal_uint32': 'dtype uint32: not a TinyML dtype',
    'test_greater_equal_uint32_expanded': 'dtype uint32: not a TinyML dtype',
    'test_greater_equal_uint64': 'dtype uint64: not a TinyML dtype',
    'test_greater_equal_uint64_expanded': 'dtype uint64: not a TinyML dtype',
    'test_greater_uint16': 'dtype uint16: not a TinyML dtype',
    'test_greater_uint32': 'dtype uint32: not a TinyML dtype',
    'test_greater_uint64': 'dtype uint64: not a TinyML dtype',
    'test_identity_opt': 'sequence/optional values, not tensors',
    'test_identity_sequence': 'sequence/optional values, not tensors',
    'test_isinf_float16': 'dtype float16: not a TinyML dtype',
    'test_isnan_float16': 'dtype float16: not a TinyML dtype',
    'test_less_equal_uint16': 'dtype uint16: not a TinyML dtype',
    'test_less_equal_uint16_expanded': 'dtype uint16: not a TinyML dtype',
    'test_less_equal_uint32': 'dtype uint32: not a TinyML dtype',
    'test_less_equal_uint32_expanded': 'dtype uint32: not a TinyML dtype',
    'test_less_equal_uint64': 'dtype uint64: not a TinyML dtype',
    'test_less_equal_uint64_expanded': 'dtype uint64: not a TinyML dtype',
    'test_less_uint16': 'dtype uint16: not a TinyML dtype',
    'test_less_uint32': 'dtype uint32: not a TinyML dtype',
    'test_less_uint64': 'dtype uint64: not a TinyML dtype',
    'test_max_float16': 'dtype float16: not a TinyML dtype',
    'test_max_float64': 'dtype float64: not a TinyML dtype',
    'test_max_uint16': 'dtype uint16: not a TinyML dtype',
    'test_max_uint32': 'dtype uint32: not a TinyML dtype',
    'test_max_uint64': 'dtype uint64: not a TinyML dtype',
    'test_min_float16': 'dtype float16: not a TinyML dtype',
    'test_min_float64': 'dtype float64: not a TinyML dtype',
    'test_min_uint16': 'dtype uint16: not a TinyML dtype',
    'test_min_uint32': 'dtype uint32: not a TinyML dtype',
    'test_min_uint64': 'dtype uint64: not a TinyML dtype',
    'test_mod_float16_mixed_sign_fmod_0': 'dtype float16: not a TinyML dtype',
    'test_mod_float64_mixed_sign_fmod_0': 'dtype float64: not a TinyML dtype',
    'test_mod_float_edge_cases_fmod_0_float16': 'dtype float16: not a TinyML dtype',
    'test_mod_float_edge_cases_fmod_0_float64': 'dtype float64: not a TinyML dtype',
    'test_mod_mixed_sign_float16': 'dtype float16: not a TinyML dtype',
    'test_mod_mixed_sign_float64': 'dtype float64: not a TinyML dtype',
    'test_mod_uint16': 'dtype uint16: not a TinyML dtype',
    'test_mod_uint32': 'dtype uint32: not a TinyML dtype',
    'test_mod_uint64': 'dtype uint64: not a TinyML dtype',
    'test_mul_uint16': 'dtype uint16: not a TinyML dtype',
    'test_mul_uint32': 'dtype uint32: not a TinyML dtype',
    'test_mul_uint64': 'dtype uint64: not a TinyML dtype',
    'test_not_2d': 'an opset-1 model: the ONNX frontend reads opset 7 and up',
    'test_not_3d': 'an opset-1 model: the ONNX frontend reads opset 7 and up',
    'test_not_4d': 'an opset-1 model: the ONNX frontend reads opset 7 and up',
    'test_onehot_with_bfloat16_values': 'dtype bfloat16: not a TinyML dtype',
    'test_pow_types_float32_uint32': 'dtype uint32: not a TinyML dtype',
    'test_pow_types_float32_uint64': 'dtype uint64: not a TinyML dtype',
    'test_quantizelinear_blocked_asymmetric': 'blocked quantization (block_size) is not supported by the int8 kernels (issue 4)',
    'test_quantizelinear_blocked_symmetric': 'blocked quantization (block_size) is not supported by the int8 kernels (issue 4)',
    'test_quantizelinear_e4m3fn': 'dtype float8_e4m3fn: not a TinyML dtype',
    'test_quantizelinear_e5m2': 'dtype float8_e5m2: not a TinyML dtype',
    'test_quantizelinear_float4e2m1': 'dtype float4_e2m1fn: not a TinyML dtype',
    'test_quantizelinear_int2': 'dtype int2: not a TinyML dtype',
    'test_quantizelinear_int4': 'dtype int4: not a TinyML dtype',
    'test_quantizelinear_uint16': 'dtype uint16: not a TinyML dtype',
    'test_quantizelinear_uint2': 'dtype uint2: not a TinyML dtype',
    'test_quantizelinear_uint4': 'dtype uint4: not a TinyML dtype',
    'test_range_bfloat16_type_positive_delta': 'dtype bfloat16: not a TinyML dtype',
    'test_range_bfloat16_type_positive_delta_expanded': 'dtype bfloat16: not a TinyML dtype',
    'test_range_float16_type_positive_delta': 'dtype float16: not a TinyML dtype',
    'test_range_float16_type_positive_delta_expanded': 'dtype float16: not a TinyML dtype',
    'test_range_float_type_positive_delta_expanded': 'the expanded function is a Loop: control flow is not supported',
    'test_range_int32_type_negative_delta_expanded': 'the expanded function is a Loop: control flow is not supported',
    'test_reduce_log_sum_exp_default_axes_keepdims_example': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_default_axes_keepdims_example_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_default_axes_keepdims_random': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_default_axes_keepdims_random_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_do_not_keepdims_example': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_do_not_keepdims_example_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_do_not_keepdims_random': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_do_not_keepdims_random_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_empty_set_expanded': 'the expanded function computes in float64 (CastLike to double), not a TinyML dtype',
    'test_reduce_log_sum_exp_keepdims_example': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_keepdims_example_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_keepdims_random': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_keepdims_random_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_negative_axes_keepdims_example': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_negative_axes_keepdims_example_expanded': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_negative_axes_keepdims_random': 'dtype float64: not a TinyML dtype',
    'test_reduce_log_sum_exp_negative_axes_keepdims_random_expanded': 'dtype float64: not a TinyML dtype',
    'test_sub_uint16': 'dtype uint16: not a TinyML dtype',
    'test_sub_uint32': 'dtype uint32: not a TinyML dtype',
    'test_sub_uint64': 'dtype uint64: not a TinyML dtype',
    'test_top_k_uint64': 'dtype uint64: not a TinyML dtype',
    'test_training_dropout': 'training-mode Dropout with ratio > 0 is random: tinyjit runs inference only',
    'test_training_dropout_default': 'training-mode Dropout with ratio > 0 is random: tinyjit runs inference only',
    'test_training_dropout_default_mask': 'training-mode Dropout with ratio > 0 is random: tinyjit runs inference only',
    'test_training_dropout_mask': 'training-mode Dropout with ratio > 0 is random: tinyjit runs inference only',
}


# --- which node tests belong to a supported op ------------------------------------------------------

SUPPORTED = sorted(op for op in tinyjit.SUPPORTED_OPS if onnx.defs.has(op))   # internal ops left out
with warnings.catch_warnings():   # the case generators compute some expected infs and nans
    warnings.simplefilter("ignore")
    CASES = {case.name: case for case in load_node_model_tests()}


def main_op(name: str) -> str | None:
    """The op a node test tests: its node's op; for ``X_expanded*`` the op of test ``X``."""
    base = re.sub(r"_expanded(_ver\d+)?$", "", name)
    model = (CASES.get(base) or CASES[name]).model
    ops = {n.op_type for n in model.graph.node}
    if len(ops) > 1:
        ops -= {"Constant"}
    return ops.pop() if len(ops) == 1 else None


COLLECTED = sorted(name for name in CASES if main_op(name) in SUPPORTED)


def value_types(name: str) -> set[str]:
    """The element types of a test's graph inputs and outputs ('sequence'/'optional' for others)."""
    graph = CASES[name].model.graph
    kinds = set()
    for vi in list(graph.input) + list(graph.output):
        kind = vi.type.WhichOneof("value")
        if kind != "tensor_type":
            kinds.add(kind.replace("_type", ""))
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        kinds.add("string" if dtype == object else dtype.name)
    return kinds


# --- the tests -------------------------------------------------------------------------------------

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _runner = onnx.backend.test.BackendTest(tinyjit.backend, __name__)
for _name in COLLECTED:
    _runner.include(f"^{re.escape(_name)}_cpu$")
_node_tests = _runner.test_cases["OnnxBackendNodeModelTest"]
_run_excluded = os.environ.get("TINYJIT_RUN_EXCLUDED") == "1"


def further_expansions() -> dict[str, str]:
    """The ``_expanded`` node tests past the first of each op, with the reason they do not run.

    An expansion runs the op's function body as a graph of other ops, each with node tests of its
    own; the variants of one op differ only in attributes and shapes, and each compiles a dozen
    kernels (a third of the suite's time for a fifth of its node tests). One expansion per op runs
    by default; TINYJIT_ALL_NODE_TESTS=1 runs them all, as scripts/gen_ops_doc.py does for
    docs/ops.md.
    """
    seen, further = set(), {}
    for name in COLLECTED:
        if name in EXCLUDED or not re.search(r"_expanded(_ver\d+)?$", name):
            continue
        op = main_op(name)
        if op in seen:
            further[name] = (f"another variant of {op}'s function body (one per op runs; "
                             "TINYJIT_ALL_NODE_TESTS=1 runs all)")
        seen.add(op)
    return further


_further = {} if os.environ.get("TINYJIT_ALL_NODE_TESTS") == "1" else further_expansions()


class OnnxBackendNodeTest(unittest.TestCase):
    """One test per collected node test: the backend's outputs against onnx's expected ones."""


for _name in COLLECTED:
    _fn = getattr(_node_tests, f"{_name}_cpu")
    if _name in EXCLUDED:
        dtype_filtered = EXCLUDED[_name].startswith(("dtype ", "sequence/optional"))
        if _run_excluded and not dtype_filtered:
            _fn = unittest.expectedFailure(_fn)
        else:
            _fn = unittest.skip(EXCLUDED[_name])(_fn)
    elif _name in _further:
        _fn = unittest.skip(_further[_name])(_fn)
    setattr(OnnxBackendNodeTest, _name, _fn)
del _node_tests, _fn   # pytest would collect that TestCase class (every test, mostly skipped) as well


def test_exclusions_name_collected_tests():
    stale = sorted(set(EXCLUDED) - set(COLLECTED))
    assert not stale, f"EXCLUDED names tests that are not collected (renamed, or their op unsupported): {stale}"


def test_dtype_filter_is_exact():
    for name in COLLECTED:
        foreign = sorted(value_types(name) - TINYML_DTYPES)
        reason = EXCLUDED.get(name, "")
        if foreign:
            assert reason.startswith(("dtype ", "sequence/optional")), f"{name} uses {foreign}: exclude it for that"
        else:
            assert not reason.startswith(("dtype ", "sequence/optional")), f"{name} is excluded for a dtype it lacks"


def test_at_least_90_onnx_ops_with_node_tests_run():
    ran = {main_op(name) for name in COLLECTED if name not in EXCLUDED}
    assert len(SUPPORTED) >= 90 and len(ran) >= 90, (len(SUPPORTED), len(ran))
