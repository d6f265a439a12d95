// Internal to the CPU backend: choosing among oneDNN implementations by timing them.
// oneDNN's first implementation for a descriptor is a heuristic (and Winograd versus direct
// is ours); for a given shape and thread count another one may be faster. The helper here
// times candidate primitive descriptors of any kind on scratch memory and picks the
// fastest; each op family says which candidates it can use (the same layouts for the
// values its neighbours share, so that no reorder appears) and how to fill their operands.
#pragma once

#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "medinfer/engine.h"

namespace medinfer::engine::cpu {

struct Candidate {
  dnnl::primitive_desc pd;
  std::string algorithm;  // a label for reports, e.g. "direct"
};

// Every implementation oneDNN offers for op descriptor `d` (its first pick, then each
// next_impl()) for the same instruction set, labelled `algorithm`, once per name (oneDNN 2.6
// lists some several times), except the reference ("ref") ones: plain loops, never the fastest and
// slow enough to dominate the build time. None when oneDNN has no implementation at all.
// PrimitiveDesc is e.g. dnnl::convolution_forward::primitive_desc.
template <typename PrimitiveDesc, typename OpDesc>
std::vector<Candidate> implementations(const OpDesc& d, const dnnl::primitive_attr& attr,
                                       const dnnl::engine& engine, const std::string& algorithm) {
  std::vector<Candidate> out;
  PrimitiveDesc pd(d, attr, engine, /*allow_empty=*/true);
  if (!pd) return out;
  std::set<std::string> seen;
  // Only kernels for the first pick's instruction set ("...:avx512_core"): an older ISA's
  // kernel (sse41 next to avx2) cannot be faster, and on a loaded machine timing noise
  // would sometimes pick it.
  const auto isa = [](const std::string& impl) { return impl.substr(impl.rfind(':') + 1); };
  const std::string first_isa = isa(pd.impl_info_str());
  do {
    // A copy keeps this implementation: next_impl() replaces only pd's own handle.
    const std::string impl = pd.impl_info_str();
    if (impl.find("ref") == std::string::npos && isa(impl) == first_isa &&
        seen.insert(impl).second) {
      out.push_back({pd, algorithm});
    }
  } while (pd.next_impl());
  return out;
}

// The arguments to run candidate `pd` with: memory in its own descs (scratch for sources
// and destinations, constants in its layouts).
using ArgsFor = std::function<std::unordered_map<int, dnnl::memory>(const dnnl::primitive_desc&)>;

// Times each candidate on `stream`: one warm-up run, then runs until at least 3 and at
// least 1 ms, keeping the fastest; a candidate stops early once a run takes over twice the
// best so far (it cannot win). Picks the fastest; candidates[0] (the default) keeps the
// choice unless another is faster by more than 2% (timing noise), in a second round that
// times both again too. The candidates' primitives are created here (oneDNN's primitive
// cache makes the chosen one cheap to create again).
TunedNode time_and_pick(const std::vector<Candidate>& candidates, const ArgsFor& args_for,
                        dnnl::stream& stream);

// Memory in desc `d`, every element (padding included) set to a small finite value.
dnnl::memory scratch_memory(const dnnl::memory::desc& d, const dnnl::engine& engine);

}  // namespace medinfer::engine::cpu
