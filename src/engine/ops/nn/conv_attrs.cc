// Conv / ConvTranspose / pooling attributes: read, defaulted, checked against the input
// shapes and resolved to explicit pads, once for every backend.
#include "engine/ops/conv_attrs.h"

#include <string>

#include "engine/ops/nn/nn_common.h"

namespace medinfer::engine {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// `name` defaulted to `fallback` (repeated `spatial` times) and checked for length and
// minimum value.
Result<std::vector<int64_t>> per_axis(const Node& node, const char* name, int64_t spatial,
                                      size_t per_dim, int64_t fallback, int64_t min_value) {
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> v, nn::attr_ints(node, name));
  const size_t want = static_cast<size_t>(spatial) * per_dim;
  if (v.empty()) return std::vector<int64_t>(want, fallback);
  if (v.size() != want) {
    return node.error(StatusCode::kInvalidArgument,
                      std::string(name) + " " + ints_str(v) + " must have " + std::to_string(want) +
                          " values for " + std::to_string(spatial) + " spatial dimensions");
  }
  for (int64_t x : v) {
    if (x < min_value) {
      return node.error(
          StatusCode::kInvalidArgument,
          std::string(name) + " " + ints_str(v) + " must be >= " + std::to_string(min_value));
    }
  }
  return v;
}

Result<std::string> auto_pad_attr(const Node& node) {
  MI_ASSIGN_OR_RETURN(std::string p, nn::attr_string(node, "auto_pad", "NOTSET"));
  if (p != "NOTSET" && p != "SAME_UPPER" && p != "SAME_LOWER" && p != "VALID") {
    return node.error(StatusCode::kNotSupported, "auto_pad '" + p + "' is not supported");
  }
  return p;
}

// SAME_* padding of a forward window (Conv, pools): output ceil(in / stride).
void same_pads(const std::string& auto_pad, int64_t in, int64_t stride, int64_t window,
               int64_t* begin, int64_t* end) {
  if (in < 0) {  // resolved at run time
    *begin = *end = 0;
    return;
  }
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + window - in);
  *begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
  *end = total - *begin;
}

}  // namespace

