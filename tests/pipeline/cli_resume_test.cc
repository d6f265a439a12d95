// `medinfer segment` through the pipeline as a user runs it: killed at random points and
// resumed, it gives exactly the outputs of an uninterrupted run (nothing lost, nothing done
// twice); its memory stays within the in-flight bound on many more series than the bound;
// progress lines appear outside a terminal and --quiet silences them.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "pipeline/pipeline_testing.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kSeries = 6;

// argv of `medinfer segment` on `inputs` into `out`, CPU, plus `extra`.
std::vector<std::string> segment_args(const std::vector<std::string>& inputs,
                                      const std::string& out,
                                      const std::vector<std::string>& extra) {
  std::vector<std::string> a = {
      testing::cli(), "segment", "-o", out, "-m", testing::source_dir() + "/models/lung-ct-2d",
      "--device",     "cpu"};
  for (const auto& in : inputs) {
    a.push_back("-i");
    a.push_back(in);
  }
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// Starts argv with stdout and stderr to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

struct Exit {
  int status = -1;
  long peak_rss_kb = 0;
};

Exit wait_for(pid_t pid) {
  Exit e;
  int st = 0;
  rusage ru{};
  wait4(pid, &st, 0, &ru);
  e.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  e.peak_rss_kb = ru.ru_maxrss;
  return e;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int complete_folders(const std::string& out) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '.' && fs::exists(e.path() / "summary.json")) ++n;
  }
  return n;
}

class CliPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tmp = testing::temp_dir("cli_pipeline");
    inputs_ = testing::replicate_series(
        testing::source_dir() + "/tests/fixtures/dicom/totalseg-example", tmp + "/in", kSeries);
    reference_ = tmp + "/reference";
    const auto t0 = Clock::now();
    const Exit e = wait_for(spawn(segment_args(inputs_, reference_, {}), tmp + "/reference.log"));
    seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    reference_rc_ = e.status;
    reference_log_ = slurp(tmp + "/reference.log");
  }
  static std::vector<std::string> inputs_;
  static std::string reference_, reference_log_;
  static int reference_rc_;
  static double seconds_;
};
std::vector<std::string> CliPipeline::inputs_;
std::string CliPipeline::reference_, CliPipeline::reference_log_;
int CliPipeline::reference_rc_ = -1;
double CliPipeline::seconds_ = 0;

TEST_F(CliPipeline, KilledAtRandomPointsAndResumedGivesTheUninterruptedOutputs) {
  ASSERT_EQ(reference_rc_, 0) << reference_log_;
  ASSERT_EQ(complete_folders(reference_), kSeries);
  const std::string tmp = testing::temp_dir("cli_pipeline_kill");
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const double at = std::uniform_real_distribution<double>(0.45, 0.97)(rng) * seconds_;
    const std::string out = tmp + "/run" + std::to_string(seed);
    const pid_t pid = spawn(segment_args(inputs_, out, {"--quiet"}), out + ".log");
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    kill(pid, SIGKILL);
    wait_for(pid);
    const int kept = complete_folders(out);
    const Exit resumed =
        wait_for(spawn(segment_args(inputs_, out, {"--resume", "--quiet"}), out + ".resume.log"));
    ASSERT_EQ(resumed.status, 0) << slurp(out + ".resume.log");
    std::printf("seed %u: killed at %.2f s of %.2f s with %d of %d series complete\n", seed, at,
                seconds_, kept, kSeries);
    const std::vector<std::string> diffs = testing::compare_outputs(reference_, out);
    EXPECT_TRUE(diffs.empty()) << diffs.front();
    const auto run = nlohmann::json::parse(slurp(out + "/summary.json"));
    ASSERT_EQ(run["studies"].size(), static_cast<size_t>(kSeries)) << run.dump(1);
    std::map<std::string, int> uids;
    for (const auto& s : run["studies"]) ++uids[s["series"]["uid"].get<std::string>()];
    EXPECT_EQ(uids.size(), static_cast<size_t>(kSeries));
    // What the kill left complete was kept, not done again; the rest was done once.
    EXPECT_EQ(run["pipeline"]["resumed"].get<int>(), kept);
    EXPECT_EQ(run["pipeline"]["slices"].get<int>(), 20 * (kSeries - kept));
  }
}

