// TensorProto -> Tensor: raw, typed and external data, with every declared size checked
// against the bytes present before anything is allocated.
#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "engine/onnx/importer.h"
#include "engine/onnx/internal.h"

namespace medinfer::engine::onnx_import {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; the importer copies it as is");

namespace fs = std::filesystem;
using onnx::TensorProto;

std::string tensor_label(const TensorProto& proto) {
  return "tensor '" + proto.name() + "'";
}

// Parses a non-negative decimal number of external_data (offset, length).
bool parse_size(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// Copies a typed repeated field into `out`, converting each element to T.
template <typename T, typename Field>
void copy_field(const Field& field, Tensor& out) {
  T* dst = out.as<T>();
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<T>(field.Get(i));
}

// Where a tensor's external bytes are, checked (location inside the model's folder, offset
// and length within the file) before anything is allocated for them.
struct ExternalData {
  fs::path file;
  std::string location;
  uint64_t offset = 0;
};

Result<ExternalData> locate_external(const TensorProto& proto, const std::string& dir,
                                     const Shape& shape, uint64_t expected) {
  const std::string label = tensor_label(proto);
  if (dir.empty()) {
    return not_supported(label + ": external data is not allowed when importing from memory");
  }
  std::string location;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool has_length = false;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset") {
      if (!parse_size(entry.value(), &offset)) {
        return corrupt(label + ": external data offset '" + entry.value() + "' is not a number");
      }
    } else if (entry.key() == "length") {
      if (!parse_size(entry.value(), &length)) {
        return corrupt(label + ": external data length '" + entry.value() + "' is not a number");
      }
      has_length = true;
    }
  }
  if (location.empty() || location.find('\0') != std::string::npos) {
    return corrupt(label + ": external data has no valid location");
  }
  const fs::path rel = fs::path(location).lexically_normal();
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory() || rel.empty() ||
      *rel.begin() == "..") {
    return corrupt(label + ": external data location '" + location +
                   "' is outside the model's folder");
  }
  std::error_code ec;
  const fs::path base = fs::canonical(dir, ec);
  if (ec) return io_error(label + ": cannot open the model's folder '" + dir + "'");
  const fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return io_error(label + ": cannot resolve external data file '" + location + "'");
  // Symbolic links must not lead out of the folder either.
  auto [base_end, full_it] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (base_end != base.end()) {
    return corrupt(label + ": external data location '" + location +
                   "' is outside the model's folder");
  }
  if (!fs::is_regular_file(full, ec)) {
    return io_error(label + ": external data file '" + location + "' is missing");
  }
  const uint64_t file_size = fs::file_size(full, ec);
  if (ec) return io_error(label + ": cannot read the size of '" + location + "'");
  if (has_length && length != expected) {
    return corrupt(label + ": external data length " + std::to_string(length) + " but shape " +
                   shape_str(shape) + " needs " + std::to_string(expected) + " bytes");
  }
  if (offset > file_size || file_size - offset < expected) {
    return corrupt(label + ": external data at offset " + std::to_string(offset) + " with " +
                   std::to_string(expected) + " bytes runs past the end of '" + location + "' (" +
                   std::to_string(file_size) + " bytes)");
  }
  return ExternalData{full, location, offset};
}

Status read_external(const ExternalData& ext, const std::string& label, Tensor& out) {
  if (out.bytes() == 0) return Status::ok();
  std::ifstream in(ext.file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(ext.offset));
  in.read(static_cast<char*>(out.data()), static_cast<std::streamsize>(out.bytes()));
  if (!in) return io_error(label + ": reading external data from '" + ext.location + "' failed");
  return Status::ok();
}

