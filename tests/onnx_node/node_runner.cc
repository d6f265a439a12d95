#include "onnx_node/node_runner.h"

#include <onnx/onnx_pb.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engine/backend.h"
#include "engine/onnx/importer.h"
#include "engine/ops/op.h"
#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::testing {
namespace {

namespace fs = std::filesystem;
using engine::Graph;
using engine::Tensor;
using json = nlohmann::json;

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
         t == DType::kBFloat16;
}

std::string index_str(const engine::Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return engine::shape_str(idx);
}

// What the model uses that the importer documents as unsupported (importer.h and its
// NotSupported errors): non-tensor graph inputs/outputs, subgraph/sparse attributes, sparse
// initializers, model-local functions, nodes of other domains.
struct ModelFacts {
  std::set<std::string> ops;
  std::set<std::string> features;
  int64_t opset = -1;
};

ModelFacts model_facts(const std::string& path) {
  ModelFacts facts;
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  if (!model.ParseFromIstream(&in)) {
    facts.features.insert("unparsable model");
    return facts;
  }
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") facts.opset = o.version();
  }
  const auto& g = model.graph();
  auto check_type = [&](const onnx::ValueInfoProto& v, const char* where) {
    if (!v.type().has_tensor_type()) facts.features.insert(std::string("non-tensor ") + where);
  };
  for (const auto& v : g.input()) check_type(v, "graph input");
  for (const auto& v : g.output()) check_type(v, "graph output");
  if (g.sparse_initializer_size() > 0) facts.features.insert("sparse initializer");
  if (model.functions_size() > 0) facts.features.insert("model-local function");
  for (const auto& n : g.node()) {
    facts.ops.insert(n.op_type());
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      facts.features.insert("domain " + n.domain());
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g() || a.graphs_size() > 0) facts.features.insert("subgraph attribute");
      if (a.has_sparse_tensor()) facts.features.insert("sparse tensor attribute");
      if (!a.ref_attr_name().empty()) facts.features.insert("function attribute reference");
    }
  }
  return facts;
}

// The op type named by an engine error ("... Conv node 'x' (#3): ..."), if it is one of `ops`.
std::string op_in_message(const std::string& message, const std::set<std::string>& ops) {
  static const std::regex kNode(R"(([A-Za-z0-9_]+) node(?: '[^']*')? \(#\d+\))");
  std::smatch m;
  if (std::regex_search(message, m, kNode) && ops.count(m[1].str()) > 0) return m[1].str();
  return "";
}

