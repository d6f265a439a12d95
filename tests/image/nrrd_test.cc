// NRRD reader against pynrrd (tests/image/nrrd_reference.py): dcmqi's real label maps and
// synthetic files pynrrd writes in every supported variant; hostile inputs.
#include <gtest/gtest.h>

#include <zlib.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "image/nrrd.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void expect_matches(const Volume& v, const json& ref, const std::string& raw_path,
                    const std::string& what) {
  const std::string dtype = ref["dtype"];
  const std::map<std::string, DType> names{
      {"uint8", DType::kUInt8},     {"int8", DType::kInt8},      {"uint16", DType::kUInt16},
      {"int16", DType::kInt16},     {"uint32", DType::kUInt32},  {"int32", DType::kInt32},
      {"float32", DType::kFloat32}, {"float64", DType::kFloat64}};
  ASSERT_TRUE(names.count(dtype)) << dtype;
  EXPECT_EQ(v.dtype(), names.at(dtype)) << what;
  const Geometry& g = v.geometry();
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(g.dims[a], ref["sizes"][a].get<int64_t>()) << what;
    EXPECT_NEAR(g.spacing[a], ref["spacing"][a].get<double>(), 1e-6) << what;
    EXPECT_NEAR(g.origin[a], ref["origin"][a].get<double>(), 1e-6) << what;
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(g.direction[i], ref["direction"][i].get<double>(), 1e-6);
  const std::string raw = slurp(raw_path);
  ASSERT_EQ(raw.size(), v.bytes()) << what;
  EXPECT_EQ(std::memcmp(raw.data(), v.buffer().data(), raw.size()), 0)
      << what << ": voxels differ from pynrrd's";
}

const char* kDcmqi[] = {"liver_seg.nrrd",          "spine_seg.nrrd",
                        "heart_seg.nrrd",          "liver_spine_seg.nrrd",
                        "partial_overlaps-1.nrrd", "partial_overlaps-2.nrrd",
                        "partial_overlaps-3.nrrd"};

TEST(Nrrd, DcmqiLabelMapsMatchPynrrdAndLandOnTheCtGrid) {
  const std::string dir = testing::data_path("ct/dcmqi-ct3slice");
  MI_REQUIRE_DATA(dir);
  auto scanned = dicom::scan({dir + "/ct"});
  ASSERT_TRUE(scanned.is_ok()) << scanned.status().to_string();
  ASSERT_EQ(scanned->series.size(), 1u);
  const Geometry ct = dicom::plan_volume(scanned->series[0]).value().geometry;
  const std::string tmp = testing::temp_dir("nrrd_dcmqi");
  for (const char* name : kDcmqi) {
    const std::string path = dir + "/" + name;
    auto v = read_nrrd(path);
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    std::string out;
    const std::string raw = tmp + "/" + name + ".raw";
    ASSERT_EQ(
        testing::run_command(testing::python() + " " + testing::source_dir() +
                                 "/tests/image/nrrd_reference.py describe " + path + " " + raw,
                             &out),
        0)
        << out;
    expect_matches(*v, json::parse(out.substr(out.find('{'))), raw, name);
    // The label map lies on the CT grid it was drawn on (origins are float32-rounded in some
    // of dcmqi's files: a few micrometres).
    const Geometry& g = v->geometry();
    EXPECT_EQ(g.dims, ct.dims) << name;
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(g.spacing[a], ct.spacing[a], 1e-5) << name;
      EXPECT_NEAR(g.origin[a], ct.origin[a], 1e-4) << name;
    }
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(g.direction[i], ct.direction[i], 1e-6) << name;
  }
}

TEST(Nrrd, SyntheticVariantsWrittenByPynrrd) {
  const std::string tmp = testing::temp_dir("nrrd_synthetic");
  std::string out;
  ASSERT_EQ(testing::run_command(testing::python() + " " + testing::source_dir() +
                                     "/tests/image/nrrd_reference.py write " + tmp,
                                 &out),
            0)
      << out;
  int n = 0;
  for (const auto& e : fs::directory_iterator(tmp)) {
    const std::string p = e.path().string();
    if (p.size() < 9 || p.substr(p.size() - 9) != ".ref.json") continue;
    const json ref = json::parse(slurp(p));
    const std::string base = p.substr(0, p.size() - 9);
    auto v = read_nrrd(tmp + "/" + ref["file"].get<std::string>());
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    expect_matches(*v, ref, base + ".ref.raw", ref["file"]);
    ++n;
  }
  EXPECT_EQ(n, 8) << out;
}

