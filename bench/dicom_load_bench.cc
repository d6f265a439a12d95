// dicom_load_bench: how fast a DICOM series folder becomes a Hounsfield-unit volume.
//
//   dicom_load_bench --series DIR[,DIR...] [--threads 1,2] [--reps 10] [--warmup 1]
//                    [--mode medinfer,cold,reuse,raw,rawmem] [--output float32|int16]
//                    [--io auto|pread|mmap] [--json OUT] [--commit HASH]
//
// Modes (one row per series x mode x thread count):
//   medinfer  scan(DIR) + plan_volume + Volume::allocate + load_into, i.e. what
//             `dicom::scan` followed by `dicom::load` does, from a folder path to a float32
//             HU volume. The row also carries the median of each of those steps. The
//             volume is freed after the timed region; its memory goes back to Buffer's
//             block cache, so the next repetition's volume reuses it, as a process that
//             loads study after study does.
//   cold      the same with the block cache off: every volume is new memory, and its
//             first-touch page faults are timed (what a one-shot CLI call pays).
//   reuse     the same into one volume buffer allocated and touched before timing, as a
//             pipeline that recycles its (pinned) buffers would call load_into: shows what
//             first-touch page faults on a fresh 100+ MB volume cost.
//   raw       the limit: list the folder and read every file's bytes into memory with
//             open/read/close, no parsing. Threads split the files (the persistent pool
//             the loader uses too, so neither pays thread start-up).
//   rawmem    the same, but every file lands in its own slot of one buffer sized for the
//             whole series (allocated and touched before timing, reused by every
//             repetition): the bytes end up in memory as a load's voxels do.
// --io picks how medinfer reads uncompressed pixel data (dicom::ReadMethod); it is recorded
// in every row ("io") and in the tool label when not auto, e.g. "medinfer (pread)".
// Thread counts are a comma list; 0 or "all" means every hardware thread.
//
// Each row runs `warmup` untimed repetitions first (they also pull the files into the page
// cache, so timed repetitions read from memory), then `reps` timed ones, and reports the
// median, min, max and spread = (max - min) / median. A Markdown table goes to stdout; the
// rows (the schema the peers in bench/peers/ write too) go to --json.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "medinfer/dicom.h"

namespace {

namespace dicom = medinfer::dicom;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Args {
  std::vector<std::string> series;
  std::vector<int> threads{1, 0};
  std::vector<std::string> modes{"medinfer", "cold", "reuse", "raw"};
  int reps = 10;
  int warmup = 1;
  medinfer::DType output = medinfer::DType::kFloat32;
  std::string io = "auto";
  medinfer::dicom::ReadMethod read_method = medinfer::dicom::ReadMethod::kAuto;
  std::string json_path;
  std::string commit;
  std::string command;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "dicom_load_bench: " << why << "\n"
            << "usage: dicom_load_bench --series DIR[,DIR...] [--threads 1,2] [--reps N]\n"
               "         [--warmup N] [--mode medinfer,cold,reuse,raw,rawmem]\n"
               "         [--output float32|int16] [--io auto|pread|mmap] [--json OUT]\n"
               "         [--commit HASH]\n";
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int parse_int(const std::string& s, const char* flag) {
  try {
    size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used != s.size() || v < 0) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    usage(std::string(flag) + ": not a non-negative integer: " + s);
  }
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i > 0) a.command += ' ';
    a.command += arg.find_first_of(" \t'\"$") == std::string::npos ? arg : "'" + arg + "'";
  }
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--series") {
      for (auto& s : split(value())) a.series.push_back(s);
    } else if (flag == "--threads") {
      a.threads.clear();
      for (auto& t : split(value())) {
        a.threads.push_back(t == "all" ? 0 : parse_int(t, "--threads"));
      }
    } else if (flag == "--reps") {
      a.reps = parse_int(value(), "--reps");
    } else if (flag == "--warmup") {
      a.warmup = parse_int(value(), "--warmup");
    } else if (flag == "--mode") {
      a.modes = split(value());
    } else if (flag == "--output") {
      const std::string o = value();
      if (o == "float32") {
        a.output = medinfer::DType::kFloat32;
      } else if (o == "int16") {
        a.output = medinfer::DType::kInt16;
      } else {
        usage("--output must be float32 or int16");
      }
    } else if (flag == "--io") {
      a.io = value();
      if (a.io == "auto") {
        a.read_method = medinfer::dicom::ReadMethod::kAuto;
      } else if (a.io == "pread") {
        a.read_method = medinfer::dicom::ReadMethod::kPread;
      } else if (a.io == "mmap") {
        a.read_method = medinfer::dicom::ReadMethod::kMmap;
      } else {
        usage("--io must be auto, pread or mmap");
      }
    } else if (flag == "--json") {
      a.json_path = value();
    } else if (flag == "--commit") {
      a.commit = value();
    } else if (flag == "-h" || flag == "--help") {
      usage("help");
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (a.series.empty()) usage("--series is required");
  if (a.reps < 1) usage("--reps must be at least 1");
  if (a.threads.empty()) usage("--threads is empty");
  for (auto& m : a.modes) {
    if (m != "medinfer" && m != "cold" && m != "reuse" && m != "raw" && m != "rawmem") {
      usage("unknown mode " + m);
    }
  }
  for (int& t : a.threads) {
    if (t == 0) t = hardware_threads();
  }
  return a;
}

