#include "dicom/item_access.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "dicom/dataset.h"

namespace medinfer::dicom {

std::vector<DcmItem*> items(DcmItem& item, const DcmTagKey& seq) {
  std::vector<DcmItem*> out;
  DcmSequenceOfItems* s = nullptr;
  if (item.findAndGetSequence(seq, s).bad() || s == nullptr) return out;
  for (unsigned long i = 0; i < s->card(); ++i) out.push_back(s->getItem(i));
  return out;
}

Result<std::vector<double>> numbers(DcmItem& item, const DcmTagKey& tag, const std::string& where) {
  std::vector<double> out;
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr || el->getLength() == 0) return out;
  const DcmEVR vr = el->ident();
  if (vr == EVR_FD || vr == EVR_FL) {
    for (unsigned long i = 0; i < el->getVM(); ++i) {
      Float64 f = 0;
      if (el->getFloat64(f, i).bad() || !std::isfinite(f)) {
        return corrupt(where + ": " + tag_name(tag) + " value " + std::to_string(i + 1) +
                       " is not a finite number");
      }
      out.push_back(f);
    }
    return out;
  }
  OFString all;
  if (el->getOFStringArray(all).bad()) {
    return corrupt(where + ": " + tag_name(tag) + " cannot be read");
  }
  // Backslash-separated decimal strings, parsed here so a bad value is an error rather
  // than the end of the list.
  const std::string s(all.c_str(), all.length());
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\\', start);
    if (end == std::string::npos) end = s.size();
    const std::string token = s.substr(start, end - start);
    const char* b = token.c_str();
    char* e = nullptr;
    errno = 0;
    const double v = std::strtod(b, &e);
    while (e != nullptr && *e == ' ') ++e;
    if (e == b || *e != '\0' || errno == ERANGE || !std::isfinite(v)) {
      return corrupt(where + ": " + tag_name(tag) + " value " + std::to_string(out.size() + 1) +
                     " \"" + token.substr(0, 32) + "\" is not a number");
    }
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

CodedConcept coded_concept(DcmItem& item, const DcmTagKey& seq) {
  CodedConcept c;
  DcmItem* code = first_item(item, seq);
  if (code == nullptr) return c;
  c.scheme.clear();
  c.value = get_string(*code, DCM_CodeValue).value_or("");
  if (c.value.empty()) c.value = get_string(*code, DCM_LongCodeValue).value_or("");
  if (c.value.empty()) c.value = get_string(*code, DCM_URNCodeValue).value_or("");
  c.scheme = get_string(*code, DCM_CodingSchemeDesignator).value_or("");
  c.meaning = get_string(*code, DCM_CodeMeaning).value_or("");
  return c;
}

}  // namespace medinfer::dicom
