"""TFLite frontend: IR structure of the MLPerf Tiny float models, numbers against LiteRT, bad files.

Small single-op models are written here with the flatbuffer builder of the `tflite` package
(``ModelWriter``), so each operator and option is checked against LiteRT on its own.
"""
from __future__ import annotations

from collections import Counter

import flatbuffers
import numpy as np
import pytest
import tflite

import tinyjit
from tinyjit.errors import ModelLoadError, TinyJitError, UnsupportedError
from tinyjit.frontends.tflite_frontend import import_tflite

from conftest import FLOAT_MODELS, MODELS, SAMPLES, max_rel_err, ort_session

TOLERANCE = 1e-4
TFLITE = {key: MODELS / files[1] for key, files in FLOAT_MODELS.items()}
NONE, RELU, RELU_N1_TO_1, RELU6, TANH = 0, 1, 2, 3, 4
SAME, VALID = 0, 1


# --- a minimal .tflite writer --------------------------------------------------------------------

class ModelWriter:
    """Builds a one-subgraph .tflite flatbuffer: tensors, operators with builtin options."""

    def __init__(self):
        self.tensors: list[dict] = []
        self.ops: list[tuple] = []

    def tensor(self, name, shape, dtype=np.float32, data=None, signature=None, quant=None) -> int:
        self.tensors.append(dict(name=name, shape=list(shape), dtype=np.dtype(dtype), data=data,
                                 signature=signature, quant=quant))
        return len(self.tensors) - 1

    def const(self, name, data, quant=None) -> int:
        data = np.ascontiguousarray(data)
        return self.tensor(name, data.shape, data.dtype, data, quant=quant)

    def op(self, code: str, inputs, outputs, options: str | None = None, **fields) -> None:
        self.ops.append((code, list(inputs), list(outputs), options, fields))

    def build(self, inputs, outputs, subgraphs: int = 1) -> bytes:
        b = flatbuffers.Builder(1024)
        ints = lambda values, dtype=np.int32: b.CreateNumpyVector(np.asarray(values, dtype))  # noqa: E731
        buffers = [self._buffer(b, None)] + [self._buffer(b, t["data"]) for t in self.tensors]
        codes = list(dict.fromkeys(op[0] for op in self.ops))
        code_tables = [self._opcode(b, code) for code in codes]
        graphs = [self._subgraph(b, ints, codes, inputs, outputs) for _ in range(subgraphs)]
        vectors = [self._vector(b, tflite.ModelStartOperatorCodesVector, code_tables),
                   self._vector(b, tflite.ModelStartSubgraphsVector, graphs),
                   self._vector(b, tflite.ModelStartBuffersVector, buffers)]
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, vectors[0])
        tflite.ModelAddSubgraphs(b, vectors[1])
        tflite.ModelAddBuffers(b, vectors[2])
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _vector(b, start, offsets):
        start(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    @staticmethod
    def _buffer(b, data):
        vec = None if data is None else b.CreateNumpyVector(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        return tflite.BufferEnd(b)

    @staticmethod
    def _opcode(b, code):
        custom = b.CreateString(code.split(":", 1)[1]) if code.startswith("CUSTOM:") else None
        number = getattr(tflite.BuiltinOperator, code.split(":")[0])
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(number, 127))
        tflite.OperatorCodeAddBuiltinCode(b, number)
        tflite.OperatorCodeAddVersion(b, 1)
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        return tflite.OperatorCodeEnd(b)

    def _subgraph(self, b, ints, codes, inputs, outputs):
        tensors = [self._tensor(b, ints, i, t) for i, t in enumerate(self.tensors)]
        ops = [self._operator(b, ints, codes.index(code), *rest) for code, *rest in self.ops]
        t_vec = self._vector(b, tflite.SubGraphStartTensorsVector, tensors)
        o_vec = self._vector(b, tflite.SubGraphStartOperatorsVector, ops)
        in_vec, out_vec, name = ints(inputs), ints(outputs), b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, t_vec)
        tflite.SubGraphAddOperators(b, o_vec)
        tflite.SubGraphAddInputs(b, in_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        tflite.SubGraphAddName(b, name)
        return tflite.SubGraphEnd(b)

    @staticmethod
    def _tensor(b, ints, index, t):
        name, shape = b.CreateString(t["name"]), ints(t["shape"])
        signature = ints(t["signature"]) if t["signature"] is not None else None
        quant = None
        if t["quant"] is not None:
            scale, zero_point, axis = t["quant"]
            s_vec, z_vec = ints(scale, np.float32), ints(zero_point, np.int64)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, s_vec)
            tflite.QuantizationParametersAddZeroPoint(b, z_vec)
            tflite.QuantizationParametersAddQuantizedDimension(b, axis)
            quant = tflite.QuantizationParametersEnd(b)
        kinds = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "int8": 9}
        tflite.TensorStart(b)
        tflite.TensorAddName(b, name)
        tflite.TensorAddShape(b, shape)
        if signature is not None:
            tflite.TensorAddShapeSignature(b, signature)
        tflite.TensorAddType(b, kinds[t["dtype"].name])
        tflite.TensorAddBuffer(b, index + 1)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        return tflite.TensorEnd(b)

    @staticmethod
    def _operator(b, ints, code_index, inputs, outputs, options, fields):
        opts = None
        if options is not None:
            vectors = {k: ints(v) for k, v in fields.items() if isinstance(v, (list, tuple))}
            getattr(tflite, options + "Start")(b)
            for key, value in fields.items():
                getattr(tflite, f"{options}Add{key}")(b, vectors.get(key, value))
            opts = getattr(tflite, options + "End")(b)
        in_vec, out_vec = ints(inputs), ints(outputs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, code_index)
        tflite.OperatorAddInputs(b, in_vec)
        tflite.OperatorAddOutputs(b, out_vec)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, options))
            tflite.OperatorAddBuiltinOptions(b, opts)
        return tflite.OperatorEnd(b)