// Hostile inputs: each error names the file and what is wrong.
std::string header(const std::string& fields) {
  return "NRRD0004\n" + fields + "\n";
}
const std::string kGood =
    "type: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 3 2\n"
    "space directions: (1,0,0) (0,1,0) (0,0,2)\nendian: little\nencoding: raw\n"
    "space origin: (0,0,0)\n";

Result<Volume> read_text(const std::string& name, const std::string& text) {
  const std::string path = testing::temp_dir("nrrd_bad_" + name) + "/" + name + ".nrrd";
  std::ofstream(path, std::ios::binary) << text;
  return read_nrrd(path);
}

void expect_error(const Result<Volume>& r, StatusCode code, const std::string& needle) {
  ASSERT_FALSE(r.is_ok()) << needle;
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find(".nrrd"), std::string::npos) << "names the file";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

TEST(NrrdBadInput, GoodBaselineReads) {
  auto r = read_text("good", header(kGood) + std::string(48, '\1'));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->data<int16_t>()[23], 0x0101);
  EXPECT_EQ(r->geometry().spacing[2], 2.0);
}

TEST(NrrdBadInput, TruncatedRaw) {
  expect_error(read_text("trunc_raw", header(kGood) + std::string(47, '\1')), StatusCode::kCorrupt,
               "truncated data: 47 of 48 bytes");
}

TEST(NrrdBadInput, TruncatedGzip) {
  std::vector<uint8_t> data(48, 7), z(128);
  uLongf zn = z.size();
  ASSERT_EQ(compress2(z.data(), &zn, data.data(), data.size(), 6), Z_OK);
  const std::string zs(reinterpret_cast<char*>(z.data()), zn / 2);
  expect_error(
      read_text("trunc_gz", header(replace(kGood, "encoding: raw", "encoding: gzip")) + zs),
      StatusCode::kCorrupt, "truncated");
}

TEST(NrrdBadInput, BadFields) {
  const std::string body(48, '\0');
  expect_error(read_text("magic", "NRRX0004\n" + kGood + "\n" + body), StatusCode::kCorrupt,
               "not a NRRD file");
  expect_error(read_text("sizes", header(replace(kGood, "sizes: 4 3 2", "sizes: 4 -3 2")) + body),
               StatusCode::kCorrupt, "field 'sizes'");
  expect_error(read_text("type", header(replace(kGood, "type: short", "type: complex")) + body),
               StatusCode::kNotSupported, "field 'type'");
  expect_error(read_text("dim", header(replace(kGood, "dimension: 3", "dimension: 4")) + body),
               StatusCode::kNotSupported, "field 'dimension' is 4");
  expect_error(read_text("dirs", header(replace(kGood, "(0,0,2)", "(0,0,0)")) + body),
               StatusCode::kCorrupt, "axis 2 has a zero vector");
  expect_error(read_text("dirs2", header(replace(kGood, "(0,1,0) ", "")) + body),
               StatusCode::kCorrupt, "expected 3 vectors");
  expect_error(read_text("vec", header(replace(kGood, "(0,0,0)", "(0,zero,0)")) + body),
               StatusCode::kCorrupt, "field 'space origin'");
  expect_error(
      read_text("space", header(replace(kGood, "left-posterior-superior", "scanner-xyz")) + body),
      StatusCode::kNotSupported, "field 'space'");
  expect_error(
      read_text("nospace", header(replace(kGood, "space: left-posterior-superior\n", "")) + body),
      StatusCode::kNotSupported, "field 'space' is missing");
  expect_error(read_text("endian", header(replace(kGood, "endian: little\n", "")) + body),
               StatusCode::kCorrupt, "field 'endian'");
  expect_error(read_text("enc", header(replace(kGood, "encoding: raw", "encoding: bzip2")) + body),
               StatusCode::kNotSupported, "field 'encoding'");
  expect_error(read_text("dup", header(kGood + "type: short\n") + body), StatusCode::kCorrupt,
               "field 'type' appears twice");
  expect_error(read_text("line", "NRRD0004\ntype short\n"), StatusCode::kCorrupt,
               "malformed header line");
  expect_error(read_text("nodata", "NRRD0004\n" + kGood), StatusCode::kCorrupt, "no data");
  expect_error(read_text("datafile", header(kGood + "data file: missing.raw\n")),
               StatusCode::kIOError, "field 'data file'");
}

}  // namespace
}  // namespace medinfer
