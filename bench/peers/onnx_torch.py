"""An ONNX graph as a torch.nn.Module, interpreted node by node with torch.nn.functional.

The GPU peer (bench/peers/torch_bench_model.py) must time the same network medinfer runs,
from the same .onnx file, without onnx2torch; this is its small converter. OnnxModule holds
every floating-point initializer used as a tensor as a registered buffer (so .to(device),
.half() and .to(memory_format=torch.channels_last) apply to the weights), keeps integer and
shape-like operands (Reshape shapes, Resize scales, Clip bounds) as Python constants read at
build time, and runs the nodes in graph order in forward().

Ops: Conv, ConvTranspose, BatchNormalization (inference), InstanceNormalization, Relu,
LeakyRelu, Sigmoid, Tanh, Clip, Add, Mul, Sub, Div, MaxPool, AveragePool, GlobalAveragePool,
Flatten, Reshape, Gemm, MatMul, Concat, Softmax, Resize (nearest, linear), Identity, and Constant as a value. Any
other op (or an attribute value these do not handle) is refused when the module is built,
with the node's index, name and op type in the message.

  import onnx
  from onnx_torch import OnnxModule
  m = OnnxModule(onnx.load("unet2d.onnx")).eval().cuda()
  y = m(x)            # one tensor per graph output (a tuple when there are several)
"""
import math

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

SUPPORTED = ("Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "Relu",
             "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Add", "Mul", "Sub", "Div", "MaxPool", "AveragePool",
             "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Concat", "Softmax",
             "Resize", "Identity", "Constant")


class Unsupported(ValueError):
    """The graph has an op or attribute the converter does not implement."""


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv_fn(rank, transposed=False):
    if transposed:
        return {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[rank]
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]


