// Postprocessing: argmax / threshold rules, the largest-component rule against
// scipy.ndimage.label on a real CT mask, and nearest-neighbour resampling of labels back
// to a native grid through a reorientation + resampling whose answer is exact.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "medinfer/segment.h"
#include "segment/components.h"
#include "segment/segment_testing.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

Volume filled(const Geometry& g, const std::vector<float>& values) {
  auto v = Volume::allocate(g, DType::kFloat32);
  std::copy(values.begin(), values.end(), v->data<float>());
  return std::move(v).value();
}

TEST(Labels, ArgmaxTiesGoToTheLowestLabel) {
  Geometry g;
  g.dims = {4, 1, 1};
  std::vector<Volume> p;
  p.push_back(filled(g, {0.2f, 0.4f, 0.3f, 0.5f}));
  p.push_back(filled(g, {0.4f, 0.4f, 0.3f, 0.1f}));
  p.push_back(filled(g, {0.4f, 0.2f, 0.4f, 0.4f}));
  SegmentationSpec spec;
  spec.channels = 3;
  auto map = labels_from_probabilities(p, spec);
  ASSERT_TRUE(map.is_ok()) << map.status().to_string();
  ASSERT_EQ(map->labels.dtype(), DType::kUInt8);
  const uint8_t* l = map->labels.data<uint8_t>();
  EXPECT_EQ(std::vector<int>(l, l + 4), (std::vector<int>{1, 0, 2, 0}));
}

TEST(Labels, SigmoidThresholdIsInclusiveAndPicksTheMostProbable) {
  Geometry g;
  g.dims = {5, 1, 1};
  std::vector<Volume> p;
  p.push_back(filled(g, {0.5f, 0.49f, 0.9f, 0.7f, 0.1f}));
  p.push_back(filled(g, {0.1f, 0.2f, 0.95f, 0.7f, 0.6f}));
  SegmentationSpec spec;
  spec.activation = Activation::kSigmoid;
  spec.channels = 2;
  auto map = labels_from_probabilities(p, spec);
  ASSERT_TRUE(map.is_ok()) << map.status().to_string();
  const uint8_t* l = map->labels.data<uint8_t>();
  // p >= 0.5 counts (MONAI AsDiscrete threshold); overlaps go to the most probable label,
  // equal probabilities to the lower one.
  EXPECT_EQ(std::vector<int>(l, l + 5), (std::vector<int>{1, 0, 2, 1, 2}));
}

// A real mask: air (HU < -500: lungs, airways, outside air) as label 1 and bone
// (HU > 300) as label 2 on the 4D-Lung CT; keep the 2 largest air and 3 largest bone
// components; scipy.ndimage.label with a 3x3x3 structure and MONAI's
// KeepLargestConnectedComponent (default connectivity) are the references.
TEST(Components, KeepLargestMatchesScipyAndMonaiOnRealCtMask) {
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  const Geometry& g = (*ct)->geometry();
  auto labels = Volume::allocate(g, DType::kUInt8);
  ASSERT_TRUE(labels.is_ok());
  const float* hu = (*ct)->data<float>();
  uint8_t* l = labels->data<uint8_t>();
  for (int64_t i = 0; i < g.voxel_count(); ++i) l[i] = hu[i] < -500 ? 1 : hu[i] > 300 ? 2 : 0;
  const std::string dir = temp_dir("segment/components");
  ASSERT_TRUE(write_volume_npy(*labels, dir + "/labels.npy").is_ok());
  std::string log;
  const int rc = run_reference("components --input " + dir + "/labels.npy --rules 1:2,2:3 --out " +
                                   dir + "/ref.npy" + " --out-monai " + dir + "/monai.npy",
                               &log);
  MI_SKIP_IF_MODULE_MISSING(rc, log);
  ASSERT_EQ(rc, 0) << log;
  const auto t0 = std::chrono::steady_clock::now();
  auto found1 = segment::keep_largest_components(*labels, 1, 2);
  auto found2 = segment::keep_largest_components(*labels, 2, 3);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(found1.is_ok() && found2.is_ok());
  // scipy prints "1:<components> 2:<components>".
  EXPECT_NE(log.find("1:" + std::to_string(*found1) + " 2:" + std::to_string(*found2)),
            std::string::npos)
      << "medinfer found " << *found1 << " and " << *found2 << " components; scipy: " << log;
  EXPECT_GT(*found1, 2) << "the rule must have something to remove";
  EXPECT_GT(*found2, 3);
  auto ref = read_npy(dir + "/ref.npy");
  auto monai = read_npy(dir + "/monai.npy");
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  ASSERT_TRUE(monai.is_ok()) << monai.status().to_string();
  ASSERT_EQ(ref->size(), g.voxel_count());
  ASSERT_EQ(monai->size(), g.voxel_count());
  int64_t differ = 0, differ_monai = 0, kept = 0;
  for (int64_t i = 0; i < g.voxel_count(); ++i) {
    differ += l[i] != static_cast<uint8_t>(ref->at(i));
    differ_monai += l[i] != static_cast<uint8_t>(monai->at(i));
    kept += l[i] != 0;
  }
  std::printf(
      "components (%.0f ms): %lld air, %lld bone; %lld voxels kept, %lld differ from scipy, %lld "
      "from MONAI\n",
      ms, static_cast<long long>(*found1), static_cast<long long>(*found2),
      static_cast<long long>(kept), static_cast<long long>(differ),
      static_cast<long long>(differ_monai));
  EXPECT_EQ(differ_monai, 0);
  EXPECT_EQ(differ, 0);
}

