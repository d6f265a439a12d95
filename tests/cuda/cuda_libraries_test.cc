// The CUDA engine's library setup: versions, and the no-GPU error. On machines without a
// GPU (CI) only the error path runs. Convolutions: conv_op_test.cc; matrix products:
// matmul_op_test.cc.
#include "engine/backends/cuda/cuda_libraries.h"

#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "gpu_data.h"

namespace medinfer::cuda {
namespace {

using testing::have_gpu;

TEST(CudaLibraries, VersionsOrAClearErrorWithoutAGpu) {
  auto v = cuda_versions(0);
  if (!have_gpu()) {
    ASSERT_FALSE(v.is_ok());
    EXPECT_EQ(v.status().code(), StatusCode::kNotSupported);
    const std::string m = v.status().message();
    EXPECT_TRUE(m.find("no CUDA driver") != std::string::npos ||
                m.find("no GPU visible") != std::string::npos)
        << m;
    return;
  }
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  std::cout << "GPU: " << describe(*v) << "\n";
  EXPECT_GE(v->sm, 80);
  EXPECT_GE(v->cudnn, 90000u);
  EXPECT_EQ(v->cudnn / 10000, v->cudnn_compiled / 10000) << "cuDNN major version differs";
  EXPECT_FALSE(cuda_versions(1000).is_ok());
}

}  // namespace
}  // namespace medinfer::cuda
