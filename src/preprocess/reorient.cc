// reorient: MONAI Orientation(axcodes) / nibabel ornt_transform. Axis codes name the
// patient direction an increasing index points to (RAS letters: L/R, P/A, I/S); in LPS
// coordinates +x is L, +y is P and +z is S. Each volume axis gets the patient axis its
// direction is closest to, largest component first (nibabel io_orientation's greedy
// choice), so oblique stacks reorient as nibabel would.
#include <cmath>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"
#include "preprocess/remap.h"

namespace medinfer::prep {
namespace {

// Patient axis (0 = L/R, 1 = P/A, 2 = S/I) and sign (+1 toward L, P, S) of each volume axis.
void assign_axes(const Geometry& g, std::array<int, 3>& patient, std::array<int, 3>& sign) {
  bool row_used[3] = {false, false, false}, col_used[3] = {false, false, false};
  for (int round = 0; round < 3; ++round) {
    int br = 0, bc = 0;
    double best = -1;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        if (!row_used[r] && !col_used[c] && std::fabs(g.direction[r * 3 + c]) > best) {
          best = std::fabs(g.direction[r * 3 + c]);
          br = r;
          bc = c;
        }
    row_used[br] = col_used[bc] = true;
    patient[bc] = br;
    sign[bc] = g.direction[br * 3 + bc] >= 0 ? 1 : -1;
  }
}

constexpr char kPositive[3] = {'L', 'P', 'S'};
constexpr char kNegative[3] = {'R', 'A', 'I'};

}  // namespace

std::string axis_codes(const Geometry& g) {
  std::array<int, 3> patient{}, sign{};
  assign_axes(g, patient, sign);
  std::string codes(3, '?');
  for (int c = 0; c < 3; ++c)
    codes[c] = sign[c] > 0 ? kPositive[patient[c]] : kNegative[patient[c]];
  return codes;
}

Result<Volume> reorient(const Volume& v, const std::string& codes) {
  MI_RETURN_IF_ERROR(check_input(v, "reorient", false));
  std::array<int, 3> want_axis{-1, -1, -1}, want_sign{};
  for (size_t a = 0; a < codes.size() && a < 3; ++a) {
    for (int p = 0; p < 3; ++p) {
      if (codes[a] == kPositive[p]) want_axis[a] = p, want_sign[a] = 1;
      if (codes[a] == kNegative[p]) want_axis[a] = p, want_sign[a] = -1;
    }
  }
  if (codes.size() != 3 || want_axis[0] < 0 || want_axis[1] < 0 || want_axis[2] < 0 ||
      want_axis[0] == want_axis[1] || want_axis[0] == want_axis[2] || want_axis[1] == want_axis[2])
    return invalid_argument("reorient: axis codes \"" + codes +
                            "\" must be three letters, one each of L/R, A/P and S/I");
  std::array<int, 3> patient{}, sign{};
  assign_axes(v.geometry(), patient, sign);
  std::array<AxisMap, 3> map{};
  std::array<int64_t, 3> dims{};
  for (int a = 0; a < 3; ++a) {
    for (int c = 0; c < 3; ++c) {
      if (patient[c] != want_axis[a]) continue;
      const int64_t n = v.geometry().dims[c];
      const bool flipped = sign[c] != want_sign[a];
      map[a] = AxisMap{c, flipped ? n - 1 : 0, flipped ? -1 : 1};
      dims[a] = n;
    }
  }
  return remap(v, remapped_geometry(v.geometry(), dims, map), map, 0);
}

}  // namespace medinfer::prep