TEST(Components, DiagonalNeighboursAreConnected) {
  Geometry g;
  g.dims = {5, 3, 3};
  auto v = Volume::allocate(g, DType::kUInt8);
  std::fill_n(v->data<uint8_t>(), 45, 0);
  // A diagonal through corners only: one component under 26-connectivity (three under
  // 6-connectivity); plus a lone voxel at (4, 0, 0), two steps away.
  for (int i = 0; i < 3; ++i) v->data<uint8_t>()[i + 5 * (i + 3 * i)] = 1;
  v->data<uint8_t>()[4] = 1;
  auto found = segment::keep_largest_components(*v, 1, 1);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(*found, 2);
  EXPECT_EQ(v->data<uint8_t>()[4], 0) << "the lone voxel is the smaller component";
  EXPECT_EQ(v->data<uint8_t>()[2 + 5 * (2 + 3 * 2)], 1);
}

// Native grid: an oblique stack. Model grid: its axes permuted (model 0 = native 1,
// model 1 = native 0), model axes 1 and 2 reversed, and model axis 0 three times coarser
// and axis 2 three times coarser, the first model voxel centred on a native voxel centre.
// Native index n along a 3x coarser axis falls in model voxel floor(n / 3 + 1/2) =
// (2n + 3) / 6, never on a cell border, so the resampled labels are known exactly.
TEST(ResampleLabels, ReorientedAndResampledRoundTripIsExact) {
  Geometry native;
  native.dims = {23, 17, 14};
  native.spacing = {0.7, 0.8, 2.5};
  native.origin = {-120.5, 33.25, 400};
  const double c = std::cos(0.3), s = std::sin(0.3);  // rotated about the z axis
  native.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  const std::array<int, 3> perm = {1, 0, 2};
  const std::array<bool, 3> flip = {false, true, true};
  const std::array<int64_t, 3> factor = {3, 1, 3};
  Geometry model;
  std::array<double, 3> first{0, 0, 0};  // native index of model voxel (0, 0, 0)
  for (int a = 0; a < 3; ++a) {
    const int n = perm[a];
    model.dims[a] = native.dims[n] / factor[a];  // the last native voxels fall outside
    model.spacing[a] = native.spacing[n] * static_cast<double>(factor[a]);
    for (int r = 0; r < 3; ++r) {
      model.direction[r * 3 + a] = native.direction[r * 3 + n] * (flip[a] ? -1 : 1);
    }
    first[n] = flip[a] ? static_cast<double>(native.dims[n] - 1) : 0;
  }
  model.origin = native.index_to_lps(first[0], first[1], first[2]);
  auto labels = Volume::allocate(model, DType::kUInt16);
  ASSERT_TRUE(labels.is_ok());
  auto value = [&](int64_t m0, int64_t m1, int64_t m2) {
    return static_cast<uint16_t>(1 + m0 + 10 * m1 + 300 * m2);
  };
  for (int64_t k = 0; k < model.dims[2]; ++k) {
    for (int64_t j = 0; j < model.dims[1]; ++j) {
      for (int64_t i = 0; i < model.dims[0]; ++i) {
        labels->data<uint16_t>()[i + model.dims[0] * (j + model.dims[1] * k)] = value(i, j, k);
      }
    }
  }
  auto out = resample_labels_nearest(*labels, native);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  ASSERT_EQ(out->geometry().dims, native.dims);
  int64_t wrong = 0, outside = 0;
  for (int64_t z = 0; z < native.dims[2]; ++z) {
    for (int64_t y = 0; y < native.dims[1]; ++y) {
      for (int64_t x = 0; x < native.dims[0]; ++x) {
        const int64_t n[3] = {x, y, z};
        int64_t m[3];
        bool inside = true;
        for (int a = 0; a < 3; ++a) {
          const int64_t along = flip[a] ? native.dims[perm[a]] - 1 - n[perm[a]] : n[perm[a]];
          m[a] = factor[a] == 3 ? (2 * along + 3) / 6 : along;
          inside = inside && m[a] < model.dims[a];
        }
        const uint16_t want = inside ? value(m[0], m[1], m[2]) : 0;
        outside += !inside;
        wrong += out->data<uint16_t>()[x + native.dims[0] * (y + native.dims[1] * z)] != want;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(outside, 0) << "the coarse grid's last cells end before the native grid does";
}

TEST(ResampleLabels, RejectsNonLabelVolumesAndEmptyGrids) {
  Geometry g;
  g.dims = {2, 2, 2};
  auto f = Volume::allocate(g, DType::kFloat32);
  auto r = resample_labels_nearest(*f, g);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("uint8 or uint16"), std::string::npos);
  auto u = Volume::allocate(g, DType::kUInt8);
  Geometry empty = g;
  empty.dims[1] = 0;
  r = resample_labels_nearest(*u, empty);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("axis 1"), std::string::npos) << r.status().message();
}

TEST(Labels, MismatchedProbabilityVolumesAreRejected) {
  Geometry g;
  g.dims = {4, 1, 1};
  Geometry other = g;
  other.dims = {3, 1, 1};
  std::vector<Volume> p;
  p.push_back(filled(g, {0.2f, 0.4f, 0.3f, 0.5f}));
  p.push_back(filled(other, {0.4f, 0.4f, 0.3f}));
  SegmentationSpec spec;
  spec.channels = 2;
  auto map = labels_from_probabilities(p, spec);
  ASSERT_FALSE(map.is_ok());
  EXPECT_NE(map.status().message().find("probability volume 1"), std::string::npos)
      << map.status().message();
  spec.channels = 3;  // two volumes for three channels
  map = labels_from_probabilities(p, spec);
  ASSERT_FALSE(map.is_ok());
  EXPECT_NE(map.status().message().find("3 output channels"), std::string::npos);
}

TEST(Components, ZeroComponentsToKeepIsAnError) {
  Geometry g;
  g.dims = {2, 2, 2};
  auto v = Volume::allocate(g, DType::kUInt8);
  std::fill_n(v->data<uint8_t>(), 8, 1);
  auto found = segment::keep_largest_components(*v, 1, 0);
  ASSERT_FALSE(found.is_ok());
  EXPECT_NE(found.status().message().find("label 1"), std::string::npos);
}

TEST(ResampleLabels, SingularSourceGeometryIsAnError) {
  Geometry g;
  g.dims = {2, 2, 2};
  g.direction = {1, 0, 0, 0, 1, 0, 0, 1, 0};  // axes 1 and 2 parallel
  auto v = Volume::allocate(g, DType::kUInt8);
  Geometry target;
  target.dims = {2, 2, 2};
  auto r = resample_labels_nearest(*v, target);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("singular"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::testing
