#include "engine/backends/cuda/conv_fprop.h"

#include <string>
#include <unordered_map>

#include "engine/backends/cuda/cuda_check.h"

namespace medinfer::cuda {
namespace fe = cudnn_frontend;

struct ConvFprop::Impl {
  fe::graph::Graph graph;
  std::shared_ptr<fe::graph::Tensor_attributes> x, w, y;
  int64_t workspace = 0;
};

namespace {

Result<fe::DataType_t> fe_type(DType t) {
  switch (t) {
    case DType::kFloat32:
      return fe::DataType_t::FLOAT;
    case DType::kFloat16:
      return fe::DataType_t::HALF;
    case DType::kBFloat16:
      return fe::DataType_t::BFLOAT16;
    default:
      return not_supported("convolution data type " + std::string(dtype_name(t)) +
                           " (float32, float16 or bfloat16)");
  }
}

std::string shape_text(const ConvShape& s) {
  return "[" + std::to_string(s.n) + ", " + std::to_string(s.c) + ", " + std::to_string(s.h) +
         ", " + std::to_string(s.w) + "] * [" + std::to_string(s.k) + ", " + std::to_string(s.c) +
         ", " + std::to_string(s.r) + ", " + std::to_string(s.s) + "]";
}

}  // namespace

ConvFprop::ConvFprop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConvFprop::~ConvFprop() = default;

Result<std::unique_ptr<ConvFprop>> ConvFprop::build(cudnnHandle_t handle, const ConvShape& s,
                                                    DType io, bool allow_tf32) {
  MI_ASSIGN_OR_RETURN(const fe::DataType_t type, fe_type(io));
  if (s.p() <= 0 || s.q() <= 0) {
    return invalid_argument("convolution " + shape_text(s) + " has an empty output");
  }
  auto impl = std::make_unique<Impl>();
  fe::graph::Graph& g = impl->graph;
  g.set_io_data_type(type)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  // Dimensions are given in NCHW order; the strides make the memory NHWC / KRSC.
  impl->x = g.tensor(fe::graph::Tensor_attributes()
                         .set_name("x")
                         .set_dim({s.n, s.c, s.h, s.w})
                         .set_stride({s.c * s.h * s.w, 1, s.w * s.c, s.c}));
  impl->w = g.tensor(fe::graph::Tensor_attributes()
                         .set_name("w")
                         .set_dim({s.k, s.c, s.r, s.s})
                         .set_stride({s.c * s.r * s.s, 1, s.s * s.c, s.c}));
  auto conv = fe::graph::Conv_fprop_attributes()
                  .set_padding({s.pad[0], s.pad[1]})
                  .set_stride({s.stride[0], s.stride[1]})
                  .set_dilation({s.dilation[0], s.dilation[1]});
  impl->y = g.conv_fprop(impl->x, impl->w, conv);
  const int64_t p = s.p(), q = s.q();
  impl->y->set_output(true).set_dim({s.n, s.k, p, q}).set_stride({s.k * p * q, 1, q * s.k, s.k});
  const std::string what = "cuDNN convolution " + shape_text(s) + " (" + dtype_name(io) + ")";
  auto check = [&](Status st) { return st.is_ok() ? st : st.with_context(what); };
  MI_RETURN_IF_ERROR(check(cuda_status(g.validate(), "validate", __FILE__, __LINE__)));
  MI_RETURN_IF_ERROR(check(
      cuda_status(g.build_operation_graph(handle), "build_operation_graph", __FILE__, __LINE__)));
  MI_RETURN_IF_ERROR(
      check(cuda_status(g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}),
                        "create_execution_plans", __FILE__, __LINE__)));
  if (io == DType::kFloat32 && !allow_tf32) {
    g.deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
  }
  MI_RETURN_IF_ERROR(
      check(cuda_status(g.check_support(handle), "check_support", __FILE__, __LINE__)));
  MI_RETURN_IF_ERROR(check(cuda_status(g.build_plans(handle), "build_plans", __FILE__, __LINE__)));
  MI_RETURN_IF_ERROR(check(cuda_status(g.get_workspace_size(impl->workspace), "get_workspace_size",
                                       __FILE__, __LINE__)));
  return std::unique_ptr<ConvFprop>(new ConvFprop(std::move(impl)));
}

int64_t ConvFprop::workspace_bytes() const {
  return impl_->workspace;
}

Status ConvFprop::run(cudnnHandle_t handle, const void* x, const void* w, void* y,
                      void* workspace) const {
  std::unordered_map<std::shared_ptr<fe::graph::Tensor_attributes>, void*> pack = {
      {impl_->x, const_cast<void*>(x)}, {impl_->w, const_cast<void*>(w)}, {impl_->y, y}};
  MI_CUDA_CHECK(impl_->graph.execute(handle, pack, workspace));
  return Status::ok();
}

}  // namespace medinfer::cuda