TEST_F(CliPipeline, MemoryStaysWithinTheInFlightBoundOnManyMoreSeries) {
  ASSERT_EQ(reference_rc_, 0) << reference_log_;
  const std::string tmp = testing::temp_dir("cli_pipeline_memory");
  // Peak RSS of: two series with at most two in flight; all six with the same bound; all
  // six with six in flight (the control); six decoders each time, all eager to start. Without
  // the bound the decoded series pile up (each ~50 MB here: HU, model-space input, probabilities,
  // labels); with it, six series cost what two do. The engine's own memory (~1.1 GB on the
  // CPU, its build included) is the same in all three as long as the runs use the same
  // batch sizes: the CPU engine sets up each batch size's plan on its first run (measured
  // ~350 MB for the plan of 4 next to that of 8), so one series per engine run here (20
  // slices: runs of 8, 8, 4 in all three); batching across series would run partial
  // batches of whatever sizes the timing gives.
  const std::vector<std::string> two(inputs_.begin(), inputs_.begin() + 2);
  const auto flags = [](int bound) {
    return std::vector<std::string>{"--quiet",
                                    "--max-in-flight",
                                    std::to_string(bound),
                                    "--decode-workers",
                                    "6",
                                    "--write-workers",
                                    "1",
                                    "--batch-across-series",
                                    "off"};
  };
  const Exit small = wait_for(spawn(segment_args(two, tmp + "/two", flags(2)), tmp + "/two.log"));
  ASSERT_EQ(small.status, 0) << slurp(tmp + "/two.log");
  const Exit bounded =
      wait_for(spawn(segment_args(inputs_, tmp + "/six", flags(2)), tmp + "/six.log"));
  ASSERT_EQ(bounded.status, 0) << slurp(tmp + "/six.log");
  const Exit control =
      wait_for(spawn(segment_args(inputs_, tmp + "/ctl", flags(kSeries)), tmp + "/ctl.log"));
  ASSERT_EQ(control.status, 0) << slurp(tmp + "/ctl.log");
  std::printf("peak RSS: 2 series %ld MB; %d series %ld MB with 2 in flight, %ld MB with %d\n",
              small.peak_rss_kb / 1024, kSeries, bounded.peak_rss_kb / 1024,
              control.peak_rss_kb / 1024, kSeries);
  constexpr long kSeriesKb = 80 * 1024;  // more than one series' footprint
  EXPECT_LE(bounded.peak_rss_kb, small.peak_rss_kb + kSeriesKb);
  EXPECT_GT(control.peak_rss_kb, bounded.peak_rss_kb + kSeriesKb / 2)
      << "the control did not pile up series: this test no longer tells a bound from none";
  const auto run = nlohmann::json::parse(slurp(tmp + "/six/summary.json"));
  EXPECT_EQ(run["pipeline"]["max_series_in_flight"].get<int>(), 2);
  for (const auto& q : run["pipeline"]["queues"]) EXPECT_LE(q["max_depth"].get<int>(), 2);
}

TEST_F(CliPipeline, ProgressLinesOutsideATerminalAndNoneWhenQuiet) {
  ASSERT_EQ(reference_rc_, 0) << reference_log_;
  for (int i = 1; i <= kSeries; ++i) {
    const std::string line = "(" + std::to_string(i) + "/" + std::to_string(kSeries) + " series";
    EXPECT_NE(reference_log_.find(line), std::string::npos) << line << "\n" << reference_log_;
  }
  EXPECT_NE(reference_log_.find("slices/s"), std::string::npos);
  const std::string tmp = testing::temp_dir("cli_pipeline_quiet");
  const Exit e =
      wait_for(spawn(segment_args({inputs_[0]}, tmp + "/out", {"--quiet"}), tmp + "/quiet.log"));
  ASSERT_EQ(e.status, 0);
  const std::string log = slurp(tmp + "/quiet.log");
  EXPECT_EQ(log.find("medinfer: done"), std::string::npos) << log;
  EXPECT_EQ(log.find(" mL"), std::string::npos) << "no per-series lines: " << log;
  EXPECT_NE(log.find("segmented 1 series"), std::string::npos) << log;
}

}  // namespace
}  // namespace medinfer