// "…/4dlung-113/ct" -> "4dlung-113": the folder, or its parent when the folder is a
// generic name.
std::string series_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  const std::string last = p.filename().string();
  if ((last == "ct" || last == "dicom" || last == "DICOM") && p.has_parent_path()) {
    return p.parent_path().filename().string();
  }
  return last;
}

struct Stats {
  double median = 0, min = 0, max = 0, spread = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.max = v.back();
  s.spread = s.median > 0 ? (s.max - s.min) / s.median : 0;
  return s;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// User + system CPU seconds of this process, all threads: less sensitive than wall time to
// other work on a shared machine.
double process_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

[[noreturn]] void die(const std::string& what, const medinfer::Status& st) {
  std::cerr << "dicom_load_bench: " << what << ": " << st.to_string() << "\n";
  std::exit(1);
}

// The image series of a scan with the most slices (the folders hold one CT series each;
// this keeps a stray RTSTRUCT or scout from being picked).
const dicom::SeriesInfo* pick_series(const dicom::ScanResult& scan) {
  const dicom::SeriesInfo* best = nullptr;
  for (const auto& s : scan.series) {
    if (!s.loadable) continue;
    if (best == nullptr || s.slice_count > best->slice_count) best = &s;
  }
  return best;
}

// What a series is, from one untimed scan: slice count and transfer syntax names.
struct SeriesMeta {
  std::string name, path, syntax;
  int64_t slices = 0;
  int rows = 0, columns = 0;
  size_t files = 0;
  uint64_t bytes = 0;
};

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  return files;
}

SeriesMeta describe(const std::string& dir) {
  SeriesMeta m;
  m.name = series_name(dir);
  m.path = dir;
  auto scan = dicom::scan({dir});
  if (!scan.is_ok()) die("scan " + dir, scan.status());
  const dicom::SeriesInfo* s = pick_series(*scan);
  if (s == nullptr) {
    std::cerr << "dicom_load_bench: " << dir << ": no loadable image series\n";
    std::exit(1);
  }
  m.slices = s->slice_count;
  m.rows = s->rows;
  m.columns = s->columns;
  for (const auto& uid : s->transfer_syntaxes) {
    if (!m.syntax.empty()) m.syntax += " + ";
    m.syntax += dicom::transfer_syntax_name(uid);
  }
  for (const auto& f : list_files(dir)) {
    ++m.files;
    m.bytes += fs::file_size(f);
  }
  return m;
}

// Voxel statistics of a loaded volume, to cross-check decoding against the peers.
json volume_check(const medinfer::Volume& vol) {
  const int64_t n = vol.geometry().voxel_count();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  auto scan = [&](auto* p) {
    for (int64_t i = 0; i < n; ++i) {
      const double v = p[i];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
    }
  };
  if (vol.dtype() == medinfer::DType::kFloat32) {
    scan(vol.data<float>());
  } else {
    scan(vol.data<int16_t>());
  }
  const auto& d = vol.geometry().dims;
  return {{"min", lo}, {"max", hi}, {"mean", n ? sum / n : 0.0}, {"dims", {d[0], d[1], d[2]}}};
}

json base_row(const SeriesMeta& m, const std::string& tool, int threads,
              const std::vector<double>& times, const std::vector<double>& cpus, const Args& a) {
  const Stats s = stats(times);
  return {{"series", m.name},
          {"path", m.path},
          {"syntax", m.syntax},
          {"slices", m.slices},
          {"tool", tool},
          {"threads", threads},
          {"reps", times.size()},
          {"warmup", a.warmup},
          {"median_s", s.median},
          {"slices_per_s", s.median > 0 ? m.slices / s.median : 0.0},
          {"spread", s.spread},
          {"min_s", s.min},
          {"max_s", s.max},
          {"times_s", times},
          {"cpu_s", stats(cpus).median},
          {"cpu_times_s", cpus},
          {"command", a.command},
          {"io", a.io}};
}