Result<ConvAttrs> conv_attrs(const Node& node, const Shape& x, const Shape& w, bool transposed) {
  ConvAttrs a;
  a.transposed = transposed;
  if (x.size() < 3 || x.size() > 5) {
    return node.error(x.size() < 3 ? StatusCode::kInvalidArgument : StatusCode::kNotSupported,
                      "input X has shape " + shape_str(x) +
                          "; expected [N, C, D1...] with 1 to 3 spatial dimensions");
  }
  if (w.size() != x.size()) {
    return node.error(StatusCode::kInvalidArgument,
                      "weight W has shape " + shape_str(w) + ", rank must match X " + shape_str(x));
  }
  a.spatial = static_cast<int64_t>(x.size()) - 2;
  MI_ASSIGN_OR_RETURN(a.group, nn::attr_int(node, "group", 1));
  if (a.group < 1) return node.error(StatusCode::kInvalidArgument, "group must be >= 1");
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, nn::attr_ints(node, "kernel_shape"));
  a.kernel.assign(w.begin() + 2, w.end());
  for (int64_t k : a.kernel) {
    if (k <= 0) {
      return node.error(StatusCode::kInvalidArgument,
                        "weight W has shape " + shape_str(w) + " with an empty kernel");
    }
  }
  if (!kernel.empty() && kernel != a.kernel) {
    return node.error(StatusCode::kInvalidArgument, "kernel_shape " + ints_str(kernel) +
                                                        " does not match weight W " + shape_str(w));
  }
  const int64_t c = x[1];
  if (!transposed) {
    if (c >= 0 && w[1] * a.group != c) {
      return node.error(StatusCode::kInvalidArgument,
                        "weight W " + shape_str(w) + " with group " + std::to_string(a.group) +
                            " expects " + std::to_string(w[1] * a.group) +
                            " input channels, X has " + std::to_string(c));
    }
    if (w[0] % a.group != 0) {
      return node.error(StatusCode::kInvalidArgument,
                        "weight W " + shape_str(w) +
                            ": output channels are not divisible by group " +
                            std::to_string(a.group));
    }
  } else if (c >= 0 && (w[0] != c || c % a.group != 0)) {
    return node.error(StatusCode::kInvalidArgument,
                      "weight W " + shape_str(w) + " expects " + std::to_string(w[0]) +
                          " input channels divisible by group " + std::to_string(a.group) +
                          ", X has " + std::to_string(c));
  }
  MI_ASSIGN_OR_RETURN(a.strides, per_axis(node, "strides", a.spatial, 1, 1, 1));
  MI_ASSIGN_OR_RETURN(a.dilations, per_axis(node, "dilations", a.spatial, 1, 1, 1));
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                      per_axis(node, "pads", a.spatial, 2, 0, transposed ? INT64_MIN : 0));
  a.pads_begin.assign(pads.begin(), pads.begin() + a.spatial);
  a.pads_end.assign(pads.begin() + a.spatial, pads.end());
  MI_ASSIGN_OR_RETURN(std::string auto_pad, auto_pad_attr(node));
  a.output_padding.assign(static_cast<size_t>(a.spatial), 0);
  std::vector<int64_t> output_shape;
  if (transposed) {
    MI_ASSIGN_OR_RETURN(a.output_padding, per_axis(node, "output_padding", a.spatial, 1, 0, 0));
    MI_ASSIGN_OR_RETURN(output_shape, nn::attr_ints(node, "output_shape"));
    if (output_shape.size() == static_cast<size_t>(a.spatial) + 2) {
      output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
    }
    if (!output_shape.empty() && output_shape.size() != static_cast<size_t>(a.spatial)) {
      return node.error(StatusCode::kInvalidArgument, "output_shape " + ints_str(output_shape) +
                                                          " must have " +
                                                          std::to_string(a.spatial) + " values");
    }
  }
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i);
    const int64_t in = x[s + 2];
    const int64_t window = (a.kernel[s] - 1) * a.dilations[s] + 1;
    if (!transposed) {
      if (auto_pad == "VALID") {
        a.pads_begin[s] = a.pads_end[s] = 0;
      } else if (auto_pad != "NOTSET") {
        same_pads(auto_pad, in, a.strides[s], window, &a.pads_begin[s], &a.pads_end[s]);
      }
      if (in >= 0 && in + a.pads_begin[s] + a.pads_end[s] < window) {
        return node.error(StatusCode::kInvalidArgument,
                          "input X " + shape_str(x) + " with pads is smaller than the kernel " +
                              ints_str(a.kernel) + " (dilations " + ints_str(a.dilations) + ")");
      }
      continue;
    }
    if (auto_pad == "VALID") a.pads_begin[s] = a.pads_end[s] = 0;
    if (output_shape.empty() && (auto_pad == "NOTSET" || auto_pad == "VALID")) continue;
    if (in < 0) {  // resolved at run time
      a.pads_begin[s] = a.pads_end[s] = 0;
      continue;
    }
    // Pads that make the output exactly `target` (ONNX: "pads are auto generated").
    const int64_t target = output_shape.empty() ? in * a.strides[s] : output_shape[s];
    const int64_t total = a.strides[s] * (in - 1) + a.output_padding[s] + window - target;
    if (auto_pad == "SAME_UPPER") {
      a.pads_begin[s] = floor_div(total, 2);
      a.pads_end[s] = total - a.pads_begin[s];
    } else {
      a.pads_end[s] = floor_div(total, 2);
      a.pads_begin[s] = total - a.pads_end[s];
    }
  }
  const Shape out = conv_output_shape(a, x, w);
  for (size_t d = 2; d < out.size(); ++d) {
    if (x[d] >= 0 && out[d] <= 0) {
      return node.error(
          StatusCode::kInvalidArgument,
          "output shape " + shape_str(out) + " for input X " + shape_str(x) + " is empty");
    }
  }
  return a;
}

Shape conv_output_shape(const ConvAttrs& a, const Shape& x, const Shape& w) {
  Shape out{x[0], a.transposed ? w[1] * a.group : w[0]};
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i);
    const int64_t in = x[s + 2];
    const int64_t window = (a.kernel[s] - 1) * a.dilations[s] + 1;
    const int64_t pads = a.pads_begin[s] + a.pads_end[s];
    if (in < 0) {
      out.push_back(-1);
    } else if (a.transposed) {
      out.push_back(a.strides[s] * (in - 1) + a.output_padding[s] + window - pads);
    } else {
      out.push_back(floor_div(in + pads - window, a.strides[s]) + 1);
    }
  }
  return out;
}

