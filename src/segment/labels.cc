// labels_from_probabilities (include/medinfer/segment.h): argmax or threshold, then the
// largest-component rules.
#include <algorithm>
#include <string>

#include "core/thread_pool.h"
#include "medinfer/segment.h"
#include "segment/components.h"

namespace medinfer {
namespace {

template <typename T>
void discretize(const std::vector<const float*>& p, int64_t n, Activation activation, T* out) {
  const int count = static_cast<int>(p.size());
  ThreadPool pool;
  const int64_t chunk = 1 << 16;
  pool.parallel_for((n + chunk - 1) / chunk, [&](int64_t b) {
    const int64_t end = std::min(n, (b + 1) * chunk);
    for (int64_t i = b * chunk; i < end; ++i) {
      int best = 0;
      if (activation == Activation::kSoftmax) {
        // Strictly greater: ties go to the lowest label (numpy/torch argmax).
        for (int c = 1; c < count; ++c) {
          if (p[c][i] > p[best][i]) best = c;
        }
      } else {
        float best_p = 0;
        for (int c = 0; c < count; ++c) {
          if (p[c][i] >= 0.5f && (best == 0 || p[c][i] > best_p)) {
            best = c + 1;
            best_p = p[c][i];
          }
        }
      }
      out[i] = static_cast<T>(best);
    }
  });
}

}  // namespace

Result<LabelMap> labels_from_probabilities(const std::vector<Volume>& probabilities,
                                           const SegmentationSpec& spec) {
  MI_RETURN_IF_ERROR(validate_spec(spec));
  if (static_cast<int>(probabilities.size()) != spec.channels) {
    return invalid_argument("got " + std::to_string(probabilities.size()) +
                            " probability volumes for a spec with " +
                            std::to_string(spec.channels) + " output channels");
  }
  const Geometry& g = probabilities[0].geometry();
  std::vector<const float*> p;
  for (size_t c = 0; c < probabilities.size(); ++c) {
    const Volume& v = probabilities[c];
    if (v.dtype() != DType::kFloat32 || v.geometry().dims != g.dims ||
        !v.buffer().host_accessible()) {
      return invalid_argument("probability volume " + std::to_string(c) +
                              " must be float32 in host memory with the same dims as volume 0");
    }
    p.push_back(v.data<float>());
  }
  const int max_label = spec.activation == Activation::kSoftmax ? spec.channels - 1 : spec.channels;
  LabelMap map;
  map.segments = spec.labels;
  const DType dt = max_label <= 255 ? DType::kUInt8 : DType::kUInt16;
  MI_ASSIGN_OR_RETURN(map.labels, Volume::allocate(g, dt));
  if (dt == DType::kUInt8) {
    discretize(p, g.voxel_count(), spec.activation, map.labels.data<uint8_t>());
  } else {
    discretize(p, g.voxel_count(), spec.activation, map.labels.data<uint16_t>());
  }
  for (const auto& [label, keep] : spec.largest_components) {
    auto found = segment::keep_largest_components(map.labels, label, keep);
    if (!found.is_ok()) return found.status();
  }
  return map;
}

}  // namespace medinfer