json bench_medinfer(const SeriesMeta& m, int threads, bool reuse, bool cold, const Args& a) {
  const size_t cache_limit = medinfer::block_cache_limit(medinfer::Storage::kHost);
  if (cold) medinfer::set_block_cache_limit(medinfer::Storage::kHost, 0);
  dicom::LoadOptions opt;
  opt.threads = threads;
  opt.output = a.output;
  opt.read_method = a.read_method;
  dicom::ScanOptions scan_opt;
  scan_opt.threads = threads;
  std::vector<double> total, cpus, t_scan, t_plan, t_load;
  json check;
  medinfer::Volume kept;  // reuse: allocated and touched once, before timing
  for (int r = 0; r < a.warmup + a.reps; ++r) {
    const double c0 = process_cpu_s();
    const auto t0 = Clock::now();
    auto scan = dicom::scan({m.path}, scan_opt);
    if (!scan.is_ok()) die("scan " + m.path, scan.status());
    const dicom::SeriesInfo* s = pick_series(*scan);
    if (s == nullptr) die("scan " + m.path, medinfer::corrupt("no loadable series"));
    const double a_scan = seconds_since(t0);
    const auto t1 = Clock::now();
    auto plan = dicom::plan_volume(*s, opt);
    if (!plan.is_ok()) die("plan " + m.path, plan.status());
    medinfer::Volume fresh;
    if (!reuse || kept.bytes() == 0) {
      auto vol = medinfer::Volume::allocate(plan->geometry, opt.output);
      if (!vol.is_ok()) die("allocate", vol.status());
      fresh = std::move(*vol);
    }
    if (reuse && kept.bytes() == 0) {
      // Allocation and first touch happen outside the timed region for this mode.
      std::memset(fresh.data<void>(), 0, fresh.bytes());
      kept = std::move(fresh);
    }
    medinfer::Volume& vol = reuse ? kept : fresh;
    const double a_plan = seconds_since(t1);
    const auto t2 = Clock::now();
    medinfer::Status st = dicom::load_into(*s, *plan, opt, vol.data<void>(), vol.bytes());
    if (!st.is_ok()) die("load " + m.path, st);
    const double a_load = seconds_since(t2);
    const double a_total = seconds_since(t0);
    const double a_cpu = process_cpu_s() - c0;
    if (r == 0) check = volume_check(vol);
    if (r < a.warmup) continue;
    total.push_back(a_total);
    cpus.push_back(a_cpu);
    t_scan.push_back(a_scan);
    t_plan.push_back(a_plan);
    t_load.push_back(a_load);
  }
  if (cold) medinfer::set_block_cache_limit(medinfer::Storage::kHost, cache_limit);
  std::string tool = a.output == medinfer::DType::kInt16 ? "medinfer int16" : "medinfer";
  if (a.io != "auto") tool += " (" + a.io + ")";
  json row = base_row(m,
                      reuse  ? tool + " (reused buffer)"
                      : cold ? tool + " (first touch)"
                             : tool,
                      threads, total, cpus, a);
  row["output"] = medinfer::dtype_name(a.output);
  row["steps_median_s"] = {{"scan", stats(t_scan).median},
                           {"plan_alloc", stats(t_plan).median},
                           {"load_into", stats(t_load).median}};
  row["check"] = check;
  return row;
}

// A page-aligned read buffer: the kernel's copy into it runs at full speed (a 16-byte
// aligned malloc block made `rep movsb` 4x slower on the AMD development VM).
struct ReadBuffer {
  char* data = nullptr;
  size_t size = 0;
  ~ReadBuffer() { std::free(data); }
  void grow(size_t n) {
    if (n <= size) return;
    std::free(data);
    size = (n + 4095) / 4096 * 4096;
    data = static_cast<char*>(std::aligned_alloc(4096, size));
    if (data == nullptr) {
      std::cerr << "dicom_load_bench: out of memory\n";
      std::exit(1);
    }
    std::memset(data, 0, size);  // touched once, outside any timing that matters
  }
};

// Reads every byte of `path` into `buf` (grown as needed). Returns the bytes read.
size_t read_whole(const std::string& path, ReadBuffer& buf) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "dicom_load_bench: cannot open " << path << ": " << std::strerror(errno) << "\n";
    std::exit(1);
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) buf.grow(static_cast<size_t>(st.st_size) + 1);
  size_t total = 0;
  for (;;) {
    if (total == buf.size) {
      // The file grew since fstat: keep what was read, double the room.
      ReadBuffer bigger;
      bigger.grow(buf.size * 2);
      std::memcpy(bigger.data, buf.data, total);
      std::swap(bigger.data, buf.data);
      std::swap(bigger.size, buf.size);
    }
    const ssize_t got = ::read(fd, buf.data + total, buf.size - total);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    total += static_cast<size_t>(got);
  }
  ::close(fd);
  return total;
}

