// Test helpers: where shared data and tools are, and running commands.
#pragma once

#include <string>
#include <vector>

namespace medinfer::testing {

// ../shared/data (absolute), configured at build time.
std::string shared_data();
// Path under shared data; when it does not exist the calling test must fail under CI
// (CI=true) and skip otherwise: use MI_REQUIRE_DATA.
std::string data_path(const std::string& relative);
bool under_ci();
// Python interpreter of the reference venv, .venv (pydicom, nibabel, numpy, ...). These four are
// configured at build time; MEDINFER_TEST_{PYTHON,SOURCE_DIR,BINARY_DIR,CLI} override them.
std::string python();
std::string source_dir();
std::string binary_dir();
std::string cli();  // the medinfer executable
// The engine backends the cross-backend tests run: MEDINFER_TEST_BACKENDS (comma list) when
// set, else every backend of the build, "cuda" only where a GPU is visible (the GPU test
// entry point, tests/device/run_gpu_tests.sh, runs them on the GPU machine).
std::vector<std::string> test_backends();
// MEDINFER_TEST_PRECISION (fp32 when unset): the precision the cuda backend is compiled
// with in those tests (fp16 and bf16 compare within 1e-2).
std::string test_precision();
// A fresh empty directory under the build tree for this test (and this process).
std::string temp_dir(const std::string& name);
// Runs a shell command; returns its exit status, stdout+stderr in *output when given.
int run_command(const std::string& command, std::string* output = nullptr);
// `s` in single quotes, for run_command (paths here hold no quote).
std::string quoted(const std::string& s);
// The medinfer executable with `args` (already quoted where needed), through run_command.
int run_cli(const std::string& args, std::string* output = nullptr);
// The bundled lung model package, models/lung-ct-2d.
std::string lung_model_dir();

}  // namespace medinfer::testing

// Skips (or fails under CI) when a shared-data path is missing.
#define MI_REQUIRE_DATA(path)                                                         \
  do {                                                                                \
    if (!std::filesystem::exists(path)) {                                             \
      if (::medinfer::testing::under_ci()) FAIL() << "missing shared data: " << path; \
      GTEST_SKIP() << "shared data not present: " << path;                            \
    }                                                                                 \
  } while (0)