// Fills `out` from the typed field that `proto`'s data type uses; checks the count.
Status read_typed(const TensorProto& proto, Tensor& out) {
  const std::string label = tensor_label(proto);
  const int64_t n = out.numel();
  auto check = [&](int count, const char* field) -> Status {
    if (count != n) {
      return corrupt(label + ": " + field + " holds " + std::to_string(count) +
                     " values but shape " + shape_str(out.shape()) + " needs " + std::to_string(n));
    }
    return Status::ok();
  };
  switch (proto.data_type()) {
    case TensorProto::FLOAT:
      MI_RETURN_IF_ERROR(check(proto.float_data_size(), "float_data"));
      copy_field<float>(proto.float_data(), out);
      return Status::ok();
    case TensorProto::DOUBLE:
      MI_RETURN_IF_ERROR(check(proto.double_data_size(), "double_data"));
      copy_field<double>(proto.double_data(), out);
      return Status::ok();
    case TensorProto::INT64:
      MI_RETURN_IF_ERROR(check(proto.int64_data_size(), "int64_data"));
      copy_field<int64_t>(proto.int64_data(), out);
      return Status::ok();
    case TensorProto::UINT32:
      MI_RETURN_IF_ERROR(check(proto.uint64_data_size(), "uint64_data"));
      copy_field<uint32_t>(proto.uint64_data(), out);
      return Status::ok();
    default:
      break;
  }
  MI_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data"));
  const auto& f = proto.int32_data();
  switch (proto.data_type()) {
    case TensorProto::INT32:
      copy_field<int32_t>(f, out);
      break;
    case TensorProto::INT16:
      copy_field<int16_t>(f, out);
      break;
    case TensorProto::INT8:
      copy_field<int8_t>(f, out);
      break;
    case TensorProto::UINT16:
    case TensorProto::FLOAT16:
    case TensorProto::BFLOAT16:
      copy_field<uint16_t>(f, out);
      break;  // bit patterns
    case TensorProto::UINT8:
      copy_field<uint8_t>(f, out);
      break;
    case TensorProto::BOOL: {
      uint8_t* dst = out.as<uint8_t>();
      for (int i = 0; i < f.size(); ++i) dst[i] = f.Get(i) != 0 ? 1 : 0;
      break;
    }
    default:
      return internal_error(label + ": no typed field for data type " +
                            std::to_string(proto.data_type()));
  }
  return Status::ok();
}

bool has_typed_data(const TensorProto& p) {
  return p.float_data_size() > 0 || p.int32_data_size() > 0 || p.int64_data_size() > 0 ||
         p.double_data_size() > 0 || p.uint64_data_size() > 0 || p.string_data_size() > 0;
}

}  // namespace

Result<DType> dtype_from_onnx(int32_t onnx_type) {
  switch (onnx_type) {
    case TensorProto::FLOAT:
      return DType::kFloat32;
    case TensorProto::DOUBLE:
      return DType::kFloat64;
    case TensorProto::FLOAT16:
      return DType::kFloat16;
    case TensorProto::BFLOAT16:
      return DType::kBFloat16;
    case TensorProto::INT8:
      return DType::kInt8;
    case TensorProto::INT16:
      return DType::kInt16;
    case TensorProto::INT32:
      return DType::kInt32;
    case TensorProto::INT64:
      return DType::kInt64;
    case TensorProto::UINT8:
      return DType::kUInt8;
    case TensorProto::UINT16:
      return DType::kUInt16;
    case TensorProto::UINT32:
      return DType::kUInt32;
    case TensorProto::BOOL:
      return DType::kBool;
    case TensorProto::UNDEFINED:
      return corrupt("element type is undefined");
    default:
      break;
  }
  const std::string name = TensorProto::DataType_IsValid(onnx_type)
                               ? TensorProto::DataType_Name(onnx_type)
                               : "#" + std::to_string(onnx_type);
  return not_supported("element type " + name + " is not supported");
}

