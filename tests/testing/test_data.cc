#include "testing/test_data.h"

#include "engine/backend.h"

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace medinfer::testing {

std::string shared_data() {
  const char* env = std::getenv("MEDINFER_SHARED_DATA");
  return env != nullptr ? env : MEDINFER_SHARED_DATA;
}
std::string data_path(const std::string& relative) {
  return shared_data() + "/" + relative;
}
bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}
// The build's paths, unless the environment moves them (test binaries run on another
// machine, e.g. the GPU machine through tests/device/run_tests.sh).
namespace {
std::string env_or(const char* name, const char* built_in) {
  const char* env = std::getenv(name);
  return env != nullptr && *env != '\0' ? env : built_in;
}
}  // namespace
std::string python() {
  return env_or("MEDINFER_TEST_PYTHON", MEDINFER_PYTHON);
}
std::string source_dir() {
  return env_or("MEDINFER_TEST_SOURCE_DIR", MEDINFER_SOURCE_DIR);
}
std::string binary_dir() {
  return env_or("MEDINFER_TEST_BINARY_DIR", MEDINFER_BINARY_DIR);
}
std::string cli() {
  return env_or("MEDINFER_TEST_CLI", MEDINFER_CLI);
}

std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  // Per process: ctest runs each test of a suite in its own process, in parallel, and a
  // suite's SetUpTestSuite in one must not wipe the files another is reading.
  fs::path p = fs::path(binary_dir()) / "test_tmp" / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> test_backends() {
  std::vector<std::string> out;
  if (const char* e = std::getenv("MEDINFER_TEST_BACKENDS"); e != nullptr && *e != '\0') {
    std::string s = e;
    for (size_t p = 0, c = 0; c != std::string::npos; p = c + 1) {
      c = s.find(',', p);
      const std::string name = s.substr(p, c == std::string::npos ? std::string::npos : c - p);
      if (!name.empty()) out.push_back(name);
    }
    return out;
  }
  // Whether a GPU is there, without initializing CUDA in this process (the node suite
  // forks children that must be the first to do so).
  const bool gpu = std::filesystem::exists("/proc/driver/nvidia/version") ||
                   std::filesystem::exists("/dev/nvidia0");
  for (const std::string& name : engine::backend_names()) {
    if (name != "cuda" || gpu) out.push_back(name);
  }
  return out;
}

std::string test_precision() {
  const char* e = std::getenv("MEDINFER_TEST_PRECISION");
  return e != nullptr && *e != '\0' ? e : "fp32";
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

int run_cli(const std::string& args, std::string* output) {
  return run_command(cli() + " " + args, output);
}

std::string lung_model_dir() {
  return source_dir() + "/models/lung-ct-2d";
}

}  // namespace medinfer::testing