def _same_pads(in_size, kernel, stride, dilation, upper):
    """ONNX auto_pad SAME_UPPER / SAME_LOWER: (begin, end) pads per spatial axis."""
    pads = []
    for n, k, s, d in zip(in_size, kernel, stride, dilation):
        out = -(-n // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if upper else (big, small))
    return pads


def _torch_pad(pads_begin_end):
    """[(b0, e0), (b1, e1), ...] over spatial axes -> F.pad's last-axis-first list."""
    out = []
    for b, e in reversed(pads_begin_end):
        out += [b, e]
    return out


class _Ctx:
    """Build-time view of the graph's constant values, per node."""

    def __init__(self, module, node, index, opset):
        self.module = module
        self.node = node
        self.index = index
        self.opset = opset

    def fail(self, what):
        n = self.node
        raise Unsupported(f"node {self.index} '{n.name}' ({n.op_type}): {what}")

    def has(self, i):
        return i < len(self.node.input) and self.node.input[i] != ""

    def const(self, i):
        """Input i's value as a numpy array; it must be an initializer or a Constant."""
        name = self.node.input[i]
        if name not in self.module._values:
            self.fail(f"input {i} '{name}' must be a constant (initializer or Constant node) "
                      "for this converter")
        return self.module._values[name]


class OnnxModule(torch.nn.Module):
    """The graph of an onnx.ModelProto as a module; see the file comment."""

    def __init__(self, model):
        super().__init__()
        g = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          0)
        self._values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self._buffer_of = {}  # ONNX name -> buffer attribute name
        inits = set(self._values)
        self.input_names = [i.name for i in g.input if i.name not in inits]
        self.output_names = [o.name for o in g.output]
        self._steps = []  # (fn, [input refs], [output names]); a ref is ("v", name) or ("b", attr)
        unsupported = [(i, n) for i, n in enumerate(g.node) if n.op_type not in SUPPORTED or
                       n.domain not in ("", "ai.onnx")]
        if unsupported:
            i, n = unsupported[0]
            others = sorted({m.op_type for _, m in unsupported})
            raise Unsupported(f"node {i} '{n.name}': op {n.domain + '.' if n.domain else ''}"
                              f"{n.op_type} is not supported by the ONNX->torch converter "
                              f"(unsupported ops in this graph: {', '.join(others)}; supported: "
                              f"{', '.join(SUPPORTED)})")
        for index, node in enumerate(g.node):
            ctx = _Ctx(self, node, index, self.opset)
            if node.op_type == "Constant":
                self._constant(ctx)
                continue
            fn, tensor_inputs = getattr(self, "_op_" + node.op_type)(ctx, _attrs(node))
            refs = [self._ref(node.input[i]) if i < len(node.input) and node.input[i] else None
                    for i in tensor_inputs]
            self._steps.append((fn, refs, list(node.output)))

    def _constant(self, ctx):
        a = _attrs(ctx.node)
        if "value" in a:
            value = numpy_helper.to_array(a["value"])
        elif "value_float" in a:
            value = np.array(a["value_float"], np.float32)
        elif "value_floats" in a:
            value = np.array(a["value_floats"], np.float32)
        elif "value_int" in a:
            value = np.array(a["value_int"], np.int64)
        elif "value_ints" in a:
            value = np.array(a["value_ints"], np.int64)
        else:
            ctx.fail(f"attribute {sorted(a)} is not handled")
        self._values[ctx.node.output[0]] = value

    def _ref(self, name):
        if name in self._values:
            if name not in self._buffer_of:
                value = self._values[name]
                attr = f"c{len(self._buffer_of)}"
                self.register_buffer(attr, torch.from_numpy(np.array(value, copy=True)))
                self._buffer_of[name] = attr
            return ("b", self._buffer_of[name])
        return ("v", name)

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise ValueError(f"the graph has {len(self.input_names)} input(s) "
                             f"({', '.join(self.input_names)}), given {len(inputs)}")
        env = dict(zip(self.input_names, inputs))
        for fn, refs, outs in self._steps:
            args = [None if r is None else (env[r[1]] if r[0] == "v" else getattr(self, r[1]))
                    for r in refs]
            env[outs[0]] = fn(*args)
        result = tuple(env[n] if n in env else getattr(self, self._buffer_of[n])
                       for n in self.output_names)
        return result[0] if len(result) == 1 else result

    # Each _op_X(ctx, attrs) returns (fn, indices of the node inputs passed to fn as tensors).

    def _op_Conv(self, ctx, a):
        w = ctx.const(1) if ctx.node.input[1] in self._values else None
        if w is None:
            ctx.fail("the weight must be an initializer")
        rank = w.ndim - 2
        kernel = a.get("kernel_shape", list(w.shape[2:]))
        strides = a.get("strides", [1] * rank)
        dil = a.get("dilations", [1] * rank)
        group = a.get("group", 1)
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        pads = a.get("pads", [0] * (2 * rank))
        conv = _conv_fn(rank)
        begin_end = list(zip(pads[:rank], pads[rank:]))
        if auto_pad == "VALID":
            begin_end = [(0, 0)] * rank
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            upper = auto_pad == "SAME_UPPER"

            def fn(x, w, b=None):
                pe = _same_pads(x.shape[2:], kernel, strides, dil, upper)
                return conv(F.pad(x, _torch_pad(pe)), w, b, strides, 0, dil, group)
            return fn, [0, 1, 2]
        if auto_pad != "NOTSET" and auto_pad != "VALID":
            ctx.fail(f"auto_pad {auto_pad}")
        if all(b == e for b, e in begin_end):
            sym = [b for b, _ in begin_end]
            return (lambda x, w, b=None: conv(x, w, b, strides, sym, dil, group)), [0, 1, 2]
        tp = _torch_pad(begin_end)
        return (lambda x, w, b=None: conv(F.pad(x, tp), w, b, strides, 0, dil, group)), [0, 1, 2]

    def _op_ConvTranspose(self, ctx, a):
        if ctx.node.input[1] not in self._values:
            ctx.fail("the weight must be an initializer")
        w = ctx.const(1)
        rank = w.ndim - 2
        strides = a.get("strides", [1] * rank)
        dil = a.get("dilations", [1] * rank)
        group = a.get("group", 1)
        out_pad = a.get("output_padding", [0] * rank)
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if "output_shape" in a or auto_pad not in ("NOTSET", "VALID"):
            ctx.fail("output_shape / auto_pad SAME_* are not handled")
        pads = a.get("pads", [0] * (2 * rank)) if auto_pad == "NOTSET" else [0] * (2 * rank)
        conv = _conv_fn(rank, transposed=True)
        begin, end = pads[:rank], pads[rank:]
        if begin == end and all(o < max(s, d) for o, s, d in zip(out_pad, strides, dil)):
            return (lambda x, w, b=None: conv(x, w, b, strides, begin, out_pad, group, dil)), \
                [0, 1, 2]

        def fn(x, w, b=None):
            # Unpadded result (output_padding added at the end), then the ONNX pads cropped.
            y = conv(x, w, None, strides, 0, 0, group, dil)
            extra = [o for o in out_pad]
            if any(extra):
                y = F.pad(y, _torch_pad([(0, o) for o in extra]))
            index = [slice(None), slice(None)] + [
                slice(p0, y.shape[2 + i] - p1) for i, (p0, p1) in enumerate(zip(begin, end))]
            y = y[tuple(index)]
            if b is not None:
                y = y + b.reshape([1, -1] + [1] * rank)
            return y
        return fn, [0, 1, 2]

    def _op_BatchNormalization(self, ctx, a):
        if a.get("training_mode", 0):
            ctx.fail("training_mode=1 (only inference batch norm)")
        eps = a.get("epsilon", 1e-5)
        return (lambda x, s, b, m, v: F.batch_norm(x, m, v, s, b, False, 0.0, eps)), \
            [0, 1, 2, 3, 4]

    def _op_InstanceNormalization(self, ctx, a):
        eps = a.get("epsilon", 1e-5)

        def fn(x, s, b):
            if x[0, 0].numel() == 1:  # one value per channel: normalized to 0, the bias stays
                return (x * 0 + b.reshape([1, -1] + [1] * (x.dim() - 2))).to(x.dtype)
            return F.instance_norm(x, weight=s, bias=b, eps=eps)
        return fn, [0, 1, 2]

    def _op_Relu(self, ctx, a):
        return F.relu, [0]

    def _op_LeakyRelu(self, ctx, a):
        alpha = a.get("alpha", 0.01)
        return (lambda x: F.leaky_relu(x, alpha)), [0]

    def _op_Sigmoid(self, ctx, a):
        return torch.sigmoid, [0]

    def _op_Tanh(self, ctx, a):
        return torch.tanh, [0]

    def _op_Clip(self, ctx, a):
        if ctx.opset < 11:
            lo, hi = a.get("min", -math.inf), a.get("max", math.inf)
        else:
            lo = float(ctx.const(1)) if ctx.has(1) else -math.inf
            hi = float(ctx.const(2)) if ctx.has(2) else math.inf
        if lo == 0.0 and hi == math.inf:
            return F.relu, [0]
        if lo == 0.0 and hi == 6.0:
            return F.relu6, [0]
        return (lambda x: torch.clamp(x, lo, hi)), [0]

    def _binary(self, ctx, op):
        return (lambda x, y: op(x, y)), [0, 1]

    def _op_Add(self, ctx, a):
        return self._binary(ctx, torch.add)

    def _op_Mul(self, ctx, a):
        return self._binary(ctx, torch.mul)

    def _op_Sub(self, ctx, a):
        return self._binary(ctx, torch.sub)

    def _op_Div(self, ctx, a):
        return self._binary(ctx, torch.div)

    def _pool_geometry(self, ctx, a):
        kernel = a["kernel_shape"]
        rank = len(kernel)
        strides = a.get("strides", [1] * rank)
        dil = a.get("dilations", [1] * rank)
        ceil = bool(a.get("ceil_mode", 0))
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if auto_pad not in ("NOTSET", "VALID"):
            ctx.fail(f"auto_pad {auto_pad} is not handled")
        pads = a.get("pads", [0] * (2 * rank)) if auto_pad == "NOTSET" else [0] * (2 * rank)
        return kernel, rank, strides, dil, ceil, pads[:rank], pads[rank:]

    def _op_MaxPool(self, ctx, a):
        if len(ctx.node.output) > 1 and ctx.node.output[1]:
            ctx.fail("the Indices output is not handled")
        kernel, rank, strides, dil, ceil, begin, end = self._pool_geometry(ctx, a)
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[rank]
        if begin == end and all(p * 2 <= k for p, k in zip(begin, kernel)):
            return (lambda x: pool(x, kernel, strides, begin, dil, ceil)), [0]
        tp = _torch_pad(list(zip(begin, end)))
        return (lambda x: pool(F.pad(x, tp, value=-math.inf), kernel, strides, 0, dil, ceil)), [0]

    def _op_AveragePool(self, ctx, a):
        kernel, rank, strides, dil, ceil, begin, end = self._pool_geometry(ctx, a)
        if any(d != 1 for d in dil):
            ctx.fail("dilations other than 1 are not handled")
        include = bool(a.get("count_include_pad", 0))
        pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[rank]
        if begin == end and all(p * 2 <= k for p, k in zip(begin, kernel)):
            if rank == 1:
                return (lambda x: pool(x, kernel, strides, begin, ceil, include)), [0]
            return (lambda x: pool(x, kernel, strides, begin, ceil, include, None)), [0]
        if not include:
            ctx.fail("asymmetric pads without count_include_pad are not handled")
        tp = _torch_pad(list(zip(begin, end)))
        return (lambda x: pool(F.pad(x, tp), kernel, strides, 0, ceil, True)), [0]

    def _op_GlobalAveragePool(self, ctx, a):
        return (lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True)), [0]

    def _op_Flatten(self, ctx, a):
        axis = a.get("axis", 1)

        def fn(x):
            ax = axis + x.dim() if axis < 0 else axis
            return x.reshape(math.prod(x.shape[:ax]), -1)
        return fn, [0]

    def _op_Reshape(self, ctx, a):
        shape = [int(s) for s in ctx.const(1)]
        allowzero = a.get("allowzero", 0)

        def fn(x):
            dims = [x.shape[i] if s == 0 and not allowzero else s for i, s in enumerate(shape)]
            return x.reshape(dims)
        return fn, [0]

    def _op_Gemm(self, ctx, a):
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        ta, tb = a.get("transA", 0), a.get("transB", 0)
        if alpha == 1.0 and beta == 1.0 and not ta and tb:
            return (lambda x, w, b=None: F.linear(x, w, b)), [0, 1, 2]

        def fn(x, w, c=None):
            y = torch.matmul(x.t() if ta else x, w.t() if tb else w)
            if alpha != 1.0:
                y = y * alpha
            if c is not None:
                y = y + (c * beta if beta != 1.0 else c)
            return y
        return fn, [0, 1, 2]

    def _op_MatMul(self, ctx, a):
        return torch.matmul, [0, 1]

    def _op_Concat(self, ctx, a):
        axis = a["axis"]
        n = len(ctx.node.input)
        return (lambda *xs: torch.cat(xs, dim=axis)), list(range(n))

    def _op_Softmax(self, ctx, a):
        if ctx.opset >= 13:
            axis = a.get("axis", -1)
            return (lambda x: torch.softmax(x, dim=axis)), [0]
        axis = a.get("axis", 1)

        def fn(x):  # opset < 13: softmax over the input flattened to 2-D at axis
            ax = axis + x.dim() if axis < 0 else axis
            return torch.softmax(x.reshape(math.prod(x.shape[:ax]), -1), dim=1).reshape(x.shape)
        return fn, [0]

    def _op_Resize(self, ctx, a):
        if ctx.opset < 11:
            ctx.fail("Resize before opset 11 (Upsample-style scales input) is not handled")
        mode = a.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        ctm = a.get("coordinate_transformation_mode", b"half_pixel")
        ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
        nearest_mode = a.get("nearest_mode", b"round_prefer_floor")
        nearest_mode = nearest_mode.decode() if isinstance(nearest_mode, bytes) else nearest_mode
        for unsupported in ("antialias", "axes", "keep_aspect_ratio_policy"):
            if a.get(unsupported) not in (None, 0, b"stretch", "stretch"):
                ctx.fail(f"attribute {unsupported} is not handled")
        scales = [float(s) for s in ctx.const(2)] if ctx.has(2) else []
        sizes = [int(s) for s in ctx.const(3)] if ctx.has(3) else []
        if not scales and not sizes:
            ctx.fail("needs constant scales or sizes")
        lead = scales[:2] if scales else None
        if lead is not None and lead != [1.0, 1.0]:
            ctx.fail("scaling the batch or channel axis is not handled")

        def out_size(x):
            if sizes:
                return sizes[2:]
            return [int(math.floor(n * s)) for n, s in zip(x.shape[2:], scales[2:])]

        if mode == "linear":
            if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
                ctx.fail(f"linear with coordinate_transformation_mode {ctm} is not handled")
            align = ctm == "align_corners"

            def linear(x):
                rank = x.dim() - 2
                tmode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
                if scales and not align and (ctm == "half_pixel" or
                                             all(o > 1 for o in out_size(x))):
                    return F.interpolate(x, scale_factor=scales[2:], mode=tmode,
                                         align_corners=False, recompute_scale_factor=False)
                return F.interpolate(x, size=out_size(x), mode=tmode, align_corners=align)
            return linear, [0]
        if mode != "nearest":
            ctx.fail(f"mode {mode} is not handled (nearest, linear)")
        if ctm not in ("half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"):
            ctx.fail(f"nearest with coordinate_transformation_mode {ctm} is not handled")
        if nearest_mode not in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            ctx.fail(f"nearest_mode {nearest_mode}")

        def source_index(n_in, n_out, scale):
            # The ONNX formula per output index, then the nearest_mode rounding, clamped.
            i = np.arange(n_out, dtype=np.float64)
            if ctm == "asymmetric":
                x = i / scale
            elif ctm == "align_corners":
                x = i * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(i)
            elif ctm == "pytorch_half_pixel" and n_out == 1:
                x = np.zeros_like(i)
            else:
                x = (i + 0.5) / scale - 0.5
            if nearest_mode == "floor":
                r = np.floor(x)
            elif nearest_mode == "ceil":
                r = np.ceil(x)
            elif nearest_mode == "round_prefer_ceil":
                r = np.floor(x + 0.5)
            else:
                r = np.ceil(x - 0.5)
            return np.clip(r, 0, n_in - 1).astype(np.int64)

        def nearest(x):
            outs = out_size(x)
            if scales and ctm == "asymmetric" and nearest_mode == "floor":
                return F.interpolate(x, scale_factor=scales[2:], mode="nearest",
                                     recompute_scale_factor=False)
            y = x
            for axis, n_out in enumerate(outs):
                n_in = x.shape[2 + axis]
                scale = scales[2 + axis] if scales else n_out / n_in
                idx = torch.from_numpy(source_index(n_in, n_out, scale)).to(x.device)
                y = y.index_select(2 + axis, idx)
            return y
        return nearest, [0]

    def _op_Identity(self, ctx, a):
        return (lambda x: x), [0]
