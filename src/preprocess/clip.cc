// clip: clamp HU (or any float32 values) to [lo, hi] (torch.clamp / numpy.clip).
#include <algorithm>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {

Status clip(Volume& v, float lo, float hi, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "clip", true));
  if (!(lo <= hi)) return invalid_argument("clip: min must not exceed max");
  for_chunks(v, threads, [&](float* p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) p[i] = std::min(std::max(p[i], lo), hi);
  });
  return Status::ok();
}

}  // namespace medinfer::prep