Result<Tensor> tensor_from_proto(const TensorProto& proto, TensorBudget& budget) {
  const std::string label = tensor_label(proto);
  auto dtype = dtype_from_onnx(proto.data_type());
  if (!dtype.is_ok()) return dtype.status().with_context(label);
  if (proto.has_segment()) return not_supported(label + ": segmented tensors are not supported");
  Shape shape;
  shape.reserve(static_cast<size_t>(proto.dims_size()));
  for (int64_t d : proto.dims()) {
    if (d < 0)
      return corrupt(label + ": negative dimension in " +
                     shape_str({proto.dims().begin(), proto.dims().end()}));
    shape.push_back(d);
  }
  const int64_t n = element_count(shape);
  const size_t esize = dtype_size(*dtype);
  if (n < 0 || static_cast<uint64_t>(n) > kMaxTotalTensorBytes / esize) {
    return out_of_memory(label + ": shape " + shape_str(shape) + " is larger than the " +
                         std::to_string(kMaxTotalTensorBytes >> 30) + " GiB tensor limit");
  }
  const uint64_t bytes = static_cast<uint64_t>(n) * esize;
  if (budget.total_bytes + bytes > kMaxTotalTensorBytes) {
    return out_of_memory(label + ": tensors exceed the " +
                         std::to_string(kMaxTotalTensorBytes >> 30) + " GiB limit of one model");
  }

  const bool external = proto.data_location() == TensorProto::EXTERNAL;
  const bool raw = proto.has_raw_data();
  const bool typed = has_typed_data(proto);
  if (static_cast<int>(external) + static_cast<int>(raw) + static_cast<int>(typed) > 1) {
    return corrupt(label +
                   ": holds data in more than one of raw_data, typed fields and "
                   "external data");
  }
  // Sizes are checked before the allocation (external data's file too, below), so a small
  // file cannot ask for a large buffer.
  if (raw && proto.raw_data().size() != bytes) {
    return corrupt(label + ": raw_data has " + std::to_string(proto.raw_data().size()) +
                   " bytes but shape " + shape_str(shape) + " of " + dtype_name(*dtype) +
                   " needs " + std::to_string(bytes));
  }
  if (!raw && !external && !typed && n > 0) {
    return corrupt(label + ": shape " + shape_str(shape) + " but no data");
  }
  if (typed) {
    // Checked again exactly in read_typed; this bound only keeps the allocation honest.
    const uint64_t present = static_cast<uint64_t>(proto.float_data_size()) +
                             proto.int32_data_size() + proto.int64_data_size() +
                             proto.double_data_size() + proto.uint64_data_size();
    if (present != static_cast<uint64_t>(n)) {
      return corrupt(label + ": typed data holds " + std::to_string(present) +
                     " values but shape " + shape_str(shape) + " needs " + std::to_string(n));
    }
  }
  ExternalData ext;
  if (external) {
    MI_ASSIGN_OR_RETURN(ext, locate_external(proto, budget.external_data_dir, shape, bytes));
  }
  auto allocated = Tensor::allocate(*dtype, shape);
  if (!allocated.is_ok()) return allocated.status().with_context(label);
  Tensor t = std::move(allocated).value();
  if (external) {
    MI_RETURN_IF_ERROR(read_external(ext, label, t));
  } else if (raw) {
    if (bytes > 0) std::memcpy(t.data(), proto.raw_data().data(), bytes);
  } else if (typed) {
    MI_RETURN_IF_ERROR(read_typed(proto, t));
  }
  budget.total_bytes += bytes;
  return t;
}

}  // namespace medinfer::engine::onnx_import

namespace medinfer::engine {

Result<Tensor> read_tensor_proto_file(const std::string& path) {
  MI_ASSIGN_OR_RETURN(std::string bytes, onnx_import::read_whole_file(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return corrupt(path + ": not a serialized ONNX TensorProto (truncated or corrupt)");
  }
  onnx_import::TensorBudget budget;
  budget.external_data_dir = std::filesystem::path(path).parent_path().string();
  if (budget.external_data_dir.empty()) budget.external_data_dir = ".";
  auto t = onnx_import::tensor_from_proto(proto, budget);
  if (!t.is_ok()) return t.status().with_context(path);
  return t;
}

}  // namespace medinfer::engine
