// MappedFile and the SIGBUS guard: a file truncated by another descriptor while mapped
// must turn into an error, and the process must go on (and map files again) afterwards.
#include "core/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/test_data.h"

namespace medinfer {
namespace {

constexpr size_t kBytes = size_t{1} << 20;

std::string write_file(const std::string& name, size_t bytes) {
  const std::string path = testing::temp_dir("mapped_file_" + name) + "/" + name;
  std::vector<char> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(i * 7 + 1);
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(bytes));
  return path;
}

void shrink(const std::string& path, off_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, bytes), 0);
  ::close(fd);
}

// The guarded work: plain data in, plain data out.
struct SumJob {
  const uint8_t* data;
  size_t n;
  uint64_t sum;
};
void sum_bytes(void* p) {
  auto& job = *static_cast<SumJob*>(p);
  job.sum = 0;
  for (size_t i = 0; i < job.n; ++i) job.sum += job.data[i];
}

uint64_t expected_sum(size_t offset, size_t n) {
  uint64_t s = 0;
  for (size_t i = offset; i < offset + n; ++i) s += static_cast<uint8_t>(i * 7 + 1);
  return s;
}

TEST(MappedFile, MapsAnUnalignedRangeReadOnly) {
  const std::string path = write_file("plain", kBytes);
  auto m = MappedFile::map(path, 1234, 100000, /*populate=*/true);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->size(), 100000u);
  SumJob job{m->data(), m->size(), 0};
  ASSERT_TRUE(m->guarded(sum_bytes, &job).is_ok());
  EXPECT_EQ(job.sum, expected_sum(1234, 100000));
  MappedFile moved = std::move(*m);
  EXPECT_EQ(moved.data()[0], static_cast<uint8_t>(1234 * 7 + 1));
}

TEST(MappedFile, RangePastTheEndIsCorruptNamingTheFile) {
  const std::string path = write_file("short", 4096);
  auto m = MappedFile::map(path, 4000, 200, true);
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(m.status().message().find(path), std::string::npos) << m.status().message();
  auto missing = MappedFile::map(path + ".missing", 0, 1, true);
  EXPECT_EQ(missing.status().code(), StatusCode::kIOError);
}

// Regression guard for mapped DICOM reads: another process truncating a file mid-read
// must not kill the reader.
TEST(MappedFile, FileTruncatedWhileMappedIsAnErrorNotACrash) {
  const std::string path = write_file("truncated", kBytes);
  {
    auto m = MappedFile::map(path, 0, kBytes, /*populate=*/true);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    shrink(path, 4096);  // through its own descriptor, as another process would
    SumJob job{m->data(), m->size(), 0};
    const Status st = m->guarded(sum_bytes, &job);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kCorrupt);
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("file shrank while being read"), std::string::npos);
    // The pages still backed by the file read fine through the same mapping.
    SumJob head{m->data(), 4096, 0};
    ASSERT_TRUE(m->guarded(sum_bytes, &head).is_ok());
    EXPECT_EQ(head.sum, expected_sum(0, 4096));
  }
  // A new, whole file afterwards: a normal guarded run succeeds, on this thread and others.
  const std::string again = write_file("again", kBytes);
  auto m = MappedFile::map(again, 0, kBytes, true);
  ASSERT_TRUE(m.is_ok());
  SumJob job{m->data(), m->size(), 0};
  ASSERT_TRUE(m->guarded(sum_bytes, &job).is_ok());
  EXPECT_EQ(job.sum, expected_sum(0, kBytes));
  std::thread other([&] {
    SumJob mine{m->data(), m->size(), 0};
    EXPECT_TRUE(m->guarded(sum_bytes, &mine).is_ok());
    EXPECT_EQ(mine.sum, job.sum);
  });
  other.join();
}

// Each thread catches only faults in its own guarded range: a thread reading a truncated
// mapping fails while another thread reading a whole file at the same time succeeds.
TEST(MappedFile, GuardIsPerThread) {
  const std::string bad = write_file("bad", kBytes), good = write_file("good", kBytes);
  auto mb = MappedFile::map(bad, 0, kBytes, true);
  auto mg = MappedFile::map(good, 0, kBytes, true);
  ASSERT_TRUE(mb.is_ok() && mg.is_ok());
  shrink(bad, 0);
  Status bad_st, good_st;
  std::thread t1([&] {
    for (int i = 0; i < 20; ++i) {
      SumJob job{mb->data(), mb->size(), 0};
      bad_st = mb->guarded(sum_bytes, &job);
    }
  });
  std::thread t2([&] {
    for (int i = 0; i < 20 && good_st.is_ok(); ++i) {
      SumJob job{mg->data(), mg->size(), 0};
      good_st = mg->guarded(sum_bytes, &job);
    }
  });
  t1.join();
  t2.join();
  EXPECT_EQ(bad_st.code(), StatusCode::kCorrupt);
  EXPECT_TRUE(good_st.is_ok()) << good_st.to_string();
}

// A SIGBUS outside every guarded range is not swallowed: it reaches the handler installed
// before ours (here the default action, or the sanitizer's), and the process dies.
TEST(MappedFileDeathTest, UnguardedFaultStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = write_file("unguarded", kBytes);
  auto m = MappedFile::map(path, 0, kBytes, true);
  ASSERT_TRUE(m.is_ok());
  SumJob warm{m->data(), 16, 0};
  ASSERT_TRUE(m->guarded(sum_bytes, &warm).is_ok());  // our handler is installed now
  auto touch_after_shrinking = [&] {
    shrink(path, 0);
    SumJob job{m->data(), m->size(), 0};
    sum_bytes(&job);
    std::printf("%llu\n", static_cast<unsigned long long>(job.sum));
  };
  EXPECT_DEATH(touch_after_shrinking(), "");
}

}  // namespace
}  // namespace medinfer
