// engine/device.h: parsing "cpu" / "cuda:N", the precisions each device has, its backend.
#include "engine/device.h"

namespace medinfer::engine {

Result<DeviceChoice> parse_device(const std::string& device) {
  if (device == "cpu" || device == "reference") return DeviceChoice{device, 0};
  if (device == "cuda") return DeviceChoice{"cuda", 0};
  if (device.rfind("cuda:", 0) == 0) {
    const std::string n = device.substr(5);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos) {
      return invalid_argument("device '" + device + "': expected cuda:N with N a GPU number");
    }
    return DeviceChoice{"cuda", std::stoi(n)};
  }
  return invalid_argument("unknown device '" + device +
                          "' (expected cpu, cuda, cuda:N or reference)");
}

// The precisions each device computes in: int8 on the host devices (convolutions; oneDNN
// on the CPU), int8 and fp8 on CUDA (convolutions; cuDNN), fp8 on the reference device too
// (its emulation is the oracle of the CUDA kernels).
Status check_precision(const DeviceChoice& device, const std::string& where, Precision p) {
  const bool cuda = device.backend == "cuda";
  if (p == Precision::kFP32) return Status::ok();
  if (cuda && p != Precision::kFP32) return Status::ok();  // tf32 fp16 bf16 int8 fp8
  if (p == Precision::kINT8) return Status::ok();
  if (p == Precision::kFP8 && device.backend == "reference") return Status::ok();
  return not_supported(where + "precision '" + precision_name(p) +
                       "' is not supported on device '" + device.backend + "' (" +
                       (device.backend == "reference" ? "fp32, int8 or fp8" : "fp32 or int8") +
                       "; tf32, fp16, bf16 and fp8 on cuda)");
}

Precision quantized_base_precision(const DeviceChoice& device) {
  return device.backend == "cuda" ? Precision::kFP16 : Precision::kFP32;
}

Result<std::unique_ptr<engine::Backend>> backend_for(const DeviceChoice& device) {
  if (device.backend == "cuda") {
#if MEDINFER_WITH_CUDNN
    return engine::make_backend("cuda");
#else
    return not_supported(
        "device 'cuda': this build has no CUDA backend (built without the CUDA toolkit or "
        "cuDNN; README, 'GPU build')");
#endif
  }
  return engine::make_backend(device.backend);
}

}  // namespace medinfer::engine
