# Generates the hand-checked small cases of tests/engine/nn_ops_test.cc: expected values
# from onnx.reference.ReferenceEvaluator (onnx 1.23.2), onnxruntime 1.32 where marked.
import numpy as np, onnx
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

def run(op, attrs, inputs, n_out=1, opset=21, act=None, ort=False):
    names = [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)]
    outs = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT if v.dtype == np.float32 else TensorProto.INT64, v.shape) for n, v in zip(names, inputs) if n]
    g = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info(o, TensorProto.FLOAT if (k == 0 or op != "MaxPool") else TensorProto.INT64, None) for k, o in enumerate(outs)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {n: v for n, v in zip(names, inputs) if n}
    if ort:
        import onnxruntime
        m.ir_version = 10
        res = onnxruntime.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    else:
        res = ReferenceEvaluator(m).run(None, feeds)
    if act: res[0] = act(res[0])
    return res

def arr(a):
    return "{" + ", ".join(str(np.float32(x)) if a.dtype != np.int64 else str(int(x)) for x in a.ravel()) + "}"

def shp(a): return "{" + ", ".join(str(d) for d in a.shape) + "}"

def attr_cpp(k, v):
    if isinstance(v, str): return f'{{"{k}", std::string("{v}")}}'
    if isinstance(v, float): return f'{{"{k}", {v}f}}'
    if isinstance(v, int): return f'{{"{k}", int64_t{{{v}}}}}'
    if all(isinstance(x, int) for x in v): return f'{{"{k}", std::vector<int64_t>{{{", ".join(map(str, v))}}}}}'
    return f'{{"{k}", std::vector<float>{{{", ".join(str(x)+"f" for x in v)}}}}}'

cases = []
def case(name, op, attrs, inputs, n_out=1, opset=21, act=None, act_cpp="", ort=False):
    res = run(op, attrs, inputs, n_out, opset, act, ort)
    ins = ", ".join("kOmitted" if v is None else f"{{{'true' if v.dtype==np.int64 else 'false'}, {shp(v)}, {arr(v)}}}" for v in inputs)
    outs = ", ".join(f"{{{'true' if r.dtype==np.int64 else 'false'}, {shp(r)}, {arr(r)}}}" for r in res)
    at = ", ".join(attr_cpp(k, v) for k, v in attrs.items())
    cases.append(f'    {{"{name}", "{op}", {opset}, {{{at}}}, {{{ins}}}, {{{outs}}}, {act_cpp or "{}"}}},')

rng = np.random.default_rng(7)
f = lambda *s: rng.uniform(-1, 1, s).astype(np.float32).round(3)
case("conv2d_group_stride_pad_bias_leakyrelu", "Conv", dict(group=2, strides=[2, 1], pads=[1, 0, 0, 1], dilations=[1, 2]),
     [f(1, 4, 5, 5), f(2, 2, 3, 2), f(2)], act=lambda y: np.where(y >= 0, y, 0.1 * y), act_cpp='{"LeakyRelu", 0.1f, 0.0f}')
case("conv1d_same_lower", "Conv", dict(auto_pad="SAME_LOWER", strides=[2]), [f(2, 1, 6), f(3, 1, 4)])
case("conv3d_valid", "Conv", dict(auto_pad="VALID"), [f(1, 2, 3, 4, 3), f(2, 2, 2, 3, 2), f(2)])
case("convtranspose1d_outpad_pads", "ConvTranspose", dict(strides=[2], output_padding=[1], pads=[1, 0]), [f(1, 2, 3), f(2, 3, 3), f(3)])
case("convtranspose2d_group_dilation", "ConvTranspose", dict(group=2, strides=[2, 2], dilations=[2, 1]), [f(1, 4, 3, 2), f(4, 1, 2, 3)], ort=True)  # onnx.reference mishandles grouped ConvTranspose
case("convtranspose2d_output_shape_same_upper", "ConvTranspose", dict(strides=[2, 2], output_shape=[7, 6], auto_pad="SAME_UPPER"), [f(1, 1, 3, 3), f(1, 2, 3, 3)])
case("gemm_trans_alpha_beta_rowbias_relu", "Gemm", dict(transA=1, transB=1, alpha=0.5, beta=2.0), [f(3, 2), f(4, 3), f(1, 4)],
     act=lambda y: np.maximum(y, 0), act_cpp='{"Relu", 0.0f, 0.0f}')