def litert_run(model, feeds: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(model), num_threads=1) if not isinstance(model, bytes) else \
        Interpreter(model_content=model, num_threads=1)
    details = it.get_input_details()
    for d, x in zip(details, feeds):
        if tuple(d["shape"]) != x.shape:
            it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    for d, x in zip(details, feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def tinyjit_run(model, feeds: list[np.ndarray], input_shapes=None) -> list[np.ndarray]:
    sess = tinyjit.InferenceSession(model, input_shapes=input_shapes)
    return sess.run(None, {a.name: x for a, x in zip(sess.get_inputs(), feeds)})


def check_against_litert(model: bytes, *shapes, seed=0, input_shapes=None):
    rng = np.random.default_rng(seed)
    feeds = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    want = litert_run(model, feeds)
    got = tinyjit_run(model, feeds, input_shapes)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert max_rel_err(g, w) < TOLERANCE


def weights(rng, *shape) -> np.ndarray:
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def one_op_model(code, options, x_shape, y_shape, extra_inputs=(), **fields) -> bytes:
    """x → op(x, *extra constants) → y."""
    m = ModelWriter()
    x = m.tensor("x", x_shape)
    extra = [m.const(f"c{i}", c) if c is not None else -1 for i, c in enumerate(extra_inputs)]
    y = m.tensor("y", y_shape)
    m.op(code, [x, *extra], [y], options, **fields)
    return m.build([x], [y])


def conv_model(rng, x_shape, y_shape, k, padding, stride, dilation=1, act=NONE, bias=True) -> bytes:
    c_in, c_out = x_shape[3], y_shape[3]
    return one_op_model("CONV_2D", "Conv2DOptions", x_shape, y_shape,
                        [weights(rng, c_out, k, k, c_in), weights(rng, c_out) if bias else None],
                        Padding=padding, StrideH=stride, StrideW=stride, DilationHFactor=dilation,
                        DilationWFactor=dilation, FusedActivationFunction=act)


# --- the MLPerf Tiny float models ---------------------------------------------------------------

EXPECTED_OPS = {
    "kws": {"Conv": 5, "DepthwiseConv": 4, "AveragePool": 1, "Reshape": 1, "Gemm": 1, "Softmax": 1},
    "resnet": {"Conv": 9, "Add": 3, "Relu": 3, "AveragePool": 1, "Reshape": 1, "Gemm": 1, "Softmax": 1},
    "vww": {"Conv": 14, "DepthwiseConv": 13, "AveragePool": 1, "Reshape": 1, "Gemm": 1, "Softmax": 1},
    "ad": {"Gemm": 10},
}
IO_SHAPES = {"kws": ((1, 49, 10, 1), (1, 12)), "resnet": ((1, 32, 32, 3), (1, 10)),
             "vww": ((1, 96, 96, 3), (1, 2)), "ad": ((1, 640), (1, 640))}


@pytest.mark.parametrize("key", sorted(TFLITE))
def test_mlperf_ir_structure(key):
    g = import_tflite(TFLITE[key])
    assert Counter(n.op for n in g.nodes) == EXPECTED_OPS[key]
    assert g.inputs == ["input_1"] and g.outputs == ["Identity"]
    assert (g.tensors["input_1"].shape, g.tensors["Identity"].shape) == IO_SHAPES[key]   # batch -1 → 1
    assert all(t.dtype == np.float32 for t in g.tensors.values())   # kws: hybrid weights dequantized
    producers = g.producers()
    for node in g.nodes:
        assert node.outputs[0].startswith(node.name) or node.name.startswith(node.outputs[0])   # named by outputs
        assert all(i in g.tensors for i in node.inputs) and all(o in g.tensors for o in node.outputs)
        assert all(i in producers or g.tensors[i].is_const or i in g.inputs for i in node.inputs)
        if node.op in ("Conv", "DepthwiseConv", "AveragePool"):
            assert node.attrs["channels_last"] == 1 and len(node.attrs["pads"]) == 4
        if node.op in ("Conv", "DepthwiseConv"):
            w = g.tensors[node.inputs[1]]
            x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
            assert w.shape[0] == y.shape[3] and list(w.shape[1:3]) == node.attrs["kernel_shape"]
            assert w.shape[3] == (1 if node.op == "DepthwiseConv" else x.shape[3])
            assert node.attrs["group"] == (x.shape[3] if node.op == "DepthwiseConv" else 1)
            for d in range(2):   # the explicit pads give the file's output size
                k = (node.attrs["kernel_shape"][d] - 1) * node.attrs["dilations"][d] + 1
                span = x.shape[1 + d] + node.attrs["pads"][d] + node.attrs["pads"][2 + d] - k
                assert span // node.attrs["strides"][d] + 1 == y.shape[1 + d]
        if node.op == "Gemm":
            assert node.attrs["transB"] == 1 and len(g.tensors[node.inputs[0]].shape) == 2
        if node.op == "AveragePool":
            assert node.attrs["count_include_pad"] == 0


def test_kws_geometry_and_hybrid_weights():
    g = import_tflite(TFLITE["kws"])
    first = g.nodes[0]
    # 49x10 input, 10x4 kernel, stride 2, SAME: 9 rows of padding (4 top, 5 bottom), 2 columns
    assert first.attrs["pads"] == [4, 1, 5, 1] and first.attrs["strides"] == [2, 2]
    assert first.attrs["act_min"] == 0.0 and "act_max" not in first.attrs
    model = tflite.Model.GetRootAsModel(TFLITE["kws"].read_bytes(), 0)
    sg = model.Subgraphs(0)
    raw = {sg.Tensors(i).Name().decode(): sg.Tensors(i) for i in range(sg.TensorsLength())}
    w = raw[first.inputs[1]]
    assert w.Type() == 9   # int8 in the file
    q = np.frombuffer(model.Buffers(w.Buffer()).DataAsNumpy().tobytes(), np.int8).reshape(w.ShapeAsNumpy())
    np.testing.assert_array_equal(g.const(first.inputs[1]), q.astype(np.float32) * w.Quantization().Scale(0))
    dw = g.nodes[1]
    assert dw.op == "DepthwiseConv" and g.tensors[dw.inputs[1]].shape == (64, 3, 3, 1)


def test_input_shapes_batch():
    g = import_tflite(TFLITE["kws"], {"input_1": [3, 49, 10, 1]})
    assert g.tensors["input_1"].shape == (3, 49, 10, 1)
    assert g.tensors["Identity"].shape == (3, 12)
    assert all(g.tensors[n.outputs[0]].shape[0] == 3 for n in g.nodes)
    with pytest.raises(TinyJitError, match="not model inputs"):
        import_tflite(TFLITE["kws"], {"x": [1, 49, 10, 1]})
    with pytest.raises(TinyJitError, match="fixed to 49"):
        import_tflite(TFLITE["kws"], {"input_1": [1, 50, 10, 1]})
    with pytest.raises(TinyJitError, match="rank 4"):
        import_tflite(TFLITE["kws"], {"input_1": [1, 490]})


def test_path_and_bytes_give_the_same_graph():
    a = import_tflite(TFLITE["ad"])
    b = import_tflite(TFLITE["ad"].read_bytes())
    assert [(n.op, n.inputs, n.outputs, n.attrs) for n in a.nodes] == [(n.op, n.inputs, n.outputs, n.attrs) for n in b.nodes]


@pytest.mark.parametrize("key", ["resnet", "vww", "ad"])
def test_mlperf_matches_litert(key):
    x = np.random.default_rng(1).standard_normal(IO_SHAPES[key][0]).astype(np.float32)
    got = tinyjit_run(TFLITE[key], [x])[0]
    assert max_rel_err(got, litert_run(TFLITE[key], [x])[0]) < TOLERANCE


def test_kws_hybrid_matches_float_oracle():
    """LiteRT runs the hybrid convs on int8-quantized activations; the float oracle is the .onnx
    export of the same model (tf2onnx dequantizes the weights), run by onnxruntime."""
    path = TFLITE["kws"]
    ort = ort_session(MODELS / FLOAT_MODELS["kws"][0])
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 49, 10, 1)).astype(np.float32)
        got = tinyjit_run(path, [x])[0]
        assert max_rel_err(got, ort.run(None, {ort.get_inputs()[0].name: x})[0]) < TOLERANCE
        assert max_rel_err(got, litert_run(path, [x])[0]) < 2e-2   # activation quantization noise