// test_data_set_<k>/<prefix>_<i>.pb in order of i.
std::vector<std::string> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix + "_", 0) != 0 || e.path().extension() != ".pb") continue;
    found.emplace_back(std::atoi(name.c_str() + prefix.size() + 1), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

std::vector<fs::path> data_sets(const fs::path& case_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(case_dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct DataSet {
  std::string name;
  std::vector<Tensor> inputs, outputs;
};

json unsupported(json r, const std::string& op, const std::string& message) {
  r["status"] = "unsupported";
  if (!op.empty()) r["unsupported_ops"] = json::array({op});
  r["message"] = message;
  return r;
}

// The graph as Engine::build makes it for the input shapes of some data sets: shapes inferred
// with the inputs fixed, then the default optimization passes.
struct BuiltGraph {
  Graph graph;
  std::vector<const DataSet*> sets;
};

// "" on success, else what went wrong; *not_supported when a backend call said NotSupported.
std::string run_on_backend(const std::string& backend_name, const std::vector<BuiltGraph>& built,
                           const NodeSuiteOptions& options, bool* not_supported) {
  *not_supported = false;
  auto backend = engine::make_backend(backend_name);
  if (!backend.is_ok()) return "make_backend: " + backend.status().to_string();
  for (const BuiltGraph& b : built) {
    const Graph& graph = b.graph;
    engine::BuildOptions build;
    build.threads = 1;  // cases run in parallel processes
    // The CUDA backend: nodes the GPU does not run go to the host explicitly.
    build.allow_host_fallback = true;
    for (const DataSet* s : b.sets) {
      for (const Tensor& t : s->inputs) {
        if (t.rank() > 0) build.max_batch = std::max(build.max_batch, t.dim(0));
      }
    }
    auto exe = (*backend)->compile(graph, build);
    if (!exe.is_ok()) {
      *not_supported = exe.status().code() == StatusCode::kNotSupported;
      return "compile: " + exe.status().to_string();
    }
    for (const DataSet* s : b.sets) {
      std::vector<Tensor> outputs;
      Status st = (*exe)->run(s->inputs, outputs);
      if (!st.is_ok()) {
        *not_supported = st.code() == StatusCode::kNotSupported;
        return s->name + ": run: " + st.to_string();
      }
      if (outputs.size() != s->outputs.size()) {
        return s->name + ": " + std::to_string(outputs.size()) + " outputs, the data set has " +
               std::to_string(s->outputs.size());
      }
      for (size_t o = 0; o < outputs.size(); ++o) {
        std::string diff = compare_tensors(outputs[o], s->outputs[o], options.rtol, options.atol);
        if (!diff.empty()) {
          return s->name + ": output '" + graph.value(graph.outputs[o]).name + "' (#" +
                 std::to_string(o) + "): " + diff;
        }
      }
    }
  }
  return "";
}

}  // namespace

std::vector<std::string> list_node_cases(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (fs::exists(e.path() / "model.onnx")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype()) {
    return std::string("dtype ") + dtype_name(got.dtype()) + ", expected " +
           dtype_name(want.dtype());
  }
  if (got.shape() != want.shape()) {
    return "shape " + engine::shape_str(got.shape()) + ", expected " +
           engine::shape_str(want.shape());
  }
  const int64_t n = want.numel();
  int64_t bad = 0, worst = -1;
  double worst_excess = -1;
  if (is_float(want.dtype())) {
    const std::vector<double> g = got.to_double(), w = want.to_double();
    for (int64_t i = 0; i < n; ++i) {
      const double a = g[static_cast<size_t>(i)], b = w[static_cast<size_t>(i)];
      if (std::isnan(a) && std::isnan(b)) continue;
      if (a == b) continue;                  // equal infinities
      if (std::isinf(a) || std::isinf(b)) {  // the tolerance of an infinity is infinite
        ++bad;
        if (worst < 0 || worst_excess < INFINITY) worst = i, worst_excess = INFINITY;
        continue;
      }
      const double tol = atol + rtol * std::fabs(b);
      const double err = std::fabs(a - b);
      if (err <= tol) continue;  // false for NaN against a number
      ++bad;
      const double excess = std::isnan(err) || std::isinf(err) ? INFINITY : err - tol;
      if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
    }
    if (bad == 0) return "";
    std::ostringstream s;
    s.precision(9);
    s << bad << " of " << n << " values differ (rtol " << rtol << ", atol " << atol
      << "); worst at " << index_str(want.shape(), worst) << ": got "
      << g[static_cast<size_t>(worst)] << ", expected " << w[static_cast<size_t>(worst)];
    return s.str();
  }
  // Integers and bools: exact, element by element.
  const size_t size = dtype_size(want.dtype());
  const auto* a = static_cast<const uint8_t*>(got.data());
  const auto* b = static_cast<const uint8_t*>(want.data());
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(a + i * size, b + i * size, size) != 0) {
      if (worst < 0) worst = i;
      ++bad;
    }
  }
  if (bad == 0) return "";
  const std::vector<int64_t> g = got.to_int64(), w = want.to_int64();
  return std::to_string(bad) + " of " + std::to_string(n) + " values differ (exact " +
         dtype_name(want.dtype()) + "); first at " + index_str(want.shape(), worst) + ": got " +
         std::to_string(g[static_cast<size_t>(worst)]) + ", expected " +
         std::to_string(w[static_cast<size_t>(worst)]);
}