case("matmul_broadcast_batch", "MatMul", {}, [f(2, 1, 2, 3), f(3, 3, 2)])
case("matmul_1d_by_3d", "MatMul", {}, [f(3), f(2, 3, 2)], act=lambda y: np.clip(y, -0.2, 0.3), act_cpp='{"Clip", -0.2f, 0.3f}')
case("maxpool_indices_col_major_ceil", "MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, storage_order=1), [f(1, 2, 3, 5)], n_out=2)
case("maxpool_1d_dilation_pads", "MaxPool", dict(kernel_shape=[3], dilations=[2], pads=[2, 1]), [f(1, 1, 8)])
case("averagepool_include_pad_ceil", "AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 0], count_include_pad=1, ceil_mode=1), [f(1, 1, 4, 5)])
case("averagepool_exclude_pad_same_upper", "AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), [f(1, 2, 5, 4)])
case("global_average_pool_3d", "GlobalAveragePool", {}, [f(1, 2, 2, 3, 2)])
case("global_max_pool", "GlobalMaxPool", {}, [f(2, 2, 3, 3)])
case("batchnorm_3d", "BatchNormalization", dict(epsilon=1e-3), [f(2, 3, 2, 2, 1), f(3), f(3), f(3), np.abs(f(3)) + 0.5])
case("instancenorm", "InstanceNormalization", dict(epsilon=1e-2), [f(2, 3, 4), f(3), f(3)])
case("groupnorm_opset18_per_group", "GroupNormalization", dict(num_groups=2, epsilon=1e-3), [f(2, 4, 3), f(2), f(2)], opset=18)
case("groupnorm_opset21_per_channel", "GroupNormalization", dict(num_groups=2), [f(1, 4, 2, 2), f(4), f(4)], opset=21)
case("layernorm_axis1_stats", "LayerNormalization", dict(axis=1, epsilon=1e-3), [f(2, 3, 2), f(3, 1), f(2)], n_out=3)
case("resize_linear_align_corners_scales", "Resize", dict(mode="linear", coordinate_transformation_mode="align_corners"),
     [f(1, 1, 3, 4), None, np.array([1, 1, 0.6, 1.7], np.float32)])
case("resize_linear_3d_half_pixel_sizes", "Resize", dict(mode="linear"), [f(1, 1, 2, 3, 2), None, None, np.array([1, 1, 3, 5, 3], np.int64)])
case("resize_nearest_ceil_asymmetric_axes", "Resize", dict(mode="nearest", nearest_mode="ceil", coordinate_transformation_mode="asymmetric", axes=[3, 2]),
     [f(1, 1, 2, 3), None, np.array([2.5, 1.5], np.float32)])
case("resize_nearest_not_smaller_pytorch", "Resize", dict(mode="nearest", coordinate_transformation_mode="pytorch_half_pixel", keep_aspect_ratio_policy="not_smaller", axes=[2, 3]),
     [f(1, 1, 3, 4), None, None, np.array([5, 4], np.int64)])
case("upsample_nearest_opset9", "Upsample", dict(mode="nearest"), [f(1, 2, 2, 3), np.array([1, 1, 2, 3], np.float32)], opset=9)
case("resize_linear_upsample_half_pixel_symmetric", "Resize", dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
     [f(1, 1, 2, 3), None, np.array([1, 1, 2.0, 1.7], np.float32)])
case("resize_nearest_round_prefer_ceil_tf_half_pixel", "Resize", dict(mode="nearest", nearest_mode="round_prefer_ceil", coordinate_transformation_mode="tf_half_pixel_for_nn"),
     [f(1, 1, 3, 4), np.zeros(0, np.float32), np.array([1, 1, 0.7, 2.3], np.float32)], opset=13, ort=True)
print("\n".join(cases))
