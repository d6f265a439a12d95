#include "dicom/dicom_edit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "medinfer/dicom.h"

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

std::string series_with_truncated_slice(const std::string& src, const std::string& dst,
                                        double keep_fraction) {
  namespace fs = std::filesystem;
  auto r = dicom::scan({src});
  if (!r.is_ok() || r->series.size() != 1) {
    ADD_FAILURE() << "expected one series in " << src;
    return "";
  }
  const dicom::SeriesInfo& s = r->series[0];
  auto plan = dicom::plan_volume(s);
  if (!plan.is_ok()) {
    ADD_FAILURE() << plan.status().to_string();
    return "";
  }
  const std::string mid = s.images[plan->slices[plan->slices.size() / 2].image].path;
  std::string cut;
  for (const auto& im : s.images) {
    const std::string target = (fs::path(dst) / fs::path(im.path).filename()).string();
    if (im.path == mid) {
      truncate_copy(
          im.path, target,
          static_cast<size_t>(static_cast<double>(fs::file_size(im.path)) * keep_fraction));
      cut = target;
    } else {
      fs::create_symlink(fs::absolute(im.path), target);
    }
  }
  return cut;
}

}  // namespace medinfer::testing
