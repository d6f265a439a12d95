#include "segment/components.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

namespace medinfer::segment {
namespace {

// Union-find over provisional component ids; the root of a set is its smallest id, which
// is also the id of the set's first voxel in memory order.
struct Sets {
  std::vector<int32_t> parent;
  int32_t make() {
    parent.push_back(static_cast<int32_t>(parent.size()));
    return parent.back();
  }
  int32_t find(int32_t a) {
    while (parent[a] != a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  }
  int32_t unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return a;
    if (b < a) std::swap(a, b);
    parent[b] = a;
    return a;
  }
};

template <typename T>
Result<int64_t> keep_largest(T* v, const std::array<int64_t, 3>& d, T label, int keep) {
  const int64_t nx = d[0], ny = d[1], nz = d[2], n = nx * ny * nz;
  if (n > INT32_MAX) return not_supported("volume too large for component labelling");
  std::vector<int32_t> ids(static_cast<size_t>(n), -1);
  Sets sets;
  for (int64_t z = 0; z < nz; ++z) {
    for (int64_t y = 0; y < ny; ++y) {
      for (int64_t x = 0; x < nx; ++x) {
        const int64_t i = x + nx * (y + ny * z);
        if (v[i] != label) continue;
        int32_t id = -1;
        const auto visit = [&](int64_t dx, int64_t dy, int64_t dz) {
          const int64_t xx = x + dx, yy = y + dy, zz = z + dz;
          if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < 0) return;
          const int32_t other = ids[xx + nx * (yy + ny * zz)];
          if (other >= 0) id = id < 0 ? sets.find(other) : sets.unite(id, other);
        };
        if (x > 0 && ids[i - 1] >= 0) {
          // The voxel before on this row is already joined with every earlier neighbour in
          // columns x - 1 and x; only column x + 1 is new.
          id = sets.find(ids[i - 1]);
          visit(1, -1, 0);
          for (int64_t dy = -1; dy <= 1; ++dy) visit(1, dy, -1);
        } else {
          // The 13 neighbours visited before this voxel: the previous plane's 9, the
          // previous row's 3 and the voxel before on this row.
          for (int64_t dy = -1; dy <= 1; ++dy) {
            for (int64_t dx = -1; dx <= 1; ++dx) visit(dx, dy, -1);
          }
          for (int64_t dx = -1; dx <= 1; ++dx) visit(dx, -1, 0);
          visit(-1, 0, 0);
        }
        ids[i] = id < 0 ? sets.make() : id;
      }
    }
  }
  std::vector<int64_t> size(sets.parent.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] >= 0) ++size[sets.find(ids[i])];
  }
  std::vector<int32_t> roots;
  for (size_t r = 0; r < size.size(); ++r) {
    if (size[r] > 0) roots.push_back(static_cast<int32_t>(r));
  }
  const auto found = static_cast<int64_t>(roots.size());
  if (found <= keep) return found;
  std::stable_sort(roots.begin(), roots.end(),
                   [&](int32_t a, int32_t b) { return size[a] > size[b]; });
  std::vector<uint8_t> kept(size.size(), 0);
  for (int k = 0; k < keep; ++k) kept[roots[k]] = 1;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] >= 0 && !kept[sets.find(ids[i])]) v[i] = 0;
  }
  return found;
}

}  // namespace

Result<int64_t> keep_largest_components(Volume& labels, int label, int keep) {
  if (keep < 1) {
    return invalid_argument("largest_components for label " + std::to_string(label) +
                            " must keep at least 1 component, not " + std::to_string(keep));
  }
  const auto& d = labels.geometry().dims;
  if (labels.dtype() == DType::kUInt8) {
    if (label < 1 || label > 255) return invalid_argument("label out of range for uint8");
    return keep_largest(labels.data<uint8_t>(), d, static_cast<uint8_t>(label), keep);
  }
  if (labels.dtype() == DType::kUInt16) {
    if (label < 1 || label > 65535) return invalid_argument("label out of range for uint16");
    return keep_largest(labels.data<uint16_t>(), d, static_cast<uint16_t>(label), keep);
  }
  return invalid_argument(std::string("label volume must be uint8 or uint16, not ") +
                          dtype_name(labels.dtype()));
}

}  // namespace medinfer::segment
