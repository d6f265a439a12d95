// Helpers shared by the tensor op family: element types with their wide computation type,
// dtype checks, axis normalization, multidirectional broadcasting, and reading shape-like
// inputs. Internal to ops/tensor/.
#pragma once

#include "image/dtype_dispatch.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/ops/op.h"

namespace medinfer::engine::tensor_detail {

// float16 / bfloat16 elements: their bit patterns, a distinct type so that templates can
// tell them from uint16.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

template <typename T>
inline constexpr bool kIsFloat = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                 std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <typename T>
inline constexpr bool kIsBool = std::is_same_v<T, bool>;
template <typename T>
inline constexpr bool kIsInt = !kIsFloat<T> && !kIsBool<T>;

// The type computations run in: double for every float type, int64 / uint64 for integers.
template <typename T>
using Wide = std::conditional_t<
    kIsFloat<T>, double,
    std::conditional_t<kIsBool<T>, bool,
                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>>;

template <typename T>
Wide<T> widen(T v) {
  if constexpr (std::is_same_v<T, Half>) {
    return half_to_float(v.bits);
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return bfloat16_to_float(v.bits);
  } else {
    return static_cast<Wide<T>>(v);
  }
}

// Rounds / converts a wide value to T (float types round to nearest; integers wrap).
template <typename T, typename W>
T narrow(W v) {
  if constexpr (std::is_same_v<T, Half>) {
    return Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  } else {
    return static_cast<T>(v);
  }
}

// Calls fn(T{}) with the element type of `dtype`: visit_dtype's, except Half / BFloat16
// (value types that convert) for the half types instead of their uint16_t bit patterns.
template <typename F>
decltype(auto) visit_type(DType dtype, F&& fn) {
  if (dtype == DType::kFloat16) return fn(Half{});
  if (dtype == DType::kBFloat16) return fn(BFloat16{});
  return visit_dtype(dtype, std::forward<F>(fn));
}

// Type sets for check_dtype.
inline constexpr std::initializer_list<DType> kFloatTypes = {DType::kFloat32, DType::kFloat64,
                                                             DType::kFloat16, DType::kBFloat16};
inline constexpr std::initializer_list<DType> kNumericTypes = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
    DType::kInt8,    DType::kInt16,   DType::kInt32,   DType::kInt64,
    DType::kUInt8,   DType::kUInt16,  DType::kUInt32};
inline constexpr std::initializer_list<DType> kSignedTypes = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
    DType::kInt8,    DType::kInt16,   DType::kInt32,   DType::kInt64};
inline constexpr std::initializer_list<DType> kAllTypes = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
    DType::kInt8,    DType::kInt16,   DType::kInt32,   DType::kInt64,
    DType::kUInt8,   DType::kUInt16,  DType::kUInt32,  DType::kBool};

// NotSupported naming the input and its type unless `dtype` is in `allowed`.
Status check_dtype(const InferContext& ctx, size_t input, std::initializer_list<DType> allowed);
// InvalidArgument unless inputs a and b have the same dtype.
Status check_same_dtype(const InferContext& ctx, size_t a, size_t b);

// Normalizes `axis` into [0, rank) (`rank + 1` for Unsqueeze-like ops: pass rank + 1).
Status normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank, int64_t* out,
                      const char* what = "axis");
Status normalize_axes(const InferContext& ctx, std::vector<int64_t>& axes, int64_t rank,
                      const char* what = "axes");

// Numpy multidirectional broadcast of `shapes` (dimensions may be -1: unknown).
Status broadcast_shapes(const InferContext& ctx, const std::vector<Shape>& shapes, Shape* out);

// Strides (in elements) of `in` read as if broadcast to `out` (0 where broadcast), aligned
// to out's rank.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Walks every index of `out` in row-major order, keeping one offset per input in step.
class BroadcastWalker {
 public:
  BroadcastWalker(const Shape& out, const std::vector<Shape>& inputs);
  // Offset of input k at the current index.
  int64_t offset(size_t k) const { return offsets_[k]; }
  void next();

 private:
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> index_;
  std::vector<int64_t> offsets_;
};

// Row-major strides of `shape`.
std::vector<int64_t> strides_of(const Shape& shape);

// The constant values of input i as int64 (nullopt when absent or not constant).
std::optional<std::vector<int64_t>> const_ints(const InferContext& ctx, size_t i);
// InvalidArgument unless input i is a 1-D (or, with allow_scalar, 0-D) integer tensor.
Status check_int_vector(const InferContext& ctx, size_t i, bool allow_scalar = false);

// Float value of an attribute with a default; a wrongly typed one names the node.
Status attr_int(const InferContext& ctx, const char* name, int64_t fallback, int64_t* out);
Status attr_float(const InferContext& ctx, const char* name, float fallback, float* out);
Status attr_ints(const InferContext& ctx, const char* name, std::vector<int64_t>* out,
                 bool* present = nullptr);
Status attr_string(const InferContext& ctx, const char* name, const std::string& fallback,
                   std::string* out);

// Compute-side attribute reads (infer already validated them).
int64_t node_int(const Node& node, const char* name, int64_t fallback);
float node_float(const Node& node, const char* name, float fallback);
std::vector<int64_t> node_ints(const Node& node, const char* name);
std::string node_string(const Node& node, const char* name, const std::string& fallback);

// Output i of ctx with `dtype` and `shape`.
inline void set_output(InferContext& ctx, size_t i, DType dtype, Shape shape) {
  ctx.outputs[i].dtype = dtype;
  ctx.outputs[i].shape = std::move(shape);
}

// Copies `src` bytes into `dst` (same element count and dtype).
void copy_tensor(const Tensor& src, Tensor& dst);

}  // namespace medinfer::engine::tensor_detail