def test_real_samples_match_litert():
    samples = np.load(SAMPLES)
    sess = tinyjit.InferenceSession(TFLITE["vww"])
    for name in [k for k in samples.files if k.startswith("vww")]:
        x = (samples[name].astype(np.float32) / 255)[None]
        got = sess.run(None, {"input_1": x})[0]
        assert max_rel_err(got, litert_run(TFLITE["vww"], [x])[0]) < TOLERANCE
        assert int(got.argmax()) == (1 if "_person" in name else 0)


def test_batch_3_matches_litert():
    x = np.random.default_rng(2).standard_normal((3, 32, 32, 3)).astype(np.float32)
    got = tinyjit_run(TFLITE["resnet"], [x], {"input_1": [3, 32, 32, 3]})[0]
    assert got.shape == (3, 10)
    assert max_rel_err(got, litert_run(TFLITE["resnet"], [x])[0]) < TOLERANCE


# --- single operators against LiteRT -------------------------------------------------------------

@pytest.mark.parametrize("x_shape,y_shape,k,padding,stride,dilation,act", [
    ((1, 9, 7, 3), (1, 5, 4, 4), 3, SAME, 2, 1, RELU6),
    ((1, 8, 8, 2), (1, 8, 8, 3), 4, SAME, 1, 1, RELU_N1_TO_1),     # even kernel: more pad at the end
    ((1, 10, 9, 3), (1, 6, 5, 2), 3, VALID, 1, 2, RELU),
    ((2, 6, 6, 2), (2, 6, 6, 2), 3, SAME, 1, 2, NONE),
])
def test_conv(x_shape, y_shape, k, padding, stride, dilation, act):
    model = conv_model(np.random.default_rng(0), x_shape, y_shape, k, padding, stride, dilation, act)
    node = import_tflite(model).nodes[0]
    assert node.op == "Conv" and node.attrs["strides"] == [stride] * 2 and node.attrs["dilations"] == [dilation] * 2
    check_against_litert(model, x_shape)


