// The header fast path against DCMTK's reader: wherever the fast path accepts a file, both
// give the same ImageInfo, field by field; and it does accept the plain files it is for.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "dicom/dicom_edit.h"
#include "dicom/native_header.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;
using testing::data_path;

std::string describe(const ImageInfo& a) {
  std::ostringstream o;
  o.precision(17);
  o << a.sop_class_uid << '|' << a.sop_instance_uid << '|' << a.study_uid << '|' << a.series_uid
    << '|' << a.frame_of_reference_uid << '|' << a.modality << '|' << a.series_description << '|'
    << a.study_description << '|' << a.transfer_syntax << '|' << a.object_kind << '|'
    << a.series_number << '|' << a.instance_number << '|' << a.has_pixel_data << '|' << a.rows
    << 'x' << a.columns << '|' << a.samples_per_pixel << '|' << a.bits_allocated << '/'
    << a.bits_stored << '/' << a.high_bit << '|' << a.pixel_representation << '|'
    << a.planar_configuration << '|' << a.photometric << '|' << a.frames << '|' << a.gantry_tilt
    << '|' << a.rescale_type << '|' << a.pixel_data_offset;
  for (const FrameInfo& f : a.frame_info) {
    o << "|f " << f.has_position << f.has_orientation << f.has_pixel_spacing;
    for (double v : f.position) o << ' ' << v;
    for (double v : f.orientation) o << ' ' << v;
    for (double v : f.pixel_spacing) o << ' ' << v;
    o << ' ' << f.rescale_slope << ' ' << f.rescale_intercept << ' ' << f.slice_thickness << ' '
      << f.spacing_between_slices;
  }
  return o.str();
}

std::vector<std::string> files_under(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Tally {
  int files = 0, accepted = 0;
};

// Every file: when the fast path accepts, DCMTK must read the same header.
Tally compare_all(const std::vector<std::string>& files) {
  Tally t;
  for (const auto& path : files) {
    ++t.files;
    std::optional<ImageInfo> fast = read_native_header(path);
    if (!fast) continue;
    ++t.accepted;
    Result<ImageInfo> ref = read_header_dcmtk(path);
    EXPECT_TRUE(ref.is_ok()) << path << ": fast path accepted what DCMTK rejects: "
                             << ref.status().message();
    if (ref.is_ok()) {
      EXPECT_EQ(describe(*fast), describe(*ref)) << path;
      EXPECT_TRUE(*fast == *ref) << path;  // every field, exactly
    }
  }
  return t;
}

TEST(NativeHeader, AgreesWithDcmtkOnEverySharedCtSeries) {
  const std::string ct = data_path("ct");
  MI_REQUIRE_DATA(ct);
  const Tally t = compare_all(files_under(ct));
  EXPECT_GT(t.files, 400);
  // The 99 implicit-VR 4D-Lung slices are exactly what the fast path is for.
  const Tally lung = compare_all(files_under(data_path("ct/4dlung-113/ct")));
  EXPECT_EQ(lung.accepted, 99);
  std::cout << "ct: " << t.accepted << " of " << t.files << " files took the fast path\n";
}

TEST(NativeHeader, AgreesWithDcmtkOnConformanceFiles) {
  const std::string root = data_path("conformance");
  MI_REQUIRE_DATA(root);
  const Tally t = compare_all(files_under(root));
  EXPECT_GE(t.accepted, 7);  // the native little-endian single-frame files among them
  std::cout << "conformance: " << t.accepted << " of " << t.files << " files took the fast path\n";
}

TEST(NativeHeader, AgreesWithDcmtkOnPydicomTestFiles) {
  const char* env = std::getenv("MEDINFER_PYDICOM_TEST_FILES");
  const std::string root = env ? env : "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (!fs::exists(root)) GTEST_SKIP() << "python3-pydicom test files not installed: " << root;
  const Tally t = compare_all(files_under(root));
  EXPECT_GT(t.accepted, 5);
  std::cout << "pydicom test files: " << t.accepted << " of " << t.files
            << " files took the fast path\n";
}

// Synthetic variants of one real 4D-Lung slice (edited with DCMTK): each either takes the
// fast path with DCMTK's answer, or is left to DCMTK.
class NativeHeaderEdits : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string src = data_path("ct/4dlung-113/ct");
    MI_REQUIRE_DATA(src);
    dir_ = testing::temp_dir("native_header_edits");
    path_ = testing::copy_files(src, dir_, 1).front();
  }
  std::string dir_, path_;
};

