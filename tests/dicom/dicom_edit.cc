#include "dicom/dicom_edit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace medinfer::testing {

std::vector<std::string> copy_files(const std::string& src, const std::string& dst,
                                    size_t max_files) {
  namespace fs = std::filesystem;
  std::vector<fs::path> in;
  for (const auto& e : fs::directory_iterator(src)) {
    if (e.is_regular_file()) in.push_back(e.path());
  }
  std::sort(in.begin(), in.end());
  if (in.size() > max_files) in.resize(max_files);
  std::vector<std::string> out;
  for (const auto& p : in) {
    fs::path target = fs::path(dst) / p.filename();
    fs::copy_file(p, target, fs::copy_options::overwrite_existing);
    fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
    out.push_back(target.string());
  }
  return out;
}

void edit_dicom(const std::string& path, const std::function<void(DcmDataset&)>& edit) {
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(path.c_str()).good()) << path;
  ASSERT_TRUE(ff.loadAllDataIntoMemory().good()) << path;
  const E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
  edit(*ff.getDataset());
  ASSERT_TRUE(ff.saveFile(path.c_str(), xfer).good()) << path;
}

void truncate_copy(const std::string& src, const std::string& dst, size_t keep) {
  std::ifstream in(src, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(std::min(keep, bytes.size()));
  std::ofstream out(dst, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace medinfer::testing