def test_conv_without_bias():
    w = weights(np.random.default_rng(0), 3, 3, 3, 2)
    fields = dict(Padding=SAME, StrideH=1, StrideW=1)
    model = one_op_model("CONV_2D", "Conv2DOptions", (1, 5, 5, 2), (1, 5, 5, 3), [w, None], **fields)
    assert len(import_tflite(model).nodes[0].inputs) == 2
    x = np.random.default_rng(1).standard_normal((1, 5, 5, 2)).astype(np.float32)
    zero_bias = one_op_model("CONV_2D", "Conv2DOptions", (1, 5, 5, 2), (1, 5, 5, 3), [w, np.zeros(3, np.float32)],
                             **fields)   # LiteRT wants the bias
    assert max_rel_err(tinyjit_run(model, [x])[0], litert_run(zero_bias, [x])[0]) < TOLERANCE


@pytest.mark.parametrize("multiplier,stride,padding", [(1, 2, SAME), (2, 1, SAME), (3, 1, VALID)])
def test_depthwise(multiplier, stride, padding):
    rng = np.random.default_rng(3)
    c = 4
    w = weights(rng, 1, 3, 3, c * multiplier)
    out = 5 if padding == VALID else -(-7 // stride)
    model = one_op_model("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", (1, 7, 7, c), (1, out, out, c * multiplier),
                         [w, weights(rng, c * multiplier)], Padding=padding, StrideH=stride, StrideW=stride,
                         DepthMultiplier=multiplier, DilationHFactor=1, DilationWFactor=1,
                         FusedActivationFunction=RELU)
    g = import_tflite(model)
    node = g.nodes[0]
    assert node.op == "DepthwiseConv" and node.attrs["group"] == c and node.attrs["act_min"] == 0.0
    np.testing.assert_array_equal(g.const(node.inputs[1]), w.transpose(3, 1, 2, 0))   # [C*mult, KH, KW, 1]
    check_against_litert(model, (1, 7, 7, c))


@pytest.mark.parametrize("x_shape,keep,y_shape", [
    ((2, 6), False, (2, 5)),
    ((1, 2, 2, 3), False, (1, 5)),         # flattened by an inserted Reshape
    ((2, 3, 6), True, (2, 3, 5)),          # keep_num_dims: a Reshape after the Gemm
])
def test_fully_connected(x_shape, keep, y_shape):
    rng = np.random.default_rng(4)
    model = one_op_model("FULLY_CONNECTED", "FullyConnectedOptions", x_shape, y_shape,
                         [weights(rng, 5, 6 if len(x_shape) != 4 else 12), weights(rng, 5)],
                         FusedActivationFunction=RELU6, KeepNumDims=keep)
    g = import_tflite(model)
    gemm = next(n for n in g.nodes if n.op == "Gemm")
    assert gemm.attrs == {"transB": 1, "act_min": 0.0, "act_max": 6.0}
    assert [n.op for n in g.nodes] == ["Reshape"] * (len(x_shape) != 2) + ["Gemm"] + ["Reshape"] * keep
    check_against_litert(model, x_shape)


@pytest.mark.parametrize("code,onnx_op,padding,stride,act", [
    ("AVERAGE_POOL_2D", "AveragePool", SAME, 2, NONE),     # border windows average fewer values
    ("AVERAGE_POOL_2D", "AveragePool", VALID, 1, RELU),
    ("MAX_POOL_2D", "MaxPool", SAME, 2, RELU_N1_TO_1),
    ("MAX_POOL_2D", "MaxPool", VALID, 2, NONE),
])
def test_pools(code, onnx_op, padding, stride, act):
    out = -(-7 // stride) if padding == SAME else (7 - 3) // stride + 1
    model = one_op_model(code, "Pool2DOptions", (1, 7, 7, 3), (1, out, out, 3), Padding=padding,
                         StrideH=stride, StrideW=stride, FilterHeight=3, FilterWidth=3, FusedActivationFunction=act)
    node = import_tflite(model).nodes[0]
    assert node.op == onnx_op and node.attrs["kernel_shape"] == [3, 3] and node.attrs["channels_last"] == 1
    check_against_litert(model, (1, 7, 7, 3))


@pytest.mark.parametrize("code,options,act", [("ADD", "AddOptions", RELU), ("SUB", "SubOptions", RELU6),
                                              ("MUL", "MulOptions", NONE)])
def test_binary_with_broadcast(code, options, act):
    m = ModelWriter()
    a, b = m.tensor("a", (1, 4, 4, 3)), m.tensor("b", (1, 1, 4, 3))
    y = m.tensor("y", (1, 4, 4, 3))
    m.op(code, [a, b], [y], options, FusedActivationFunction=act)
    model = m.build([a, b], [y])
    g = import_tflite(model)
    assert g.nodes[0].op == code.title() and "act_min" not in g.nodes[0].attrs
    assert [n.op for n in g.nodes[1:]] == {NONE: [], RELU: ["Relu"], RELU6: ["Clip"]}[act]
    check_against_litert(model, (1, 4, 4, 3), (1, 1, 4, 3))


def test_binary_with_constant():
    model = one_op_model("ADD", "AddOptions", (1, 3, 3, 4), (1, 3, 3, 4), [weights(np.random.default_rng(5), 4)],
                         FusedActivationFunction=NONE)
    check_against_litert(model, (1, 3, 3, 4))


@pytest.mark.parametrize("code,onnx_op,attrs", [("RELU", "Relu", {}), ("RELU6", "Clip", {"min": 0.0, "max": 6.0}),
                                                ("RELU_N1_TO_1", "Clip", {"min": -1.0, "max": 1.0})])
def test_activations(code, onnx_op, attrs):
    model = one_op_model(code, None, (2, 3, 5), (2, 3, 5))
    node = import_tflite(model).nodes[0]
    assert (node.op, node.attrs) == (onnx_op, attrs)
    check_against_litert(model, (2, 3, 5))


def check_if_kernel(model: bytes, onnx_op: str, *shapes):
    """The numeric check, once a kernel for ``onnx_op`` exists (the frontend maps more ops than kernels do)."""
    if onnx_op not in tinyjit.SUPPORTED_OPS:
        pytest.skip(f"IR checked; no {onnx_op} kernel yet")
    check_against_litert(model, *shapes)


@pytest.mark.parametrize("code,onnx_op", [("LOGISTIC", "Sigmoid"), ("TANH", "Tanh"), ("HARD_SWISH", "HardSwish")])
def test_unary_ops(code, onnx_op):
    model = one_op_model(code, None, (2, 5), (2, 5))
    assert import_tflite(model).nodes[0].op == onnx_op
    check_if_kernel(model, onnx_op, (2, 5))


def test_leaky_relu():
    model = one_op_model("LEAKY_RELU", "LeakyReluOptions", (2, 5), (2, 5), Alpha=0.25)
    node = import_tflite(model).nodes[0]
    assert (node.op, node.attrs) == ("LeakyRelu", {"alpha": 0.25})
    check_if_kernel(model, "LeakyRelu", (2, 5))


@pytest.mark.parametrize("code,options,onnx_op", [("DIV", "DivOptions", "Div"), ("MAXIMUM", None, "Max"),
                                                  ("MINIMUM", None, "Min")])
def test_more_binary_ops(code, options, onnx_op):
    m = ModelWriter()
    a, b, y = m.tensor("a", (2, 3)), m.tensor("b", (1, 3)), m.tensor("y", (2, 3))
    m.op(code, [a, b], [y], options)
    model = m.build([a, b], [y])
    assert [n.op for n in import_tflite(model).nodes] == [onnx_op]
    check_if_kernel(model, onnx_op, (2, 3), (1, 3))


def test_fused_tanh_is_a_separate_node():
    model = conv_model(np.random.default_rng(0), (1, 4, 4, 2), (1, 4, 4, 2), 3, SAME, 1, act=TANH)
    g = import_tflite(model)
    assert [n.op for n in g.nodes] == ["Conv", "Tanh"] and g.nodes[1].outputs == ["y"]
    assert g.nodes[0].outputs == [g.nodes[1].inputs[0]] and "act_min" not in g.nodes[0].attrs


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(beta):
    model = one_op_model("SOFTMAX", "SoftmaxOptions", (2, 7), (2, 7), Beta=beta)
    assert import_tflite(model).nodes[0].attrs == {"axis": -1, "beta": beta}
    check_against_litert(model, (2, 7))


@pytest.mark.parametrize("code,options,fields,y_shape", [
    ("RESHAPE", "ReshapeOptions", {"NewShape": [1, 12]}, (1, 12)),
    ("SQUEEZE", "SqueezeOptions", {"SqueezeDims": [1]}, (1, 4, 3)),
])
def test_reshapes(code, options, fields, y_shape):
    model = one_op_model(code, options, (1, 1, 4, 3), y_shape, **fields)
    node = import_tflite(model).nodes[0]
    assert (node.op, node.inputs) == ("Reshape", ["x"])
    check_against_litert(model, (1, 1, 4, 3))


def test_expand_dims():
    model = one_op_model("EXPAND_DIMS", None, (4, 3), (4, 1, 3), [np.array([1], np.int32)])
    node = import_tflite(model).nodes[0]
    assert (node.op, node.inputs) == ("Reshape", ["x"])


@pytest.mark.parametrize("keep", [True, False])
def test_mean_over_hw(keep):
    model = one_op_model("MEAN", "ReducerOptions", (1, 5, 3, 4), (1, 1, 1, 4) if keep else (1, 4),
                         [np.array([1, 2], np.int32)], KeepDims=keep)
    g = import_tflite(model)
    assert [n.op for n in g.nodes] == ["GlobalAveragePool"] + ["Reshape"] * (not keep)
    assert g.nodes[0].attrs == {"channels_last": 1}
    check_against_litert(model, (1, 5, 3, 4))


def test_mean_over_other_axes():
    model = one_op_model("MEAN", "ReducerOptions", (2, 5, 4), (2, 4), [np.array([-2], np.int32)], KeepDims=False)
    node = import_tflite(model).nodes[0]
    assert (node.op, node.attrs) == ("ReduceMean", {"axes": [1], "keepdims": 0})


@pytest.mark.parametrize("axis", [3, -1, 1])
def test_concatenation(axis):
    m = ModelWriter()
    a, b = m.tensor("a", (1, 3, 3, 2)), m.tensor("b", (1, 3, 3, 2))
    shape = [1, 3, 3, 2]
    shape[axis] *= 2
    y = m.tensor("y", shape)
    m.op("CONCATENATION", [a, b], [y], "ConcatenationOptions", Axis=axis, FusedActivationFunction=NONE)
    model = m.build([a, b], [y])
    assert import_tflite(model).nodes[0].attrs == {"axis": axis}
    check_against_litert(model, (1, 3, 3, 2), (1, 3, 3, 2))


@pytest.mark.parametrize("code,value", [("PAD", None), ("PADV2", 1.5)])
def test_pad(code, value):
    paddings = np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)
    extra = [paddings] + ([np.array([value], np.float32)] if value is not None else [])
    model = one_op_model(code, None, (1, 3, 4, 2), (1, 6, 5, 2), extra)
    node = import_tflite(model).nodes[0]
    assert node.attrs == {"pads": [0, 1, 0, 0, 0, 2, 1, 0], "mode": "constant", "value": value or 0}
    assert node.inputs == ["x"]
    check_against_litert(model, (1, 3, 4, 2))


def test_transpose():
    model = one_op_model("TRANSPOSE", None, (1, 3, 4, 2), (1, 2, 3, 4), [np.array([0, 3, 1, 2], np.int32)])
    node = import_tflite(model).nodes[0]
    assert (node.op, node.inputs, node.attrs) == ("Transpose", ["x"], {"perm": [0, 3, 1, 2]})
    check_against_litert(model, (1, 3, 4, 2))


def test_dequantize_of_constant_weights_folds():
    """int8 weights → DEQUANTIZE → FULLY_CONNECTED: the graph has float weights and no Dequantize."""
    rng = np.random.default_rng(6)
    q = rng.integers(-127, 128, (4, 6)).astype(np.int8)
    scale = np.array([0.01, 0.02, 0.03, 0.04], np.float32)
    m = ModelWriter()
    x = m.tensor("x", (2, 6))
    wq = m.const("w_int8", q, quant=(scale, [0, 0, 0, 0], 0))
    w = m.tensor("w", (4, 6))
    y = m.tensor("y", (2, 4))
    m.op("DEQUANTIZE", [wq], [w])
    m.op("FULLY_CONNECTED", [x, w, -1], [y], "FullyConnectedOptions", FusedActivationFunction=NONE)
    model = m.build([x], [y])
    g = import_tflite(model)
    assert [n.op for n in g.nodes] == ["Gemm"] and "w_int8" not in g.tensors
    np.testing.assert_allclose(g.const("w"), q.astype(np.float32) * scale[:, None])
    check_against_litert(model, (2, 6))


def test_hybrid_per_channel_weights_are_dequantized():
    q = np.arange(-8, 8, dtype=np.int8).reshape(2, 2, 2, 2)
    scale = np.array([0.5, 0.25], np.float32)
    m = ModelWriter()
    x = m.tensor("x", (1, 3, 3, 2))
    w = m.const("w", q, quant=(scale, [0, 0], 0))
    y = m.tensor("y", (1, 3, 3, 2))
    m.op("CONV_2D", [x, w, -1], [y], "Conv2DOptions", Padding=SAME, StrideH=1, StrideW=1)
    g = import_tflite(m.build([x], [y]))
    assert g.tensors["w"].dtype == np.float32 and g.tensors["w"].quant is None
    np.testing.assert_array_equal(g.const("w"), q * scale[:, None, None, None])


def test_quantization_params_kept_on_activations():
    m = ModelWriter()
    x = m.tensor("x", (1, 4))
    xq = m.tensor("xq", (1, 4), np.int8, quant=([0.1], [3], 0))
    m.op("QUANTIZE", [x], [xq])
    g = import_tflite(m.build([x], [xq]))
    assert g.nodes[0].op == "QuantizeLinear"
    quant = g.tensors["xq"].quant
    assert quant.scale.tolist() == [np.float32(0.1)] and quant.zero_point.tolist() == [3] and quant.axis is None


def test_dynamic_batch_matches_litert():
    rng = np.random.default_rng(7)
    m = ModelWriter()
    x = m.tensor("x", (1, 6), signature=[-1, 6])
    w, b = m.const("w", weights(rng, 3, 6)), m.const("b", weights(rng, 3))
    y = m.tensor("y", (1, 3), signature=[-1, 3])
    m.op("FULLY_CONNECTED", [x, w, b], [y], "FullyConnectedOptions", FusedActivationFunction=NONE)
    model = m.build([x], [y])
    assert import_tflite(model).tensors["y"].shape == (1, 3)
    assert import_tflite(model, {"x": [4, 6]}).tensors["y"].shape == (4, 3)
    check_against_litert(model, (4, 6), input_shapes={"x": [4, 6]})


def test_duplicate_and_empty_tensor_names_become_unique():
    m = ModelWriter()
    x = m.tensor("t", (2, 2))
    h = m.tensor("t", (2, 2))
    y = m.tensor("", (2, 2))
    m.op("RELU", [x], [h])
    m.op("RELU6", [h], [y])
    g = import_tflite(m.build([x], [y]))
    assert g.inputs == ["t"] and g.nodes[0].outputs == ["t_1"] and g.outputs == ["tensor_2"]
    assert g.nodes[1].inputs == ["t_1"]


# --- what tinyjit refuses -----------------------------------------------------------------------

def test_unsupported_ops_are_all_listed():
    m = ModelWriter()
    x = m.tensor("x", (1, 4))
    a, b, c = m.tensor("floor_out", (1, 4)), m.tensor("custom_out", (1, 4)), m.tensor("floor_out2", (1, 4))
    m.op("FLOOR", [x], [a])
    m.op("CUSTOM:MyOp", [a], [b])
    m.op("FLOOR", [b], [c])
    with pytest.raises(UnsupportedError) as e:
        import_tflite(m.build([x], [c]))
    message = str(e.value)
    assert "FLOOR" in message and "CUSTOM:MyOp" in message
    assert "'floor_out'" in message and "'floor_out2'" in message and "'custom_out'" in message


def test_multiple_subgraphs_are_unsupported():
    m = ModelWriter()
    x, y = m.tensor("x", (1, 4)), m.tensor("y", (1, 4))
    m.op("RELU", [x], [y])
    with pytest.raises(UnsupportedError, match="2 subgraphs"):
        import_tflite(m.build([x], [y], subgraphs=2))


def test_sign_bit_activation_is_unsupported():
    with pytest.raises(UnsupportedError, match="fused activation"):
        import_tflite(conv_model(np.random.default_rng(0), (1, 4, 4, 2), (1, 4, 4, 2), 3, SAME, 1, act=5))


def test_output_shape_that_contradicts_the_options_is_a_load_error():
    model = conv_model(np.random.default_rng(0), (1, 8, 8, 2), (1, 5, 5, 2), 3, SAME, 2)   # SAME, stride 2: 4x4
    with pytest.raises(ModelLoadError, match="output size 5"):
        import_tflite(model)


# --- bad files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"TFL3", b"\x00" * 64, b"12345678" * 8, b"\x08\x00\x00\x00TFL4" + b"\x00" * 64])
def test_not_a_tflite_file(data):
    with pytest.raises(ModelLoadError):
        import_tflite(data)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot read"):
        import_tflite(tmp_path / "nope.tflite")


def test_truncated_files_fail_cleanly():
    data = TFLITE["kws"].read_bytes()
    for length in sorted({8, 12, 16, 64, 100, 1000, *range(8, len(data), 997), *range(len(data) - 40, len(data) - 4)}):
        with pytest.raises(ModelLoadError):
            import_tflite(data[:length])
    # the last 4 bytes are the version of the last operator code, a field tinyjit does not read
    full = [(n.op, n.attrs) for n in import_tflite(data).nodes]
    assert all([(n.op, n.attrs) for n in import_tflite(data[:-cut]).nodes] == full for cut in range(1, 5))


def test_truncated_file_through_the_session():
    with pytest.raises(ModelLoadError):
        tinyjit.InferenceSession(TFLITE["ad"].read_bytes()[:5000])


def table_positions(data: bytes) -> np.ndarray:
    """Byte positions of a .tflite outside its weight buffers: offsets, shapes, indices, options."""
    model = tflite.Model.GetRootAsModel(data, 0)
    weights = np.zeros(len(data), bool)
    for i in range(model.BuffersLength()):
        raw = model.Buffers(i).DataAsNumpy()
        if isinstance(raw, np.ndarray) and raw.size > 16:
            start = data.find(raw.tobytes())
            weights[start:start + raw.size] = True
    weights[:8] = True
    return np.flatnonzero(~weights)


@pytest.mark.parametrize("key", ["kws", "ad"])
def test_corrupt_bytes_fail_cleanly(key):
    """Random bytes changed in the tables: a graph or a TinyJitError, never an IndexError or struct.error."""
    data = TFLITE[key].read_bytes()
    positions = table_positions(data)
    rng = np.random.default_rng(8)
    for _ in range(300):
        bad = bytearray(data)
        for pos in rng.choice(positions, 3):
            bad[pos] = int(rng.integers(0, 256))
        try:
            import_tflite(bytes(bad))
        except TinyJitError:
            pass
