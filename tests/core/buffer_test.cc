#include <gtest/gtest.h>

#include <vector>

#include "medinfer/buffer.h"
#include "medinfer/volume.h"

#ifdef MEDINFER_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace medinfer {
namespace {

TEST(Buffer, HostAllocateFillAndMove) {
  auto b = Buffer::allocate(1000 * sizeof(float), Storage::kHost);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 64, 0u);
  ASSERT_TRUE(b->fill_f32(2.5f).is_ok());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(b->as<float>()[i], 2.5f);
  Buffer moved = std::move(b.value());
  EXPECT_EQ(moved.size(), 1000 * sizeof(float));
  EXPECT_EQ(b->data(), nullptr);
  EXPECT_EQ(moved.as<float>()[999], 2.5f);
  auto empty = Buffer::allocate(0, Storage::kHost);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(empty->size(), 0u);
}

TEST(Buffer, HugeHostAllocationFailsCleanly) {
  auto b = Buffer::allocate(size_t{1} << 62, Storage::kHost);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), StatusCode::kOutOfMemory);
}

TEST(Volume, AffineMapsIndicesToPatientSpace) {
  Geometry g;
  g.dims = {4, 3, 2};
  g.spacing = {0.5, 0.75, 3.0};
  g.origin = {-10, 20, 30};
  g.direction = {0, 0, 1, 1, 0, 0, 0, 1, 0};  // axis0 -> y, axis1 -> z, axis2 -> x
  auto p = g.index_to_lps(2, 1, 1);
  EXPECT_DOUBLE_EQ(p[0], -10 + 3.0);
  EXPECT_DOUBLE_EQ(p[1], 20 + 1.0);
  EXPECT_DOUBLE_EQ(p[2], 30 + 0.75);
  auto ras = g.affine_ras();
  EXPECT_DOUBLE_EQ(ras[0 * 4 + 3], 10);   // -x
  EXPECT_DOUBLE_EQ(ras[1 * 4 + 3], -20);  // -y
  EXPECT_DOUBLE_EQ(ras[2 * 4 + 3], 30);
  auto v = Volume::allocate(g, DType::kInt16);
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(v->bytes(), 24u * 2);
  Geometry bad = g;
  bad.dims[1] = 0;
  EXPECT_FALSE(Volume::allocate(bad, DType::kFloat32).is_ok());
}

// Runs only where a GPU is visible (the GPU machine); CI has none and skips.
TEST(BufferCuda, DeviceFillKernelWritesEveryElement) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
#ifdef MEDINFER_WITH_CUDA
  const size_t n = (size_t{1} << 24) + 17;  // not a multiple of the block size
  auto dev = Buffer::allocate(n * sizeof(float), Storage::kDevice, 0);
  ASSERT_TRUE(dev.is_ok()) << dev.status().to_string();
  auto pinned = Buffer::allocate(n * sizeof(float), Storage::kPinned);
  ASSERT_TRUE(pinned.is_ok()) << pinned.status().to_string();
  ASSERT_TRUE(pinned->fill_f32(-1.0f).is_ok());  // poison
  ASSERT_EQ(cudaMemcpy(dev->data(), pinned->data(), n * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_TRUE(dev->fill_f32(3.25f).is_ok());
  ASSERT_EQ(cudaMemcpy(pinned->data(), dev->data(), n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(pinned->as<float>()[i], 3.25f) << "element " << i;
#endif
}

TEST(BufferCuda, DeviceAllocationTooLargeIsOutOfMemory) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  auto dev = Buffer::allocate(size_t{1} << 50, Storage::kDevice, 0);
  ASSERT_FALSE(dev.is_ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kOutOfMemory) << dev.status().to_string();
}

}  // namespace
}  // namespace medinfer
