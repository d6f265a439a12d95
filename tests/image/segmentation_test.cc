// LabelMap <-> SegmentMasks conversions.
#include "medinfer/segmentation.h"

#include <gtest/gtest.h>

#include <cstring>

namespace medinfer {
namespace {

Geometry grid() {
  Geometry g;
  g.dims = {4, 3, 2};
  g.spacing = {0.5, 0.5, 2.0};
  g.origin = {-10, 20, 30};
  return g;
}

LabelMap sample_map() {
  LabelMap map;
  map.labels = Volume::allocate(grid(), DType::kUInt8).value();
  uint8_t* p = map.labels.data<uint8_t>();
  for (int64_t v = 0; v < 24; ++v) p[v] = static_cast<uint8_t>(v % 3 == 0 ? 0 : v % 3 == 1 ? 1 : 7);
  map.segments = {{.label = 1, .name = "left lung"}, {.label = 7, .name = "right lung"}};
  return map;
}

TEST(Segmentation, LabelMapToMasksAndBack) {
  const LabelMap map = sample_map();
  const SegmentMasks masks = to_segment_masks(map).value();
  ASSERT_EQ(masks.masks.size(), 2u);
  EXPECT_EQ(masks.grid.origin, grid().origin);
  int64_t ones = 0;
  for (int64_t v = 0; v < 24; ++v) {
    const uint8_t l = map.labels.data<uint8_t>()[v];
    EXPECT_EQ(masks.masks[0].data<uint8_t>()[v], l == 1 ? 1 : 0) << v;
    EXPECT_EQ(masks.masks[1].data<uint8_t>()[v], l == 7 ? 1 : 0) << v;
    ones += masks.masks[0].data<uint8_t>()[v];
  }
  EXPECT_EQ(ones, 8);
  const LabelMap back = to_label_map(masks).value();
  ASSERT_EQ(back.labels.dtype(), DType::kUInt8);
  EXPECT_EQ(std::memcmp(back.labels.data<uint8_t>(), map.labels.data<uint8_t>(), 24), 0);
  EXPECT_EQ(back.segments, map.segments);
}

TEST(Segmentation, OverlapCannotBecomeALabelMap) {
  SegmentMasks masks = to_segment_masks(sample_map()).value();
  masks.masks[1].data<uint8_t>()[1] = 1;  // voxel 1 is label 1 already
  const auto r = to_label_map(masks);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'left lung' and 'right lung' overlap"), std::string::npos)
      << r.status().message();
}

TEST(Segmentation, FractionalMasksThresholdAtHalf) {
  SegmentMasks masks;
  masks.grid = grid();
  masks.fractional = true;
  masks.segments = {{.label = 300, .name = "tumour"}};
  masks.masks.push_back(Volume::allocate(grid(), DType::kUInt8).value());
  for (int64_t v = 0; v < 24; ++v) masks.masks[0].data<uint8_t>()[v] = static_cast<uint8_t>(v * 11);
  const LabelMap map = to_label_map(masks).value();
  ASSERT_EQ(map.labels.dtype(), DType::kUInt16);  // label 300 does not fit uint8
  for (int64_t v = 0; v < 24; ++v) {
    EXPECT_EQ(map.labels.data<uint16_t>()[v], v * 11 >= 128 ? 300 : 0) << v;
  }
}

TEST(Segmentation, BadLabelsAreErrors) {
  LabelMap map = sample_map();
  map.segments.push_back({.label = 1, .name = "again"});
  EXPECT_FALSE(to_segment_masks(map).is_ok());
  map.segments.back().label = 0;
  EXPECT_FALSE(to_segment_masks(map).is_ok());
  map.segments.pop_back();
  map.labels = Volume::allocate(grid(), DType::kFloat32).value();
  EXPECT_FALSE(to_segment_masks(map).is_ok());
}

}  // namespace
}  // namespace medinfer
