// The small-channel tensor-core convolution (kernels/small_conv.h) against a direct
// convolution in double on the host over the same rounded inputs and weights: one and two
// inputs (a folded Concat), one input channel, 1x1 heads, odd output channels, image sizes
// that are no multiple of the tiles, more tiles than resident blocks, both tiles, float16
// and bfloat16. The weight layout
// and the coverage rules run without a GPU.
#include <gtest/gtest.h>

#include <cstring>

#include <cstdlib>

#include "cuda/kernels_test_util.h"
#include "engine/backends/cuda/kernels/small_conv.h"
#include "engine/backends/cuda/small_conv_step.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::cuda {
namespace {

using namespace testing;

struct Case {
  SmallConvShape s;
  bool bias;
  ActKind act;
};

// y[n, y, x, k] in double from channels-last x0, x1 and ONNX weights [k, c, r, r].
std::vector<double> reference(const SmallConvShape& s, const std::vector<float>& x0,
                              const std::vector<float>& x1, const std::vector<float>& w,
                              const std::vector<float>& bias, ActKind act) {
  const int c = s.c0 + s.c1, pad = s.r / 2;
  std::vector<double> y(static_cast<size_t>(s.n * s.h * s.w * s.k));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.h; ++oy)
      for (int64_t ox = 0; ox < s.w; ++ox)
        for (int k = 0; k < s.k; ++k) {
          double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(k)];
          for (int r = 0; r < s.r; ++r)
            for (int q = 0; q < s.r; ++q) {
              const int64_t iy = oy + r - pad, ix = ox + q - pad;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const int64_t pix = (n * s.h + iy) * s.w + ix;
              for (int ci = 0; ci < c; ++ci) {
                const float v = ci < s.c0 ? x0[static_cast<size_t>(pix * s.c0 + ci)]
                                          : x1[static_cast<size_t>(pix * s.c1 + ci - s.c0)];
                acc += static_cast<double>(v) *
                       w[static_cast<size_t>(((k * c + ci) * s.r + r) * s.r + q)];
              }
            }
          if (act == ActKind::kRelu) acc = std::max(acc, 0.0);
          y[static_cast<size_t>(((n * s.h + oy) * s.w + ox) * s.k + k)] = acc;
        }
  return y;
}

