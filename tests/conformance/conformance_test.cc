// Decoding conformance: every file of three public corpora is read with
// medinfer::dicom::read_header/decode_frame and compared with the Python reference decode
// written by make_references.py (pydicom 3 `pixel_array` with its JPEG, JPEG-LS, JPEG 2000
// and RLE plugins; see docs/CONFORMANCE.md).
//
//   dicomParser         lossless variants equal their uncompressed sibling and pydicom
//   pylibjpeg-data      lossless equal pydicom, lossy within +-1; attributes as in
//                       expected_attributes.json
//   pydicom-test-files  Debian's python3-pydicom test files, malformed ones among them
//
// A file pydicom decodes must decode to the same values (lossy transfer syntaxes: within
// the manifest's tolerance). A file pydicom cannot decode must be rejected with a Status
// naming the file, or decode to a second reference (the corpus's repaired copy, DCMTK).
// Files without pixel data, or not DICOM at all, must never crash and never "decode".
//
// The references are generated once per build tree (make_references.py takes a lock and
// skips the work while its manifest is newer than the script), so each of ctest's
// one-test processes only reads the manifest and its own .npy files.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "image/dtype_dispatch.h"
#include "medinfer/dicom.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

// Debian's python3-pydicom test files; MEDINFER_PYDICOM_TEST_FILES overrides.
std::string pydicom_test_files() {
  const char* env = std::getenv("MEDINFER_PYDICOM_TEST_FILES");
  return env != nullptr ? env : "/usr/lib/python3/dist-packages/pydicom/data/test_files";
}

struct Corpus {
  std::string name;  // key prefix in the manifest
  std::string root;
};

std::vector<Corpus> corpora() {
  return {{"dicomParser", data_path("conformance/dicomParser")},
          {"pylibjpeg-data", data_path("conformance/pylibjpeg-data")},
          {"pydicom-test-files", pydicom_test_files()}};
}

// One test per file. `relpath` is empty for the placeholder of a missing corpus.
struct Case {
  std::string corpus;
  std::string root;
  std::string relpath;
  std::string test_name;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.corpus << "/" << c.relpath;
}

// The same files make_references.py walks (it skips the same documentation files).
std::vector<Case> list_cases(const std::string& corpus_name) {
  Corpus corpus;
  for (const Corpus& c : corpora()) {
    if (c.name == corpus_name) corpus = c;
  }
  std::vector<Case> cases;
  std::error_code ec;
  if (fs::is_directory(corpus.root, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(corpus.root, ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || name == "LICENSE" || name == "expected_attributes.json") {
        continue;
      }
      cases.push_back(
          {corpus.name, corpus.root, fs::relative(e.path(), corpus.root).generic_string(), ""});
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.relpath < b.relpath; });
  if (cases.empty()) cases.push_back({corpus.name, corpus.root, "", "corpus_missing"});
  std::map<std::string, int> seen;
  for (Case& c : cases) {
    if (!c.test_name.empty()) continue;
    std::string n;
    for (char ch : c.relpath) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    if (int k = seen[n]++; k > 0) n += "_" + std::to_string(k + 1);
    c.test_name = n;
  }
  return cases;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The manifest, generated (or found up to date) once per process.
struct References {
  std::string dir;
  std::string error;                  // why there are no references
  bool python_missing = false;        // setup has not been run: skip, as for missing data
  std::map<std::string, json> files;  // by key "<corpus>/<relpath>"
};

bool manifest_fresh(const std::string& manifest, const std::string& script, const json& roots) {
  std::error_code e1, e2;
  const auto made = fs::last_write_time(manifest, e1), edited = fs::last_write_time(script, e2);
  if (e1 || e2 || made < edited) return false;
  std::ifstream f(manifest);
  json j = json::parse(f, nullptr, /*allow_exceptions=*/false);
  return !j.is_discarded() && j.value("roots", json()) == roots;
}

const References& references() {
  static const References refs = [] {
    References r;
    r.dir = binary_dir() + "/test_tmp/conformance_references";
    const std::string script = source_dir() + "/tests/conformance/make_references.py";
    const std::string manifest = r.dir + "/manifest.json";
    json roots = json::array();
    std::string args;
    for (const Corpus& c : corpora()) {
      if (!fs::is_directory(c.root)) continue;
      roots.push_back({c.name, fs::absolute(c.root).lexically_normal().string()});
      args += " " + shell_quote(c.name + "=" + c.root);
    }
    if (roots.empty()) {
      r.error = "no corpus present";
      return r;
    }
    if (!manifest_fresh(manifest, script, roots)) {
      if (!fs::exists(python())) {
        r.error = "reference Python not found: " + python() + " (run scripts/setup.sh)";
        r.python_missing = true;
        return r;
      }
      std::string out;
      const std::string cmd =
          shell_quote(python()) + " " + shell_quote(script) + " --out " + shell_quote(r.dir) + args;
      if (run_command(cmd, &out) != 0) {
        r.error = "make_references.py failed:\n" + cmd + "\n" + out;
        return r;
      }
    }
    std::ifstream f(manifest);
    json j = json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      r.error = "unreadable manifest " + manifest;
      return r;
    }
    for (const json& e : j["files"]) r.files[e["key"].get<std::string>()] = e;
    return r;
  }();
  return refs;
}