json run_node_case(const std::string& case_dir, const NodeSuiteOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir(case_dir);
  json r;
  r["name"] = dir.filename().string();
  const ModelFacts facts = model_facts((dir / "model.onnx").string());
  r["ops"] = facts.ops;
  r["opset"] = facts.opset;
  r["features"] = facts.features;
  r["backends"] = json::object();
  auto finish = [&](json out) {
    out["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  };

  auto imported = engine::import_onnx_file((dir / "model.onnx").string());
  if (!imported.is_ok()) {
    const Status& st = imported.status();
    const std::string op = op_in_message(st.message(), facts.ops);
    if (st.code() == StatusCode::kNotSupported) {
      return finish(unsupported(r, op.empty() ? "(import)" : op, st.to_string()));
    }
    r["status"] = "error";
    r["message"] = st.to_string();
    if (!facts.features.empty()) r["excused"] = *facts.features.begin();
    return finish(r);
  }
  Graph graph = std::move(imported).value();
  std::set<std::string> missing;
  for (const auto& node : graph.nodes) {
    const bool other_domain = !node.domain.empty() && node.domain != "ai.onnx";
    if (other_domain || engine::find_op(node.op_type) == nullptr) missing.insert(node.op_type);
  }
  if (!missing.empty()) {
    r = unsupported(r, "", "no op schema for " + json(missing).dump());
    r["unsupported_ops"] = missing;
    return finish(r);
  }
  std::vector<DataSet> sets;
  int64_t input_elements = 0;
  for (const fs::path& set_dir : data_sets(dir)) {
    DataSet s;
    s.name = set_dir.filename().string();
    for (const char* kind : {"input", "output"}) {
      for (const std::string& f : numbered_files(set_dir, kind)) {
        auto t = engine::read_tensor_proto_file(f);
        if (!t.is_ok()) {
          const std::string what = fs::path(f).lexically_relative(dir).string();
          if (t.status().code() == StatusCode::kNotSupported) {
            return finish(unsupported(r, "(test data)", what + ": " + t.status().to_string()));
          }
          r["status"] = "fail";
          r["message"] = what + ": " + t.status().to_string();
          return finish(r);
        }
        if (std::string(kind) == "input") input_elements += t->numel();
        (std::string(kind) == "input" ? s.inputs : s.outputs).push_back(std::move(t).value());
      }
    }
    if (s.inputs.size() != graph.inputs.size()) {
      r["status"] = "fail";
      r["message"] = s.name + " has " + std::to_string(s.inputs.size()) +
                     " inputs, the imported graph " + std::to_string(graph.inputs.size());
      return finish(r);
    }
    sets.push_back(std::move(s));
  }
  if (input_elements > options.max_input_elements) {
    r["status"] = "skipped";
    r["message"] = std::to_string(input_elements) + " input elements, over the limit of " +
                   std::to_string(options.max_input_elements);
    return finish(r);
  }

  // Build the graph the way Engine::build does, once per distinct set of input shapes: shape
  // inference with the data set's input shapes fixed, then run_passes with the default
  // options (constant folding turns shape computations, e.g. Shape -> ... -> Reshape, into
  // constants). What the engine cannot build is unsupported or a failure accordingly.
  if (sets.empty()) {
    r["status"] = "fail";
    r["message"] = "no test_data_set_* folder";
    return finish(r);
  }
  std::vector<BuiltGraph> built;
  std::map<std::vector<engine::Shape>, size_t> by_shapes;
  for (const DataSet& s : sets) {
    std::vector<engine::Shape> shapes;
    for (const Tensor& t : s.inputs) shapes.push_back(t.shape());
    auto [it, fresh] = by_shapes.emplace(shapes, built.size());
    if (!fresh) {
      built[it->second].sets.push_back(&s);
      continue;
    }
    Graph g = graph;
    std::map<std::string, engine::Shape> fixed;
    for (size_t i = 0; i < g.inputs.size(); ++i) fixed[g.value(g.inputs[i]).name] = shapes[i];
    Status st = engine::infer_shapes(g, fixed);
    if (!st.is_ok()) {
      const std::string op = op_in_message(st.message(), facts.ops);
      if (st.code() == StatusCode::kNotSupported) {
        return finish(unsupported(r, op.empty() ? "(shape inference)" : op, st.to_string()));
      }
      r["status"] = "fail";
      r["message"] = "infer_shapes: " + st.to_string();
      return finish(r);
    }
    st = engine::run_passes(g);
    if (!st.is_ok()) {
      const std::string op = op_in_message(st.message(), facts.ops);
      if (st.code() == StatusCode::kNotSupported) {
        return finish(unsupported(r, op.empty() ? "(passes)" : op, st.to_string()));
      }
      r["status"] = "fail";
      r["message"] = "run_passes: " + st.to_string();
      return finish(r);
    }
    built.push_back({std::move(g), {&s}});
  }

  // A backend that compiled or ran the case and said NotSupported (a run-time attribute value,
  // e.g. Dropout's training_mode input) does not support it; when every backend says so the
  // case is unsupported, when only some do it fails (the others show it can be done).
  // A backend may refuse a graph at build (the CUDA backend plans static shapes only): an
  // explicit NotSupported from compile() is "refused", not a failure, and the other backends'
  // results decide the case. Each backend's pass-count floor (onnx_node_test.cc) catches a
  // backend that starts refusing what it used to run.
  bool all_pass = true, all_not_supported = true;
  std::string first_failure, first_refusal;
  for (const std::string& b : options.backends) {
    bool not_supported = false;
    const std::string diff = run_on_backend(b, built, options, &not_supported);
    if (not_supported && diff.rfind("compile: ", 0) == 0) {
      r["backends"][b] = {{"status", "refused"}, {"message", diff}, {"not_supported", true}};
      if (first_refusal.empty()) first_refusal = b + ": " + diff;
      continue;
    }
    r["backends"][b] = {{"status", diff.empty() ? "pass" : "fail"}, {"message", diff}};
    if (not_supported) r["backends"][b]["not_supported"] = true;
    if (!diff.empty() && all_pass) first_failure = b + ": " + diff;
    all_pass = all_pass && diff.empty();
    all_not_supported = all_not_supported && not_supported;
  }
  if (!options.backends.empty() && all_not_supported) {
    const std::string why = first_failure.empty() ? first_refusal : first_failure;
    const std::string op = op_in_message(why, facts.ops);
    return finish(unsupported(r, op.empty() ? "(backend)" : op, why));
  }
  r["status"] = all_pass ? "pass" : "fail";
  r["message"] = first_failure;
  return finish(r);
}

namespace {

struct Child {
  pid_t pid = -1;
  int fd = -1;
  size_t index = 0;
  std::string out;
  std::chrono::steady_clock::time_point start;
};

json child_failure(const std::string& case_dir, const std::string& message) {
  const ModelFacts facts = model_facts((fs::path(case_dir) / "model.onnx").string());
  json r;
  r["name"] = fs::path(case_dir).filename().string();
  r["ops"] = facts.ops;
  r["opset"] = facts.opset;
  r["features"] = facts.features;
  r["backends"] = json::object();
  r["status"] = "fail";
  r["message"] = message;
  return r;
}

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::vector<json> run_node_suite(const std::vector<std::string>& case_dirs,
                                 const NodeSuiteOptions& options) {
  std::vector<json> results(case_dirs.size());
  std::vector<Child> running;
  size_t next = 0;
  const int jobs = std::max(1, options.jobs);
  while (next < case_dirs.size() || !running.empty()) {
    while (next < case_dirs.size() && static_cast<int>(running.size()) < jobs) {
      int fds[2];
      if (::pipe(fds) != 0) {
        results[next] = child_failure(case_dirs[next], "pipe() failed");
        ++next;
        continue;
      }
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(fds[0]);
        json r;
        try {
          r = run_node_case(case_dirs[next], options);
        } catch (const std::exception& e) {
          r = child_failure(case_dirs[next], std::string("exception: ") + e.what());
        }
        write_all(fds[1], r.dump());
        ::close(fds[1]);
        std::fflush(nullptr);
        ::_exit(0);
      }
      ::close(fds[1]);
      if (pid < 0) {
        ::close(fds[0]);
        results[next] = child_failure(case_dirs[next], "fork() failed");
        ++next;
        continue;
      }
      running.push_back({pid, fds[0], next, "", std::chrono::steady_clock::now()});
      ++next;
    }
    std::vector<pollfd> polls;
    for (const Child& c : running) polls.push_back({c.fd, POLLIN, 0});
    ::poll(polls.data(), polls.size(), 100);
    for (size_t i = running.size(); i-- > 0;) {
      Child& c = running[i];
      bool done = false;
      std::string failure;
      if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[65536];
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n > 0) {
          c.out.append(buf, static_cast<size_t>(n));
        } else {
          done = true;
        }
      }
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - c.start).count();
      if (!done && elapsed > options.case_timeout_s) {
        ::kill(c.pid, SIGKILL);
        done = true;
        failure = "timed out after " + std::to_string(static_cast<int>(options.case_timeout_s)) +
                  " s (killed)";
      }
      if (!done) continue;
      int wstatus = 0;
      ::waitpid(c.pid, &wstatus, 0);
      ::close(c.fd);
      if (failure.empty() && WIFSIGNALED(wstatus)) {
        failure = std::string("crashed: ") + strsignal(WTERMSIG(wstatus));
      } else if (failure.empty() && (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)) {
        failure = "worker exited with status " + std::to_string(WEXITSTATUS(wstatus));
      }
      json parsed = json::parse(c.out, nullptr, /*allow_exceptions=*/false);
      if (failure.empty() && parsed.is_discarded()) failure = "worker wrote no result";
      results[c.index] = failure.empty() ? parsed : child_failure(case_dirs[c.index], failure);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return results;
}

}  // namespace medinfer::testing
