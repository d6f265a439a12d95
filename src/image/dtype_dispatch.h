// visit_dtype: the one switch from a runtime DType to its C++ element type.
#pragma once

#include <cstdint>

#include "medinfer/volume.h"

namespace medinfer {

// Calls fn(T{}) with T the element type of `dtype` and returns its result; every
// instantiation of fn must return the same type. float16 and bfloat16 have no C++ type
// here: they visit uint16_t (their bit patterns); the engine converts them itself.
template <typename F>
decltype(auto) visit_dtype(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kUInt8:
      return fn(uint8_t{});
    case DType::kInt8:
      return fn(int8_t{});
    case DType::kUInt16:
      return fn(uint16_t{});
    case DType::kInt16:
      return fn(int16_t{});
    case DType::kUInt32:
      return fn(uint32_t{});
    case DType::kInt32:
      return fn(int32_t{});
    case DType::kFloat32:
      return fn(float{});
    case DType::kInt64:
      return fn(int64_t{});
    case DType::kBool:
      return fn(bool{});
    case DType::kFloat16:
    case DType::kBFloat16:
      return fn(uint16_t{});
    case DType::kFloat64:
      break;
  }
  return fn(double{});
}

}  // namespace medinfer