// What a failure message needs to diagnose a disagreement.
std::string describe(const dicom::ImageInfo& info) {
  std::ostringstream s;
  s << dicom::transfer_syntax_name(info.transfer_syntax) << " (" << info.transfer_syntax << "), "
    << info.photometric << ", " << info.rows << "x" << info.columns << "x" << info.samples_per_pixel
    << ", " << info.frames << " frame(s), bits allocated/stored/high " << info.bits_allocated << "/"
    << info.bits_stored << "/" << info.high_bit << ", pixel representation "
    << info.pixel_representation << ", planar configuration " << info.planar_configuration;
  return s.str();
}

std::string npy_dtype(DType t) {
  switch (t) {
    case DType::kUInt8:
      return "u1";
    case DType::kInt8:
      return "i1";
    case DType::kUInt16:
      return "u2";
    case DType::kInt16:
      return "i2";
    case DType::kUInt32:
      return "u4";
    case DType::kInt32:
      return "i4";
    case DType::kFloat32:
      return "f4";
    case DType::kFloat64:
      return "f8";
  }
  return "?";
}

int64_t element(const std::vector<uint8_t>& bytes, DType t, int64_t i) {
  auto load = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, bytes.data() + i * sizeof(v), sizeof(v));
    return static_cast<int64_t>(v);
  };
  return visit_dtype(t, load);
}

// Every frame of `info`, or the first error. Frame 0 is asked for even when the header
// claims no frames, so such a file cannot pass as "decoded" without medinfer saying so.
Result<std::vector<uint8_t>> decode_all(const dicom::ImageInfo& info) {
  const size_t frame = dicom::frame_bytes(info);
  const int64_t frames = std::max<int64_t>(info.frames, 1);
  std::vector<uint8_t> all(frame * static_cast<size_t>(frames));
  for (int64_t f = 0; f < frames; ++f) {
    Status st = dicom::decode_frame(info, f, all.data() + f * frame, frame);
    if (!st.is_ok()) return st;
  }
  return all;
}

// How decoded values compare with a reference array.
struct Comparison {
  std::string error;     // the arrays cannot be compared (shape, size, unreadable)
  int64_t max_diff = 0;  // largest |medinfer - reference|
  int64_t over = 0;      // values differing by more than the tolerance
  std::string where;     // the worst and the first offending value, for the message

  bool within(int64_t tolerance) const { return error.empty() && max_diff <= tolerance; }
  std::string message() const { return error.empty() ? where : error; }
};

