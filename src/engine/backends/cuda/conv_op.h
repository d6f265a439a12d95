// Convolutions and transposed convolutions as cuDNN graphs (frontend API), channels-last,
// with their epilogue fused into the same graph where cuDNN has an engine for it:
//   Y = act(conv(X, W) + bias + residual)
// bias per output channel, residual of Y's shape (a ResNet shortcut; Node::fused_residual).
// A transposed convolution (ONNX ConvTranspose) is cuDNN's data-gradient convolution.
// Everything slow happens in build(): operation graph, heuristics, support check, and with
// `autotune` the timing of every candidate engine on scratch data (the fastest is kept and
// the candidates are reported). run() only executes. Internal to the CUDA backend.
#pragma once

#include <cudnn.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/cuda/epilogue.h"
#include "engine/backends/cuda/kernels/activation.h"
#include "medinfer/engine.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

struct ConvParams {
  bool transposed = false;  // ONNX ConvTranspose
  int spatial = 2;          // 1, 2 or 3
  int64_t n = 1;
  int64_t c = 1;  // input channels
  int64_t k = 1;  // output channels
  int64_t groups = 1;
  std::array<int64_t, 3> in{1, 1, 1};      // input extent per spatial axis
  std::array<int64_t, 3> out{1, 1, 1};     // output extent (ConvTranspose: with output_padding)
  std::array<int64_t, 3> kernel{1, 1, 1};  // kernel extent
  std::array<int64_t, 3> pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  std::array<int64_t, 3> stride{1, 1, 1}, dilation{1, 1, 1};
};

struct ConvEpilogue {
  bool bias = false;
  bool residual = false;  // Conv only
  Activation act;
};

// Weights as the op reads them, made on the host once at build from the ONNX tensor
// (float32): Conv W [k, c/groups, kernel...] becomes [k, kernel..., c/groups]; ConvTranspose
// W [c, k/groups, kernel...] becomes the layout its data-gradient graph reads (stated in
// conv_op.cc). Converted to `io` (float32, float16, bfloat16). The bias stays float32 [k].
Result<std::vector<uint8_t>> pack_conv_weights(const ConvParams& params, const float* onnx_w,
                                               DType io);

// 8-bit operands (an int8 or fp8 node, engine/ops/nn/quantize.h): run() quantizes x with
// x_scale into the front of the workspace; w is packed quantized per output channel
// (pack_conv_weights_quantized); the accumulator (int32 for int8, float32 for fp8) is
// multiplied per output channel by dequant[k] = 1 / (x_scale * w_scale[k]) before the
// epilogue. Forward convolutions only.
struct ConvQuant {
  QuantType type = QuantType::kNone;
  float x_scale = 1.0f;
};

struct QuantizedWeights {
  std::vector<uint8_t> bytes;  // packed as pack_conv_weights, one byte per element
  std::vector<float> dequant;  // [k]: 1 / (x_scale * w_scale[k])
};
Result<QuantizedWeights> pack_conv_weights_quantized(const ConvParams& params, const float* onnx_w,
                                                     const ConvQuant& quant);

class ConvOp {
 public:
  // `io`: element type of X, W, residual and Y (float32, float16, bfloat16); accumulation
  // in float32. `allow_tf32`: with float32 io, whether cuDNN may use TF32 tensor-core engines;
  // false keeps FP32 arithmetic. Errors: kNotSupported when cuDNN has no engine for the
  // graph, naming the shape; kOutOfMemory when scratch data for tuning does not fit.
  // `tuning` (may be null) receives the timed candidates when autotune is on. `replay`
  // (autotune on; may be null): the candidate to take untimed, as choice_label names it
  // ("<engine name>|"); kNotSupported when cuDNN does not offer it for this graph now.
  static Result<std::unique_ptr<ConvOp>> build(cudnnHandle_t handle, const ConvParams& params,
                                               const ConvEpilogue& epilogue, DType io,
                                               bool allow_tf32, bool autotune,
                                               std::vector<TunedCandidate>* tuning,
                                               const std::string* replay = nullptr,
                                               const ConvQuant& quant = {});
  ~ConvOp();
  int64_t workspace_bytes() const;
  // What runs, e.g. "cudnn conv+bias+relu (engine 7)" or, where cuDNN could not fuse the
  // epilogue, "cudnn dgrad + own bias+relu".
  const std::string& description() const;
  // x [n, in..., c], w packed, bias float32 [k] (or null), residual [n, out..., k] (or
  // null), y [n, out..., k]; device pointers; workspace of workspace_bytes(). Enqueued on
  // `stream` (the handle is set to it). 8-bit: x in io (quantized here), w quantized,
  // dequant float32 [k].
  Status run(cudnnHandle_t handle, cudaStream_t stream, const void* x, const void* w,
             const float* bias, const void* residual, void* y, void* workspace,
             const float* dequant = nullptr) const;

 private:
  struct Impl;
  explicit ConvOp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace medinfer::cuda