TEST_F(NativeHeaderEdits, ValueVariantsAgreeOrFallBack) {
  struct Edit {
    const char* name;
    std::function<void(DcmDataset&)> apply;
    bool fast;  // expected to take the fast path
  };
  const std::vector<Edit> edits = {
      {"padded decimals",
       [](DcmDataset& d) { d.putAndInsertString(DCM_RescaleIntercept, " -1024 "); }, true},
      {"exponent", [](DcmDataset& d) { d.putAndInsertString(DCM_RescaleSlope, "1.0E0"); }, true},
      {"empty description", [](DcmDataset& d) { d.putAndInsertString(DCM_SeriesDescription, ""); },
       true},
      {"one frame", [](DcmDataset& d) { d.putAndInsertString(DCM_NumberOfFrames, "1"); }, true},
      {"two frames", [](DcmDataset& d) { d.putAndInsertString(DCM_NumberOfFrames, "2"); }, false},
      {"junk decimal", [](DcmDataset& d) { d.putAndInsertString(DCM_RescaleSlope, "1.0x"); },
       false},
      {"junk integer", [](DcmDataset& d) { d.putAndInsertString(DCM_InstanceNumber, "12a"); },
       false},
      {"functional groups",
       [](DcmDataset& d) {
         DcmItem* item = nullptr;
         d.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, item, -2);
       },
       false},
      {"rows zero", [](DcmDataset& d) { d.putAndInsertUint16(DCM_Rows, 0); }, false},
  };
  for (const Edit& e : edits) {
    std::string name = e.name;
    std::replace(name.begin(), name.end(), ' ', '_');
    const std::string path = dir_ + "/" + name + ".dcm";
    fs::copy_file(path_, path, fs::copy_options::overwrite_existing);
    testing::edit_dicom(path, e.apply);
    std::optional<ImageInfo> fast = read_native_header(path);
    EXPECT_EQ(fast.has_value(), e.fast) << e.name;
    Result<ImageInfo> ref = read_header_dcmtk(path);
    if (fast && ref.is_ok()) EXPECT_EQ(describe(*fast), describe(*ref)) << e.name;
    // read_header gives DCMTK's answer whichever path it took.
    Result<ImageInfo> got = read_header(path);
    ASSERT_EQ(got.is_ok(), ref.is_ok()) << e.name;
    if (got.is_ok()) {
      EXPECT_EQ(describe(*got), describe(*ref)) << e.name;
    } else {
      EXPECT_EQ(got.status().message(), ref.status().message()) << e.name;
    }
  }
}

TEST_F(NativeHeaderEdits, TruncatedCopiesFallBackToDcmtkErrors) {
  const auto size = fs::file_size(path_);
  for (size_t keep : {size_t{0}, size_t{100}, size_t{140}, size_t{1000}, size_t{size - 1}}) {
    const std::string cut = dir_ + "/cut" + std::to_string(keep);
    testing::truncate_copy(path_, cut, keep);
    EXPECT_FALSE(read_native_header(cut).has_value()) << keep;
    Result<ImageInfo> got = read_header(cut);
    EXPECT_FALSE(got.is_ok()) << keep;
  }
  EXPECT_FALSE(read_native_header(dir_ + "/no-such-file").has_value());
}

}  // namespace
}  // namespace medinfer::dicom