TEST(CudaSmallConv, MatchesDirectConvolution) {
  MI_SKIP_WITHOUT_GPU();
  const Case cases[] = {
      {{2, 37, 45, 16, 0, 16, 3}, true, ActKind::kRelu},
      {{1, 20, 70, 32, 0, 32, 3}, true, ActKind::kNone},
      {{2, 19, 33, 16, 16, 16, 3}, true, ActKind::kRelu},   // folded Concat 16 + 16
      {{1, 17, 40, 32, 32, 32, 3}, false, ActKind::kRelu},  // folded Concat 32 + 32
      {{1, 9, 50, 64, 0, 24, 3}, true, ActKind::kRelu},     // 24 outputs in 4 tiles of 8
      {{1, 8, 16, 8, 8, 5, 3}, true, ActKind::kNone},       // 8 + 8, odd outputs
      {{2, 23, 41, 1, 0, 16, 3}, true, ActKind::kRelu},     // one input channel
      {{1, 30, 33, 1, 0, 32, 3}, false, ActKind::kRelu},
      {{1, 11, 7, 1, 0, 3, 3}, true, ActKind::kNone},    // narrower than a tile
      {{1, 21, 35, 16, 0, 2, 1}, true, ActKind::kNone},  // 1x1 heads
      {{1, 13, 29, 32, 0, 3, 1}, true, ActKind::kNone},
      {{2, 5, 18, 48, 16, 8, 1}, false, ActKind::kRelu},
      // More tiles than resident blocks: each block walks several (both input buffers).
      {{6, 256, 256, 16, 0, 16, 3}, true, ActKind::kRelu},
      {{4, 128, 250, 1, 0, 32, 3}, true, ActKind::kRelu},
      {{3, 128, 128, 32, 32, 32, 3}, true, ActKind::kRelu},  // one input buffer
  };
  for (const Case& c : cases) {
    const SmallConvShape& s = c.s;
    ASSERT_TRUE(small_conv_fits(s)) << "case " << s.c0 << "+" << s.c1 << "->" << s.k;
    const int cin = s.c0 + s.c1;
    const size_t pixels = static_cast<size_t>(s.n * s.h * s.w);
    const std::vector<float> w =
        random_floats(static_cast<size_t>(s.k * cin * s.r * s.r), 11, -0.3f, 0.3f);
    const std::vector<float> bias =
        c.bias ? random_floats(static_cast<size_t>(s.k), 12, -0.5f, 0.5f) : std::vector<float>{};
    for (DType io : {DType::kFloat16, DType::kBFloat16}) {
      const std::vector<float> x0 =
          round_all(io, random_floats(pixels * static_cast<size_t>(s.c0), 13));
      const std::vector<float> x1 =
          round_all(io, random_floats(pixels * static_cast<size_t>(s.c1), 14));
      const std::vector<double> want = reference(s, x0, x1, round_all(io, w), bias, c.act);
      auto packed = pack_small_conv_weights(s, w.data(), io);
      ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
      DeviceBuffer dw(packed->size());
      ASSERT_EQ(cudaMemcpy(dw.get(), packed->data(), packed->size(), cudaMemcpyHostToDevice),
                cudaSuccess);
      DeviceBuffer dbias(std::max<size_t>(bias.size(), 1) * 4);
      if (!bias.empty()) {
        ASSERT_EQ(cudaMemcpy(dbias.get(), bias.data(), bias.size() * 4, cudaMemcpyHostToDevice),
                  cudaSuccess);
      }
      DeviceBuffer d0 = upload(x0, io);
      DeviceBuffer d1 = upload(x1, io);
      for (int tile : kSmallConvTiles) {
        if (!small_conv_fits(s, tile)) continue;
        DeviceBuffer dy(pixels * static_cast<size_t>(s.k) * 2);
        ASSERT_EQ(cudaMemset(dy.get(), 0xff, dy.bytes()), cudaSuccess);  // NaN if not written
        ASSERT_TRUE(small_conv_prepare(s, io, tile).is_ok());
        Activation act;
        act.kind = c.act;
        Status st = small_conv(s, io, tile, d0.get(), s.c1 > 0 ? d1.get() : nullptr, dw.get(),
                               bias.empty() ? nullptr : dbias.as<float>(), act, dy.get(), nullptr);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        // Products of rounded values summed in float32, one rounding of the output.
        EXPECT_TRUE(all_close(download(dy, want.size(), io), want, type_rtol(io),
                              io == DType::kFloat16 ? 2e-3 : 1.6e-2))
            << dtype_name(io) << " tile " << tile << " [" << s.n << ", " << s.h << ", " << s.w
            << ", " << s.c0 << " + " << s.c1 << "] -> " << s.k << " r " << s.r;
      }
    }
  }
}

// concat(a [1, 16, 32, 32], b [1, cb, 32, 32]) along `axis` -> Conv 3x3 pad 1 to 16 channels.
struct FoldGraph {
  engine::Graph g;
  int concat = 0, conv = 1;
};
FoldGraph fold_graph(int64_t cb, int64_t axis, int64_t stride) {
  FoldGraph f;
  engine::Graph& g = f.g;
  g.opset = 17;
  auto value = [&](const std::string& name, engine::Shape shape, bool constant) {
    engine::Value v;
    v.name = name;
    v.shape = shape;
    v.shape_known = !shape.empty();
    if (constant) v.constant = engine::Tensor::allocate(DType::kFloat32, shape).value();
    return g.add_value(std::move(v));
  };
  const int a = value("a", {1, 16, 32, 32}, false);
  const int b = value("b", {1, cb, 32, 32}, false);
  g.inputs = {a, b};
  const int cat = value("cat", {}, false);
  const int w = value("w", {16, 16 + cb, 3, 3}, true);
  const int bias = value("bias", {16}, true);
  const int y = value("y", {}, false);
  engine::Node c;
  c.name = "cat";
  c.op_type = "Concat";
  c.inputs = {a, b};
  c.outputs = {cat};
  c.attrs.set("axis", axis);
  engine::Node k;
  k.name = "conv";
  k.op_type = "Conv";
  k.index = 1;
  k.inputs = {cat, w, bias};
  k.outputs = {y};
  k.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  k.attrs.set("strides", std::vector<int64_t>{stride, stride});
  g.nodes = {c, k};
  g.outputs = {y};
  g.rebuild_producers();
  EXPECT_TRUE(engine::infer_shapes(g).is_ok());
  return f;
}

