// MappedFile and the SIGBUS guard (see mapped_file.h).
#include "core/mapped_file.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

namespace medinfer {
namespace {

// What this thread's innermost guarded call catches. Plain data: the handler reads it.
struct Guard {
  sigjmp_buf* jump;
  uintptr_t begin, end;
};

thread_local Guard* t_guard = nullptr;
struct sigaction g_previous;  // the SIGBUS action before ours; written once, before install
std::once_flag g_install_once;

void on_sigbus(int sig, siginfo_t* info, void* ucontext) {
  const Guard* g = t_guard;
  const auto addr = reinterpret_cast<uintptr_t>(info != nullptr ? info->si_addr : nullptr);
  if (g != nullptr && addr >= g->begin && addr < g->end) siglongjmp(*g->jump, 1);
  // Not ours: behave as if we had never been installed.
  if (g_previous.sa_flags & SA_SIGINFO) {
    g_previous.sa_sigaction(sig, info, ucontext);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  } else {
    // Default action (ignoring a fault would retry the access forever): die of SIGBUS.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

void install_handler() {
  ::sigaction(SIGBUS, nullptr, &g_previous);
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  ::sigemptyset(&sa.sa_mask);
  // NODEFER: SIGBUS stays unblocked after the siglongjmp without saving the signal mask at
  // every sigsetjmp (a syscall); ONSTACK: use the alternate stack where one is set up.
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  ::sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace

bool call_guarding_sigbus(const void* begin, size_t length, void (*fn)(void*), void* context) {
  std::call_once(g_install_once, install_handler);
  sigjmp_buf jump;
  const auto b = reinterpret_cast<uintptr_t>(begin);
  Guard guard{&jump, b, b + length};
  Guard* const outer = t_guard;
  if (sigsetjmp(jump, 0) != 0) {
    t_guard = outer;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return false;
  }
  t_guard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  fn(context);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_guard = outer;
  return true;
}

Result<MappedFile> MappedFile::map(const std::string& path, uint64_t offset, size_t length,
                                   bool populate) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(path + ": cannot stat: " + std::strerror(err));
  }
  // Mapping past the end would raise SIGBUS on access: check the range first.
  if (offset > static_cast<uint64_t>(st.st_size) ||
      length > static_cast<uint64_t>(st.st_size) - offset) {
    ::close(fd);
    return corrupt(path + ": file is " + std::to_string(st.st_size) + " bytes, needed " +
                   std::to_string(offset + length));
  }
  if (length == 0) {
    ::close(fd);
    return MappedFile(path, nullptr, 0, nullptr, 0);
  }
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  const size_t mapped = static_cast<size_t>(offset - start) + length;
  void* base = ::mmap(nullptr, mapped, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd,
                      static_cast<off_t>(start));
  const int err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (base == MAP_FAILED) return io_error(path + ": cannot map: " + std::strerror(err));
  return MappedFile(path, base, mapped, static_cast<const uint8_t*>(base) + (offset - start),
                    length);
}

MappedFile::MappedFile(std::string path, void* base, size_t mapped, const uint8_t* data,
                       size_t size)
    : path_(std::move(path)), base_(base), mapped_(mapped), data_(data), size_(size) {}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      base_(std::exchange(other.base_, nullptr)),
      mapped_(std::exchange(other.mapped_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    base_ = std::exchange(other.base_, nullptr);
    mapped_ = std::exchange(other.mapped_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  unmap();
}

void MappedFile::unmap() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
  base_ = nullptr;
  mapped_ = 0;
}

Status MappedFile::guarded(void (*fn)(void*), void* context) const {
  if (call_guarding_sigbus(base_, mapped_, fn, context)) return Status::ok();
  return corrupt(path_ + ": file shrank while being read");
}

}  // namespace medinfer
