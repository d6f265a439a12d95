// ResNet-50's convolutions (torchvision layout, 224x224) as a bare chain of oneDNN
// primitives, planned the way the CPU backend plans them: channels-last direct
// convolutions, and Winograd (blocked layout, with a reorder in and out) for 3x3 stride-1
// ones. It answers two questions about `bench-model` on ResNet-50 (docs/BENCHMARKS.md):
// how much of medinfer's run time is the engine rather than oneDNN's kernels (compare the
// chain's wall time with bench-model's), and how much slower each kernel runs inside the
// network than timed alone (caches: the weights and the previous layer's output are not
// where an isolated rerun leaves them). Residual adds and the classifier are left out.
//
//   dnnl_resnet50_chain [BATCH [REPS [WINOGRAD_MIN_PIXELS]]]
//     WINOGRAD_MIN_PIXELS: Winograd only for outputs of at least that many pixels per batch
//     (0: every eligible convolution, the default; -1: none)
// Threads: OMP_NUM_THREADS (oneDNN's OpenMP runtime).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

struct Step {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  std::string kind;  // the implementation, or "reorder" / "pool"
};

struct Chain {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  int64_t batch = 1;
  int64_t winograd_min_pixels = 0;
  std::vector<Step> steps;

  memory filled(const memory::desc& d) {
    memory m(d, engine);
    auto* p = static_cast<float*>(m.get_data_handle());
    for (size_t i = 0; i < d.get_size() / sizeof(float); ++i) {
      p[i] = 0.01f * static_cast<float>(static_cast<int>(i % 13) - 6);
    }
    return m;
  }

  void add_conv(const dnnl::convolution_forward::primitive_desc& pd, const memory& src,
                const memory& dst) {
    steps.push_back({dnnl::convolution_forward(pd),
                     {{DNNL_ARG_SRC, src},
                      {DNNL_ARG_WEIGHTS, filled(pd.weights_desc())},
                      {DNNL_ARG_BIAS, filled(pd.bias_desc())},
                      {DNNL_ARG_DST, dst}},
                     pd.impl_info_str()});
  }

  // Conv (+ bias, ReLU) from channels-last `src`; returns its channels-last output.
  memory conv(const memory& src, int64_t oc, int64_t k, int64_t s) {
    const memory::dims sd = src.get_desc().dims();
    const int64_t oh = (sd[2] + 2 * (k / 2) - k) / s + 1;
    const memory::dims dd{batch, oc, oh, oh}, st{s, s}, dil{0, 0}, pad{k / 2, k / 2};
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    const memory::desc w({oc, sd[1], k, k}, kF32, tag::any), b({oc}, kF32, tag::a);
    const bool winograd =
        k == 3 && s == 1 && winograd_min_pixels >= 0 && batch * oh * oh >= winograd_min_pixels;
    if (winograd) {
      try {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_winograd,
                                          memory::desc(sd, kF32, tag::any), w, b,
                                          memory::desc(dd, kF32, tag::any), st, dil, pad, pad);
        dnnl::convolution_forward::primitive_desc pd(d, attr, engine);
        const memory in = filled(pd.src_desc()), out = filled(pd.dst_desc());
        const memory back = filled(memory::desc(dd, kF32, tag::nhwc));
        steps.push_back(
            {dnnl::reorder(src, in), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, in}}, "reorder"});
        add_conv(pd, in, out);
        steps.push_back(
            {dnnl::reorder(out, back), {{DNNL_ARG_FROM, out}, {DNNL_ARG_TO, back}}, "reorder"});
        return back;
      } catch (const dnnl::error&) {  // no Winograd kernel on this CPU
      }
    }
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct,
                                      memory::desc(sd, kF32, tag::nhwc), w, b,
                                      memory::desc(dd, kF32, tag::nhwc), st, dil, pad, pad);
    dnnl::convolution_forward::primitive_desc pd(d, attr, engine);
    const memory out = filled(pd.dst_desc());
    add_conv(pd, src, out);
    return out;
  }

  memory max_pool(const memory& src) {
    const memory::dims sd = src.get_desc().dims();
    const memory::dims dd{batch, sd[1], sd[2] / 2, sd[3] / 2};
    dnnl::pooling_v2_forward::desc d(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src.get_desc(),
        memory::desc(dd, kF32, tag::nhwc), {2, 2}, {3, 3}, {0, 0}, {1, 1}, {1, 1});
    dnnl::pooling_v2_forward::primitive_desc pd(d, engine);
    const memory out = filled(pd.dst_desc());
    steps.push_back(
        {dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, out}}, "pool"});
    return out;
  }

  void build() {
    memory y = conv(filled(memory::desc({batch, 3, 224, 224}, kF32, tag::nhwc)), 64, 7, 2);
    y = max_pool(y);
    const int blocks[4] = {3, 4, 6, 3};
    const int64_t width[4] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      for (int i = 0; i < blocks[stage]; ++i) {
        const int64_t stride = stage > 0 && i == 0 ? 2 : 1;
        const memory in = y;
        y = conv(conv(conv(in, width[stage], 1, 1), width[stage], 3, stride), width[stage] * 4, 1,
                 1);
        if (i == 0) conv(in, width[stage] * 4, 1, stride);  // the downsample branch
      }
    }
  }
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Chain chain;
  chain.batch = argc > 1 ? std::atoll(argv[1]) : 1;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 40;
  chain.winograd_min_pixels = argc > 3 ? std::atoll(argv[3]) : 0;
  if (chain.batch < 1 || reps < 1) {
    std::fprintf(stderr, "usage: %s [BATCH [REPS [WINOGRAD_MIN_PIXELS]]]\n", argv[0]);
    return 2;
  }
  chain.build();
  auto& steps = chain.steps;
  auto& stream = chain.stream;
  const int warmup = 5;

  std::vector<double> alone(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<double> t;
    for (int r = 0; r < warmup + reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      steps[i].prim.execute(stream, steps[i].args);
      stream.wait();
      if (r >= warmup) t.push_back(ms_since(t0));
    }
    alone[i] = median(t);
  }
  std::vector<double> wall;
  std::vector<std::vector<double>> in_chain(steps.size());
  for (int r = 0; r < warmup + 2 * reps; ++r) {
    const bool per_step = r >= warmup + reps;  // first the whole chain untimed inside
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto t1 = std::chrono::steady_clock::now();
      steps[i].prim.execute(stream, steps[i].args);
      if (per_step) in_chain[i].push_back(ms_since(t1));
    }
    stream.wait();
    if (r >= warmup && !per_step) wall.push_back(ms_since(t0));
  }

  std::map<std::string, std::pair<int, std::pair<double, double>>> by_kind;
  double alone_sum = 0, chain_sum = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const double c = median(in_chain[i]);
    auto& k = by_kind[steps[i].kind];
    ++k.first;
    k.second.first += alone[i];
    k.second.second += c;
    alone_sum += alone[i];
    chain_sum += c;
  }
  for (const auto& [kind, k] : by_kind) {
    std::printf("%-32s x%-3d alone %7.3f ms  in the chain %7.3f ms\n", kind.c_str(), k.first,
                k.second.first, k.second.second);
  }
  std::printf(
      "batch %lld, winograd_min_pixels %lld, %zu primitives: sum alone %.3f ms, sum in the "
      "chain %.3f ms, chain wall median %.3f ms (min %.3f)\n",
      static_cast<long long>(chain.batch), static_cast<long long>(chain.winograd_min_pixels),
      steps.size(), alone_sum, chain_sum, median(wall),
      *std::min_element(wall.begin(), wall.end()));
  return 0;
}
