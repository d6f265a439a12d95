#include "engine/backends/cpu/dnnl_autotune.h"

#include <chrono>
#include <cstring>
#include <limits>

namespace medinfer::engine::cpu {
namespace {

constexpr dnnl::memory::data_type kF32 = dnnl::memory::data_type::f32;
constexpr int kMinRuns = 3;
constexpr double kMinTotalMs = 1.0;
constexpr int kMaxRuns = 1000;       // tiny primitives: 1 ms may be many runs
constexpr double kDropFactor = 2.0;  // a run this much slower than the best cannot win
constexpr double kMargin = 0.02;     // faster than the default by less is noise

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The fastest run of `prim` (inf when it never finished a timed run).
double time_primitive(const dnnl::primitive& prim, std::unordered_map<int, dnnl::memory>& args,
                      dnnl::stream& stream, double best) {
  prim.execute(stream, args);  // warm-up: first touch of the scratch memory, caches
  stream.wait();
  double fastest = std::numeric_limits<double>::infinity(), total = 0;
  for (int runs = 0; runs < kMaxRuns && (runs < kMinRuns || total < kMinTotalMs); ++runs) {
    const auto t0 = std::chrono::steady_clock::now();
    prim.execute(stream, args);
    stream.wait();
    const double ms = ms_since(t0);
    total += ms;
    fastest = std::min(fastest, ms);
    if (ms > kDropFactor * best) break;
  }
  return fastest;
}

}  // namespace

dnnl::memory scratch_memory(const dnnl::memory::desc& d, const dnnl::engine& engine) {
  dnnl::memory m(d, engine);
  if (d.data_type() != kF32) {
    std::memset(m.get_data_handle(), 0, d.get_size());
    return m;
  }
  const size_t n = d.get_size() / sizeof(float);
  auto* p = static_cast<float*>(m.get_data_handle());
  // Not all zeros (no kernel special-cases them, but keep timing honest) and no denormals.
  for (size_t i = 0; i < n; ++i) p[i] = 0.25f * static_cast<float>(static_cast<int>(i % 7) - 3);
  return m;
}

TunedNode time_and_pick(const std::vector<Candidate>& candidates, const ArgsFor& args_for,
                        dnnl::stream& stream) {
  struct Timed {
    dnnl::primitive prim;
    std::unordered_map<int, dnnl::memory> args;
  };
  TunedNode out;
  Timed first, challenger;  // the default and the fastest other candidate
  double best = std::numeric_limits<double>::infinity(), default_ms = best;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    Timed t{dnnl::primitive(c.pd), args_for(c.pd)};
    // Candidates made with plan_attr() take their scratch memory from the caller.
    if (c.pd.scratchpad_desc().get_size() > 0) {
      t.args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(c.pd.scratchpad_desc(), c.pd.get_engine());
    }
    const double ms = time_primitive(t.prim, t.args, stream, best);
    out.candidates.push_back({c.pd.impl_info_str(), c.algorithm, ms});
    if (i == 0) {
      default_ms = best = ms;
      first = std::move(t);
    } else if (ms < best && ms < (1.0 - kMargin) * default_ms) {
      best = ms;
      out.chosen = i;
      challenger = std::move(t);
    }
  }
  if (out.chosen != 0) {
    // Time both again: a disturbance (another process) while the default was timed must
    // not be what makes it lose.
    double& d = out.candidates[0].ms;
    double& c = out.candidates[out.chosen].ms;
    d = std::min(d, time_primitive(first.prim, first.args, stream, d));
    c = std::min(c, time_primitive(challenger.prim, challenger.args, stream, c));
    if (c >= (1.0 - kMargin) * d) out.chosen = 0;
  }
  return out;
}

}  // namespace medinfer::engine::cpu