Comparison compare(const dicom::ImageInfo& info, const std::vector<uint8_t>& decoded,
                   const std::string& npy_path, int64_t tolerance) {
  Comparison c;
  auto ref = read_npy(npy_path);
  if (!ref.is_ok()) {
    c.error = "cannot read reference: " + ref.status().to_string();
    return c;
  }
  const int64_t spp = info.samples_per_pixel;
  const std::vector<int64_t> shape{info.frames, info.rows, info.columns, spp};
  std::ostringstream s;
  if (ref->shape != shape) {
    s << "shape: reference";
    for (int64_t d : ref->shape) s << " " << d;
    s << ", medinfer header";
    for (int64_t d : shape) s << " " << d;
    c.error = s.str();
    return c;
  }
  const DType dt = dicom::stored_dtype(info);
  const int64_t n = ref->size();
  if (static_cast<int64_t>(decoded.size()) != n * static_cast<int64_t>(dtype_size(dt))) {
    s << "decoded " << decoded.size() << " bytes for " << n << " values of " << dtype_name(dt);
    c.error = s.str();
    return c;
  }
  int64_t worst = -1, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = std::llabs(element(decoded, dt, i) - static_cast<int64_t>(ref->at(i)));
    if (d > tolerance && c.over++ == 0) first = i;
    if (d > c.max_diff) c.max_diff = d, worst = i;
  }
  if (c.over == 0) return c;
  auto at = [&](int64_t i) {
    std::ostringstream p;
    p << "frame " << i / spp / info.columns / info.rows << " row "
      << i / spp / info.columns % info.rows << " column " << i / spp % info.columns << " sample "
      << i % spp << ": reference " << static_cast<int64_t>(ref->at(i)) << ", medinfer "
      << element(decoded, dt, i);
    return p.str();
  };
  // The first offending value too: a systematic error shows at the start of the frame.
  s << c.over << " of " << n << " values differ by more than " << tolerance << "; max |diff| "
    << c.max_diff << " at " << at(worst) << "; first at " << at(first);
  c.where = s.str();
  return c;
}

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  // A rejection must name the file so the user knows which input to fix.
  static void expect_names_file(const Status& st, const std::string& path) {
    EXPECT_FALSE(st.is_ok());
    EXPECT_THAT(st.message(), HasSubstr(fs::path(path).filename().string()))
        << "the error does not name the file: " << st.to_string();
  }

  // Frame index and buffer size are checked before anything is written.
  static void expect_rejects_bad_calls(const dicom::ImageInfo& info) {
    std::vector<uint8_t> buf(dicom::frame_bytes(info) + 1);
    EXPECT_FALSE(dicom::decode_frame(info, info.frames, buf.data(), buf.size()).is_ok())
        << "frame index past the end accepted";
    EXPECT_FALSE(dicom::decode_frame(info, -1, buf.data(), buf.size()).is_ok())
        << "negative frame index accepted";
    if (dicom::frame_bytes(info) > 0) {
      EXPECT_FALSE(dicom::decode_frame(info, 0, buf.data(), buf.size() - 2).is_ok())
          << "short destination buffer accepted";
    }
  }

  static void check_attributes(const dicom::ImageInfo& info, const json& entry) {
    const json& a = entry["attributes"];
    auto expect_eq = [&](const char* what, const json& want, int64_t got) {
      if (want.is_number_integer()) EXPECT_EQ(want.get<int64_t>(), got) << what << " (pydicom)";
    };
    expect_eq("Rows", a["rows"], info.rows);
    expect_eq("Columns", a["columns"], info.columns);
    expect_eq("SamplesPerPixel", a["samples_per_pixel"], info.samples_per_pixel);
    expect_eq("BitsAllocated", a["bits_allocated"], info.bits_allocated);
    expect_eq("BitsStored", a["bits_stored"], info.bits_stored);
    expect_eq("HighBit", a["high_bit"], info.high_bit);
    expect_eq("PixelRepresentation", a["pixel_representation"], info.pixel_representation);
    expect_eq("NumberOfFrames", a["frames"], info.frames);
    EXPECT_EQ(a["photometric"].get<std::string>(), info.photometric) << "(pydicom)";
    if (!entry.contains("expected_attributes")) return;
    // pylibjpeg-data's own table of what each file holds. Where the file itself says
    // otherwise (pydicom and dcmdump agree), the table is wrong and the check above holds.
    const json& x = entry["expected_attributes"];
    const json errata = entry.value("expected_attributes_errata", json::object());
    auto expect_x = [&](const char* key, int64_t got) {
      if (!x.contains(key) || errata.contains(key)) return;
      const json& v = x[key];
      const int64_t want = v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
      EXPECT_EQ(want, got) << key << " (expected_attributes.json)";
    };
    expect_x("Rows", info.rows);
    expect_x("Columns", info.columns);
    expect_x("SamplesPerPixel", info.samples_per_pixel);
    expect_x("BitsAllocated", info.bits_allocated);
    expect_x("BitsStored", info.bits_stored);
    expect_x("HighBit", info.high_bit);
    expect_x("PixelRepresentation", info.pixel_representation);
    expect_x("NumberOfFrames", info.frames);
    if (x.contains("PhotometricInterpretation") && !errata.contains("PhotometricInterpretation")) {
      EXPECT_EQ(x["PhotometricInterpretation"].get<std::string>(), info.photometric)
          << "(expected_attributes.json)";
    }
  }
};

