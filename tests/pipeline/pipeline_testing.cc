// Pipeline test helpers (pipeline_testing.h).
#include "pipeline/pipeline_testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dicom/dicom_edit.h"  // DCMTK, to read the SEGs
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

// PixelData bytes and NumberOfFrames of a SEG, or an error text.
std::string seg_pixels(const std::string& path, std::string* frames) {
  DcmFileFormat file;
  if (file.loadFile(path.c_str()).bad()) return "cannot load " + path;
  DcmDataset* ds = file.getDataset();
  OFString n;
  ds->findAndGetOFString(DCM_NumberOfFrames, n);
  *frames = n.c_str();
  const Uint8* bytes = nullptr;
  unsigned long count = 0;
  if (ds->findAndGetUint8Array(DCM_PixelData, bytes, &count).bad() || bytes == nullptr) {
    return "no pixel data in " + path;
  }
  return std::string(reinterpret_cast<const char*>(bytes), count);
}

}  // namespace

std::vector<std::string> replicate_series(const std::string& src, const std::string& dst,
                                          int copies) {
  std::string output;
  const int rc =
      run_command("'" + python() + "' '" + source_dir() + "/bench/replicate_series.py' '" + src +
                      "' '" + dst + "' --copies " + std::to_string(copies),
                  &output);
  EXPECT_EQ(rc, 0) << output;
  std::vector<std::string> dirs;
  for (int c = 0; c < copies; ++c) {
    char name[16];
    std::snprintf(name, sizeof name, "/%03d", c);
    dirs.push_back(dst + name);
  }
  return dirs;
}

std::vector<std::string> compare_outputs(const std::string& expected, const std::string& actual) {
  std::vector<std::string> diffs;
  const std::set<std::string> want = entries(expected), got = entries(actual);
  if (want != got) {
    std::string w, g;
    for (const auto& e : want) w += " " + e;
    for (const auto& e : got) g += " " + e;
    diffs.push_back("folders differ: expected" + w + "; got" + g);
    return diffs;
  }
  for (const std::string& name : want) {
    const std::string a = expected + "/" + name, b = actual + "/" + name;
    if (!fs::is_directory(a)) continue;  // the run's own summary.{json,md}
    for (const std::string f : {"/labels.nii.gz"}) {
      if (slurp(a + f) != slurp(b + f)) diffs.push_back(name + f + " differs");
    }
    if (entries(a + "/png") != entries(b + "/png")) diffs.push_back(name + "/png: other files");
    for (const std::string& png : entries(a + "/png")) {
      if (slurp(a + "/png/" + png) != slurp(b + "/png/" + png)) {
        diffs.push_back(name + "/png/" + png + " differs");
      }
    }
    if (fs::exists(a + "/seg.dcm") != fs::exists(b + "/seg.dcm")) {
      diffs.push_back(name + "/seg.dcm: written in one run only");
    } else if (fs::exists(a + "/seg.dcm")) {
      std::string fa, fb;
      if (seg_pixels(a + "/seg.dcm", &fa) != seg_pixels(b + "/seg.dcm", &fb) || fa != fb) {
        diffs.push_back(name + "/seg.dcm: pixel data or frame count differs");
      }
    }
    const auto ja = nlohmann::json::parse(slurp(a + "/summary.json"), nullptr, false);
    const auto jb = nlohmann::json::parse(slurp(b + "/summary.json"), nullptr, false);
    if (ja.is_discarded() || jb.is_discarded()) {
      diffs.push_back(name + "/summary.json does not parse");
    } else if (ja["studies"][0]["labels"] != jb["studies"][0]["labels"]) {
      diffs.push_back(name + "/summary.json: label volumes differ");
    }
  }
  return diffs;
}

}  // namespace medinfer::testing