Result<PoolAttrs> pool_attrs(const Node& node, const Shape& x) {
  PoolAttrs a;
  if (x.size() < 3 || x.size() > 5) {
    return node.error(x.size() < 3 ? StatusCode::kInvalidArgument : StatusCode::kNotSupported,
                      "input X has shape " + shape_str(x) +
                          "; expected [N, C, D1...] with 1 to 3 spatial dimensions");
  }
  a.spatial = static_cast<int64_t>(x.size()) - 2;
  MI_ASSIGN_OR_RETURN(a.kernel, nn::attr_ints(node, "kernel_shape"));
  if (a.kernel.empty()) {
    return node.error(StatusCode::kInvalidArgument, "attribute 'kernel_shape' is required");
  }
  MI_ASSIGN_OR_RETURN(a.kernel, per_axis(node, "kernel_shape", a.spatial, 1, 1, 1));
  MI_ASSIGN_OR_RETURN(a.strides, per_axis(node, "strides", a.spatial, 1, 1, 1));
  MI_ASSIGN_OR_RETURN(a.dilations, per_axis(node, "dilations", a.spatial, 1, 1, 1));
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> pads, per_axis(node, "pads", a.spatial, 2, 0, 0));
  a.pads_begin.assign(pads.begin(), pads.begin() + a.spatial);
  a.pads_end.assign(pads.begin() + a.spatial, pads.end());
  MI_ASSIGN_OR_RETURN(int64_t ceil_mode, nn::attr_int(node, "ceil_mode", 0));
  MI_ASSIGN_OR_RETURN(int64_t include_pad, nn::attr_int(node, "count_include_pad", 0));
  a.ceil_mode = ceil_mode != 0;
  a.count_include_pad = include_pad != 0;
  MI_ASSIGN_OR_RETURN(std::string auto_pad, auto_pad_attr(node));
  if (auto_pad != "NOTSET") a.ceil_mode = false;  // the output size is fixed by auto_pad
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i);
    const int64_t window = (a.kernel[s] - 1) * a.dilations[s] + 1;
    if (auto_pad == "VALID") {
      a.pads_begin[s] = a.pads_end[s] = 0;
    } else if (auto_pad != "NOTSET") {
      same_pads(auto_pad, x[s + 2], a.strides[s], window, &a.pads_begin[s], &a.pads_end[s]);
    }
    if (a.pads_begin[s] >= window || a.pads_end[s] >= window) {
      return node.error(StatusCode::kInvalidArgument,
                        "pads " + ints_str(pads) + " must be smaller than the kernel window");
    }
    if (x[s + 2] >= 0 && x[s + 2] + a.pads_begin[s] + a.pads_end[s] < window) {
      return node.error(StatusCode::kInvalidArgument, "input X " + shape_str(x) +
                                                          " with pads is smaller than the kernel " +
                                                          ints_str(a.kernel));
    }
  }
  return a;
}

Shape pool_output_shape(const PoolAttrs& a, const Shape& x) {
  Shape out{x[0], x[1]};
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i);
    const int64_t in = x[s + 2];
    if (in < 0) {
      out.push_back(-1);
      continue;
    }
    const int64_t window = (a.kernel[s] - 1) * a.dilations[s] + 1;
    const int64_t span = in + a.pads_begin[s] + a.pads_end[s] - window;
    int64_t o = floor_div(span, a.strides[s]) + 1;
    if (a.ceil_mode) {
      o = floor_div(span + a.strides[s] - 1, a.strides[s]) + 1;
      // The last window must start inside the input or its leading padding.
      if ((o - 1) * a.strides[s] >= in + a.pads_begin[s]) --o;
    }
    out.push_back(o);
  }
  return out;
}

bool is_patch_transpose(const ConvAttrs& a, const Shape& x, const Shape& y) {
  if (!a.transposed || a.group != 1) return false;
  if (x.size() != static_cast<size_t>(a.spatial) + 2 || y.size() != x.size()) return false;
  for (size_t s = 0; s < static_cast<size_t>(a.spatial); ++s) {
    if (a.kernel[s] != a.strides[s] || a.dilations[s] != 1 || a.pads_begin[s] != 0 ||
        a.pads_end[s] != 0 || a.output_padding[s] != 0 || y[s + 2] != x[s + 2] * a.kernel[s]) {
      return false;
    }
  }
  return true;
}

}  // namespace medinfer::engine
