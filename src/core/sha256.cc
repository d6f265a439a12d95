#include "core/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace medinfer {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx != nullptr) EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
}

void Sha256::update(const void* data, size_t bytes) {
  if (impl_->ctx != nullptr && bytes > 0) EVP_DigestUpdate(impl_->ctx, data, bytes);
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (impl_->ctx == nullptr || EVP_DigestFinal_ex(impl_->ctx, digest, &n) != 1) return "";
  std::string out(2 * n, '0');
  static const char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

Result<std::string> sha256_file(const std::string& path, Sha256* into) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error(path + ": cannot open (" + std::strerror(errno) + ")");
  Sha256 own;
  Sha256& h = into != nullptr ? *into : own;
  std::vector<char> block(1 << 20);
  size_t n = 0;
  while ((n = std::fread(block.data(), 1, block.size(), f)) > 0) h.update(block.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return io_error(path + ": read error");
  return into != nullptr ? std::string() : own.hex();
}

}  // namespace medinfer
