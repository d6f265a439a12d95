// Tensor: a dense row-major array with an element type and a shape, in host memory (device
// tensors come with the CUDA backend). Copies share the bytes (initializers, constants
// and folded values are passed around freely); clone() copies them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "medinfer/buffer.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::engine {

// Dimensions, outermost first. While a graph is being built, -1 stands for a dimension
// not known yet (the symbolic batch); every tensor that holds data has none.
using Shape = std::vector<int64_t>;

// Product of the dimensions (1 for a scalar); -1 if any is unknown or it overflows int64.
int64_t element_count(const Shape& shape);
// "[1, 3, 224, 224]" ("?" for unknown dimensions).
std::string shape_str(const Shape& shape);
// C++ element type for a DType (float16/bfloat16: uint16_t bit patterns).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);  // round to nearest even

class Tensor {
 public:
  Tensor() = default;  // empty: no dtype meaning, numel 0, data null
  // Uninitialized host memory for `shape` (every dimension known).
  static Result<Tensor> allocate(DType dtype, Shape shape);
  // Zero-filled.
  static Result<Tensor> zeros(DType dtype, Shape shape);
  // A view of memory the caller owns and keeps alive while this tensor (or copies) lives.
  static Tensor borrow(DType dtype, Shape shape, void* data);
  // A 1-element tensor (rank 0 unless `shape` is given).
  template <typename T>
  static Tensor scalar(DType dtype, T value, Shape shape = {});

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return data_ == nullptr && numel_ == 0; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data_);
  }

  // A deep copy that owns its bytes.
  Result<Tensor> clone() const;
  // Same bytes, another shape with the same element count.
  Result<Tensor> reshaped(Shape shape) const;
  // Values as int64 / double whatever the integer or float type (shape inputs, scalars).
  std::vector<int64_t> to_int64() const;
  std::vector<double> to_double() const;

 private:
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Buffer> owned_;
  void* data_ = nullptr;
};

template <typename T>
Tensor Tensor::scalar(DType dtype, T value, Shape shape) {
  auto t = Tensor::allocate(dtype, shape);
  Tensor out = std::move(t).value();
  *out.as<T>() = value;
  return out;
}

}  // namespace medinfer::engine