TEST_P(Conformance, Decode) {
  const Case& c = GetParam();
  MI_REQUIRE_DATA(c.root);
  ASSERT_FALSE(c.relpath.empty()) << "no files under " << c.root;
  const References& refs = references();
  if (refs.python_missing && !under_ci()) GTEST_SKIP() << refs.error;
  ASSERT_TRUE(refs.error.empty()) << refs.error;
  auto it = refs.files.find(c.corpus + "/" + c.relpath);
  ASSERT_NE(it, refs.files.end()) << "no reference for " << c.relpath << " in " << refs.dir
                                  << "/manifest.json";
  const json& e = it->second;
  const std::string path = e["path"];
  const std::string status = e["status"];
  SCOPED_TRACE(path);
  // Recorded in --gtest_output for summarize.py (docs/CONFORMANCE.md).
  auto outcome = [&](const std::string& what, const std::string& detail = "") {
    RecordProperty("outcome", what);
    if (!detail.empty()) RecordProperty("detail", detail);
  };

  auto header = dicom::read_header(path);

  if (status == "not_dicom" || status == "no_pixels") {
    // pydicom finds no image here. medinfer may read a header, but must not decode.
    if (!header.is_ok()) {
      outcome("rejected", header.status().to_string());
      expect_names_file(header.status(), path);
      return;
    }
    EXPECT_FALSE(header->has_pixel_data) << "pydicom finds no pixel data (" << status
                                         << ") but medinfer does: " << describe(*header);
    std::vector<uint8_t> buf(std::max<size_t>(dicom::frame_bytes(*header), 1));
    Status st = dicom::decode_frame(*header, 0, buf.data(), buf.size());
    if (!header->has_pixel_data) expect_names_file(st, path);
    outcome("no_pixels", st.to_string());
    return;
  }

  const std::string pydicom_error = e.value("error", "");
  if (status == "decode_error") {
    // pydicom cannot decode it: a clear rejection, or agreement with a second reference.
    if (!header.is_ok()) {
      outcome("rejected", header.status().to_string());
      expect_names_file(header.status(), path);
      return;
    }
    auto decoded = decode_all(*header);
    if (!decoded.is_ok()) {
      outcome("rejected", decoded.status().to_string());
      expect_names_file(decoded.status(), path);
      expect_rejects_bad_calls(*header);
      return;
    }
    const json second = e.value("second_reference", json::object());
    if (!second.contains("npy")) {
      outcome("decoded_unverified");
      FAIL() << "medinfer decodes a file that pydicom rejects (" << pydicom_error
             << ") and no second reference exists (" << second.value("error", "") << "); "
             << describe(*header);
    }
    const int64_t tolerance = second["tolerance"];
    const Comparison cmp =
        compare(*header, *decoded, refs.dir + "/" + second["npy"].get<std::string>(), tolerance);
    RecordProperty("max_abs_diff", std::to_string(cmp.max_diff));
    outcome(!cmp.within(tolerance) ? "differs"
            : cmp.max_diff == 0    ? "identical_second_reference"
                                   : "within_tolerance_second_reference",
            second["decoder"].get<std::string>());
    EXPECT_TRUE(cmp.within(tolerance))
        << cmp.message() << "; vs second reference " << second["decoder"]
        << " (pydicom: " << pydicom_error << "); " << describe(*header);
    return;
  }

  ASSERT_EQ(status, "image");
  // "*_bad.dcm": broken on purpose; rejecting it is as good as decoding it like pydicom.
  const bool broken = e.value("deliberately_broken", false);
  if (broken && !header.is_ok()) {
    outcome("rejected", header.status().to_string());
    expect_names_file(header.status(), path);
    return;
  }
  if (!header.is_ok()) outcome("fails", header.status().to_string());
  ASSERT_TRUE(header.is_ok()) << "pydicom decodes this file (" << e["decoder"]
                              << ") but medinfer rejects it: " << header.status().to_string();
  const dicom::ImageInfo& info = *header;
  EXPECT_TRUE(info.has_pixel_data);
  check_attributes(info, e);
  EXPECT_EQ(npy_dtype(dicom::stored_dtype(info)), e["dtype"].get<std::string>())
      << "element type; " << describe(info);

  auto decoded = decode_all(info);
  if (broken && !decoded.is_ok()) {
    outcome("rejected", decoded.status().to_string());
    expect_names_file(decoded.status(), path);
    return;
  }
  if (!decoded.is_ok()) outcome("fails", decoded.status().to_string());
  ASSERT_TRUE(decoded.is_ok()) << "pydicom decodes this file (" << e["decoder"]
                               << ") but medinfer fails: " << decoded.status().to_string() << "; "
                               << describe(info);
  const int64_t tolerance = e["tolerance"];
  const Comparison cmp =
      compare(info, *decoded, refs.dir + "/" + e["npy"].get<std::string>(), tolerance);
  RecordProperty("max_abs_diff", std::to_string(cmp.max_diff));
  outcome(!cmp.within(tolerance) ? "differs"
          : cmp.max_diff == 0    ? "identical"
                                 : "within_tolerance");
  EXPECT_TRUE(cmp.within(tolerance))
      << cmp.message() << "; vs " << e["decoder"] << " (other plugins: max |diff| or error "
      << e["cross_check"].dump() << "); " << describe(info);

  // dicomParser: a lossless variant decodes to exactly its uncompressed sibling.
  if (e.contains("uncompressed") && !e["lossy"].get<bool>()) {
    auto sib = refs.files.find(e["uncompressed"].get<std::string>());
    ASSERT_NE(sib, refs.files.end());
    ASSERT_EQ(sib->second["status"], "image") << sib->first;
    const Comparison scmp =
        compare(info, *decoded, refs.dir + "/" + sib->second["npy"].get<std::string>(), 0);
    EXPECT_TRUE(scmp.within(0)) << scmp.message() << "; vs the uncompressed " << sib->first << "; "
                                << describe(info);
  }
  expect_rejects_bad_calls(info);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.test_name;
}

INSTANTIATE_TEST_SUITE_P(DicomParser, Conformance, ::testing::ValuesIn(list_cases("dicomParser")),
                         case_name);
INSTANTIATE_TEST_SUITE_P(PylibjpegData, Conformance,
                         ::testing::ValuesIn(list_cases("pylibjpeg-data")), case_name);
INSTANTIATE_TEST_SUITE_P(PydicomTestFiles, Conformance,
                         ::testing::ValuesIn(list_cases("pydicom-test-files")), case_name);

}  // namespace
}  // namespace medinfer::testing