// The CUDA plan folds a Concat into its Conv only where the kernels cover it: FP16 or BF16,
// channel axis, stride 1, channel counts the kernels take; never with the kernels off.
TEST(CudaSmallConv, FoldsAConcatOnlyWhereTheKernelsCoverIt) {
  using engine::Precision;
  auto folds = [](const FoldGraph& f, Precision p) {
    return conv_folds_concat(f.g, f.g.nodes[0], f.g.nodes[1], p);
  };
  const FoldGraph ok = fold_graph(16, 1, 1);
  EXPECT_TRUE(folds(ok, Precision::kFP16));
  EXPECT_TRUE(folds(ok, Precision::kBF16));
  EXPECT_FALSE(folds(ok, Precision::kFP32));
  EXPECT_FALSE(folds(ok, Precision::kTF32));
  EXPECT_FALSE(folds(fold_graph(16, 1, 2), Precision::kFP16));   // strided
  EXPECT_FALSE(folds(fold_graph(8, 1, 1), Precision::kFP16));    // 24 channels
  EXPECT_FALSE(folds(fold_graph(112, 1, 1), Precision::kFP16));  // 128 channels
  ASSERT_EQ(setenv("MEDINFER_CUDA_SMALL_CONV", "0", 1), 0);
  EXPECT_FALSE(folds(ok, Precision::kFP16));
  unsetenv("MEDINFER_CUDA_SMALL_CONV");
  // Not the channel axis (the Conv then reads another shape: the rule looks at the axis).
  FoldGraph h = fold_graph(16, 1, 1);
  h.g.nodes[0].attrs.set("axis", int64_t{2});
  EXPECT_FALSE(folds(h, Precision::kFP16));
}

TEST(CudaSmallConv, CoverageRules) {
  EXPECT_TRUE(small_conv_fits({1, 64, 64, 16, 0, 16, 3}));
  EXPECT_TRUE(small_conv_fits({1, 64, 64, 1, 0, 32, 3}));
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 1, 0, 32, 1}));    // 1x1 of one channel
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 24, 0, 16, 3}));   // 24 channels
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 12, 4, 16, 3}));   // not multiples of 8
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 64, 64, 16, 3}));  // 128 channels
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 16, 0, 33, 3}));   // 33 outputs
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 16, 0, 16, 5}));   // 5x5
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 16, 0, 16, 3}, 3));
  // Tile 4 where its shared memory fits: not for 64 channels into 32 at 3x3.
  EXPECT_TRUE(small_conv_fits({1, 64, 64, 32, 0, 32, 3}, 4));
  EXPECT_FALSE(small_conv_fits({1, 64, 64, 32, 32, 32, 3}, 4));
}

TEST(CudaSmallConv, WeightLayout) {
  // [R * R][kp][c]: W[k, c, r, s] at ((r * 3 + s) * 8 + k) * c + ci, kp = 8 for 5 outputs.
  const SmallConvShape s{1, 8, 8, 8, 8, 5, 3};
  std::vector<float> w(5 * 16 * 9);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 1000);
  auto packed = pack_small_conv_weights(s, w.data(), DType::kFloat16);
  ASSERT_TRUE(packed.is_ok());
  ASSERT_EQ(packed->size(), 9u * 8 * 16 * 2);
  auto at = [&](size_t i) {
    uint16_t h;
    std::memcpy(&h, packed->data() + 2 * i, 2);
    return engine::half_to_float(h);
  };
  for (int k = 0; k < 8; ++k)
    for (int ci = 0; ci < 16; ++ci)
      for (int tap = 0; tap < 9; ++tap) {
        const float want = k < 5 ? w[static_cast<size_t>((k * 16 + ci) * 9 + tap)] : 0.0f;
        ASSERT_EQ(at(static_cast<size_t>((tap * 8 + k) * 16 + ci)), want)
            << k << " " << ci << " " << tap;
      }
  // One input channel: [kp][16], the 9 taps then zeros.
  const SmallConvShape one{1, 8, 8, 1, 0, 3, 3};
  std::vector<float> w1(3 * 9);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = static_cast<float>(i + 1);
  packed = pack_small_conv_weights(one, w1.data(), DType::kBFloat16);
  ASSERT_TRUE(packed.is_ok());
  ASSERT_EQ(packed->size(), 8u * 16 * 2);
  for (int k = 0; k < 8; ++k)
    for (int tap = 0; tap < 16; ++tap) {
      uint16_t h;
      std::memcpy(&h, packed->data() + 2 * (k * 16 + tap), 2);
      const float want = k < 3 && tap < 9 ? w1[static_cast<size_t>(k * 9 + tap)] : 0.0f;
      ASSERT_EQ(engine::bfloat16_to_float(h), want) << k << " " << tap;
    }
  EXPECT_FALSE(pack_small_conv_weights(s, w.data(), DType::kFloat32).is_ok());
}

}  // namespace
}  // namespace medinfer::cuda
