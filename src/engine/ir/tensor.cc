#include "engine/ir/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "image/dtype_dispatch.h"

namespace medinfer::engine {

int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)
    return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0));
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to inf
  if (abs < 0x38800000u) {  // subnormal or zero in half
    // In units of half's smallest subnormal (2^-24), rounded to nearest even; exact in
    // float, and 1024 units roll over into the smallest normal correctly.
    const float units = std::ldexp(std::fabs(f), 24);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(units)));
  }
  uint32_t r = abs - 0x38000000u;             // rebias exponent 127 -> 15
  r = (r + 0xFFFu + ((r >> 13) & 1u)) >> 13;  // round to nearest even
  return static_cast<uint16_t>(sign | r);
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

Result<Tensor> Tensor::allocate(DType dtype, Shape shape) {
  const int64_t n = element_count(shape);
  if (n < 0) return invalid_argument("tensor shape " + shape_str(shape) + " is not concrete");
  if (static_cast<uint64_t>(n) > (uint64_t{1} << 40) / dtype_size(dtype)) {
    return out_of_memory("tensor of shape " + shape_str(shape) + " is too large");
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  MI_ASSIGN_OR_RETURN(Buffer b, Buffer::allocate(std::max<size_t>(t.bytes(), 1), Storage::kHost));
  t.owned_ = std::make_shared<Buffer>(std::move(b));
  t.data_ = t.owned_->data();
  return t;
}

Result<Tensor> Tensor::zeros(DType dtype, Shape shape) {
  MI_ASSIGN_OR_RETURN(Tensor t, allocate(dtype, std::move(shape)));
  std::memset(t.data_, 0, t.bytes());
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = element_count(shape);
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Result<Tensor> Tensor::clone() const {
  MI_ASSIGN_OR_RETURN(Tensor t, allocate(dtype_, shape_));
  if (bytes() > 0) std::memcpy(t.data_, data_, bytes());
  return t;
}

Result<Tensor> Tensor::reshaped(Shape shape) const {
  if (element_count(shape) != numel_) {
    return invalid_argument("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

std::vector<int64_t> Tensor::to_int64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  if (dtype_ == DType::kFloat16 || dtype_ == DType::kBFloat16) {
    for (int64_t i = 0; i < numel_; ++i) {
      const uint16_t v = as<uint16_t>()[i];
      out[i] =
          static_cast<int64_t>(dtype_ == DType::kFloat16 ? half_to_float(v) : bfloat16_to_float(v));
    }
    return out;
  }
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<int64_t>(as<T>()[i]);
  });
  return out;
}

std::vector<double> Tensor::to_double() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  if (dtype_ == DType::kFloat16 || dtype_ == DType::kBFloat16) {
    for (int64_t i = 0; i < numel_; ++i) {
      const uint16_t v = as<uint16_t>()[i];
      out[i] = dtype_ == DType::kFloat16 ? half_to_float(v) : bfloat16_to_float(v);
    }
    return out;
  }
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<double>(as<T>()[i]);
  });
  return out;
}

}  // namespace medinfer::engine