// Reads all of `path` into [dst, dst + capacity); the bytes read. The slot was sized from
// the file's size before timing, so a file that grew is an error, not a resize.
size_t read_into(const std::string& path, char* dst, size_t capacity) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "dicom_load_bench: cannot open " << path << ": " << std::strerror(errno) << "\n";
    std::exit(1);
  }
  size_t total = 0;
  for (;;) {
    const ssize_t got = ::read(fd, dst + total, capacity - total);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    total += static_cast<size_t>(got);
    if (total == capacity) {
      char extra;
      if (::read(fd, &extra, 1) > 0) {
        std::cerr << "dicom_load_bench: " << path << " grew during the benchmark\n";
        std::exit(1);
      }
      break;
    }
  }
  ::close(fd);
  return total;
}

// raw (each thread reads into one reused buffer) or rawmem (each file into its own slot of
// one series-sized buffer, allocated and touched before timing).
json bench_raw(const SeriesMeta& m, int threads, bool into_memory, const Args& a) {
  std::vector<double> times, cpus;
  uint64_t bytes = 0;
  std::vector<size_t> slot;  // rawmem: start of each file's slot, by path order
  ReadBuffer series_buffer;  // page-aligned, as each slot
  if (into_memory) {
    const std::vector<std::string> files = list_files(m.path);
    size_t total = 0;
    for (const auto& f : files) {
      slot.push_back(total);
      total += (fs::file_size(f) + 4095) / 4096 * 4096;  // page-aligned slots (see ReadBuffer)
    }
    slot.push_back(total);
    series_buffer.grow(total);  // touched: no first-touch faults in the timed region
  }
  for (int r = 0; r < a.warmup + a.reps; ++r) {
    const double c0 = process_cpu_s();
    const auto t0 = Clock::now();
    const std::vector<std::string> files = list_files(m.path);
    if (into_memory && files.size() + 1 != slot.size()) {
      std::cerr << "dicom_load_bench: " << m.path << " changed during the benchmark\n";
      std::exit(1);
    }
    // The same persistent thread pool the loader uses (no thread start-up in either).
    std::atomic<uint64_t> read_bytes{0};
    medinfer::ThreadPool::shared().parallel_for(
        static_cast<int64_t>(files.size()),
        [&](int64_t i) {
          static thread_local ReadBuffer buf;  // one per thread, kept: stays in L2
          const size_t k = static_cast<size_t>(i);
          read_bytes +=
              into_memory ? read_into(files[k], series_buffer.data + slot[k], slot[k + 1] - slot[k])
                          : read_whole(files[k], buf);
        },
        threads);
    const double dt = seconds_since(t0);
    const double cpu = process_cpu_s() - c0;
    bytes = read_bytes;
    if (r >= a.warmup) {
      times.push_back(dt);
      cpus.push_back(cpu);
    }
  }
  json row = base_row(m, into_memory ? "raw read into memory (C++)" : "raw read (C++)", threads,
                      times, cpus, a);
  row["bytes"] = bytes;
  row["files"] = m.files;
  row["mb_per_s"] =
      row["median_s"].get<double>() > 0 ? bytes / 1e6 / row["median_s"].get<double>() : 0.0;
  return row;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double load_average() {
  double l[1] = {0};
  return ::getloadavg(l, 1) == 1 ? l[0] : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  json doc;
  doc["meta"] = {{"tool", "dicom_load_bench"},
                 {"commit", a.commit},
                 {"date", utc_now()},
                 {"cpu", cpu_model()},
                 {"hardware_threads", hardware_threads()},
                 {"command", a.command},
                 {"loadavg_start", load_average()}};
  json rows = json::array();
  std::printf("| series | syntax | slices | tool | threads | median s | slices/s | spread |\n");
  std::printf("|---|---|---:|---|---:|---:|---:|---:|\n");
  for (const auto& dir : a.series) {
    const SeriesMeta m = describe(dir);
    for (const auto& mode : a.modes) {
      for (int t : a.threads) {
        json row = mode == "raw" || mode == "rawmem"
                       ? bench_raw(m, t, mode == "rawmem", a)
                       : bench_medinfer(m, t, mode == "reuse", mode == "cold", a);
        std::printf("| %s | %s | %lld | %s | %d | %.4f | %.1f | %.0f%% |\n", m.name.c_str(),
                    m.syntax.c_str(), static_cast<long long>(m.slices),
                    row["tool"].get<std::string>().c_str(), t, row["median_s"].get<double>(),
                    row["slices_per_s"].get<double>(), 100 * row["spread"].get<double>());
        std::fflush(stdout);
        rows.push_back(std::move(row));
      }
    }
  }
  doc["meta"]["loadavg_end"] = load_average();
  doc["rows"] = rows;
  if (!a.json_path.empty()) {
    std::ofstream out(a.json_path);
    out << doc.dump(2) << "\n";
    if (!out) {
      std::cerr << "dicom_load_bench: cannot write " << a.json_path << "\n";
      return 1;
    }
  }
  return 0;
}
