// DICOM SEG writer through DCMTK's dcmseg (see seg_writer.h).
#include "dicom/seg_writer.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/cielabutil.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace medinfer::dicom {
namespace {

// A DS value (at most 16 characters) as precise as fits.
std::string ds(double v) {
  if (std::fabs(v) < 1e-12) return "0";
  char buf[64];
  for (int precision = 15; precision > 1; --precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strlen(buf) <= 16) return buf;
  }
  return buf;
}

Status dcmtk_error(const std::string& out_path, const std::string& what, const OFCondition& c) {
  return internal_error("SEG " + out_path + ": " + what + ": " + c.text());
}

std::string dims_text(const Geometry& g) {
  return std::to_string(g.dims[0]) + "x" + std::to_string(g.dims[1]) + "x" +
         std::to_string(g.dims[2]);
}

// The masks must sit on the series' own grid: same size, same voxel positions (within
// 0.01 mm over the volume, which also checks the direction and spacing).
Status check_grid(const Geometry& mask, const Geometry& ct, const std::string& series_uid) {
  if (mask.dims != ct.dims) {
    return invalid_argument("masks are on a " + dims_text(mask) + " grid but series " + series_uid +
                            " is " + dims_text(ct));
  }
  for (int corner = 0; corner < 8; ++corner) {
    double idx[3];
    for (int a = 0; a < 3; ++a)
      idx[a] = (corner >> a & 1) ? static_cast<double>(ct.dims[a] - 1) : 0;
    const auto p = mask.index_to_lps(idx[0], idx[1], idx[2]);
    const auto q = ct.index_to_lps(idx[0], idx[1], idx[2]);
    for (int r = 0; r < 3; ++r) {
      if (std::fabs(p[r] - q[r]) > 0.01) {
        char buf[256];
        std::snprintf(buf, sizeof(buf),
                      "masks on a different grid: voxel (%g, %g, %g) is at LPS (%.3f, %.3f, "
                      "%.3f) mm in the masks but at (%.3f, %.3f, %.3f) in series ",
                      idx[0], idx[1], idx[2], p[0], p[1], p[2], q[0], q[1], q[2]);
        return invalid_argument(buf + series_uid);
      }
    }
  }
  return Status::ok();
}

CodeSequenceMacro code(const CodedConcept& c) {
  return CodeSequenceMacro(c.value.c_str(), c.scheme.c_str(), c.meaning.c_str());
}

Status check_concept(const CodedConcept& c, const std::string& segment, const char* field,
                     bool required) {
  if (c.empty() && !required) return Status::ok();
  if (c.value.empty() || c.scheme.empty() || c.meaning.empty()) {
    return invalid_argument("segment '" + segment + "': " + field +
                            " needs a code value, scheme and meaning (got '" + c.value + "', '" +
                            c.scheme + "', '" + c.meaning + "')");
  }
  return Status::ok();
}

Result<DcmSegment*> make_segment(const SegmentInfo& info, const SegWriteOptions& options,
                                 const std::string& out_path) {
  MI_RETURN_IF_ERROR(check_concept(info.category, info.name, "category", true));
  MI_RETURN_IF_ERROR(check_concept(info.type, info.name, "type", true));
  MI_RETURN_IF_ERROR(check_concept(info.modifier, info.name, "modifier", false));
  if (info.name.empty() || info.name.size() > 64) {
    return invalid_argument("segment with label " + std::to_string(info.label) +
                            ": name must have 1..64 characters (SegmentLabel, LO)");
  }
  std::string algo = options.algorithm_name;
  if (!options.algorithm_version.empty()) algo += " " + options.algorithm_version;
  if (algo.size() > 64) algo.resize(64);
  DcmSegment* seg = nullptr;
  OFCondition c = DcmSegment::create(seg, info.name.c_str(), code(info.category), code(info.type),
                                     DcmSegTypes::SAT_AUTOMATIC, algo.c_str());
  if (c.bad() || seg == nullptr) return dcmtk_error(out_path, "segment '" + info.name + "'", c);
  std::unique_ptr<DcmSegment> owned(seg);
  if (!info.modifier.empty()) {
    seg->getSegmentedPropertyTypeModifierCode().push_back(
        new CodeSequenceMacro(code(info.modifier)));
  }
  double l, a, b;
  IODCIELabUtil::rgb2DicomLab(l, a, b, info.rgb[0] / 255.0, info.rgb[1] / 255.0,
                              info.rgb[2] / 255.0);
  c = seg->setRecommendedDisplayCIELabValue(static_cast<Uint16>(std::lround(l)),
                                            static_cast<Uint16>(std::lround(a)),
                                            static_cast<Uint16>(std::lround(b)));
  if (c.bad()) return dcmtk_error(out_path, "colour of segment '" + info.name + "'", c);
  return owned.release();
}

// Each frame is a pixel-for-pixel mask of its CT slice: say so in every Source Image
// Sequence item (dcmfg 3.6.7 has no setter), so readers may index frames by source image.
void mark_spatial_locations_preserved(DcmItem& dataset) {
  DcmSequenceOfItems* frames = nullptr;
  if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).bad()) return;
  for (unsigned long f = 0; f < frames->card(); ++f) {
    DcmSequenceOfItems* derivations = nullptr;
    if (frames->getItem(f)->findAndGetSequence(DCM_DerivationImageSequence, derivations).bad()) {
      continue;
    }
    for (unsigned long d = 0; d < derivations->card(); ++d) {
      DcmSequenceOfItems* sources = nullptr;
      if (derivations->getItem(d)->findAndGetSequence(DCM_SourceImageSequence, sources).bad()) {
        continue;
      }
      for (unsigned long s = 0; s < sources->card(); ++s) {
        sources->getItem(s)->putAndInsertString(DCM_SpatialLocationsPreserved, "YES");
      }
    }
  }
}

bool has_content(const uint8_t* p, int64_t n) {
  for (int64_t v = 0; v < n; ++v) {
    if (p[v] != 0) return true;
  }
  return false;
}

}  // namespace

Status write_seg(const SegmentMasks& masks, const SeriesInfo& series, const std::string& out_path,
                 const SegWriteOptions& options) {
  if (series.images.empty()) {
    return invalid_argument("SEG " + out_path + ": source series " + series.series_uid +
                            " has no images");
  }
  if (masks.segments.empty() || masks.masks.size() != masks.segments.size()) {
    return invalid_argument("SEG " + out_path + ": " + std::to_string(masks.segments.size()) +
                            " segments and " + std::to_string(masks.masks.size()) +
                            " masks; need one mask per segment and at least one");
  }
  for (const ImageInfo& im : series.images) {
    if (im.frames != 1) {
      return not_supported(im.path + ": source image has " + std::to_string(im.frames) +
                           " frames; the SEG writer references single-frame images only");
    }
  }
  MI_ASSIGN_OR_RETURN(const VolumePlan plan, plan_volume(series));
  const Geometry& g = plan.geometry;
  Status st = check_grid(masks.grid, g, series.series_uid);
  if (!st.is_ok()) return st.with_context("SEG " + out_path);
  for (size_t s = 0; s < masks.masks.size(); ++s) {
    const Volume& m = masks.masks[s];
    if (m.dtype() != DType::kUInt8 || m.geometry().dims != g.dims ||
        m.bytes() < static_cast<size_t>(g.voxel_count())) {
      return invalid_argument("SEG " + out_path + ": mask of segment '" + masks.segments[s].name +
                              "' must be uint8 " + dims_text(g) + " (got " + dtype_name(m.dtype()) +
                              " " + dims_text(m.geometry()) + ")");
    }
  }
  if (g.dims[0] > 65535 || g.dims[1] > 65535) {
    return not_supported("SEG " + out_path + ": frames larger than 65535 pixels per side");
  }

  IODGeneralEquipmentModule::EquipmentInfo equipment(
      options.manufacturer.c_str(), options.model_name.c_str(),
      options.device_serial_number.c_str(), options.software_versions.c_str());
  ContentIdentificationMacro content("1", options.content_label.c_str(),
                                     options.content_description.c_str(),
                                     options.content_creator.c_str());
  const auto rows = static_cast<Uint16>(g.dims[1]), cols = static_cast<Uint16>(g.dims[0]);
  DcmSegmentation* raw = nullptr;
  OFCondition c =
      masks.fractional
          ? DcmSegmentation::createFractionalSegmentation(
                raw, rows, cols, DcmSegTypes::SFT_PROBABILITY, 255, equipment, content)
          : DcmSegmentation::createBinarySegmentation(raw, rows, cols, equipment, content);
  if (c.bad() || raw == nullptr) return dcmtk_error(out_path, "creating the SEG", c);
  std::unique_ptr<DcmSegmentation> seg(raw);

  // Patient, study and frame of reference from the first source image.
  const std::string& first = series.images[plan.slices[0].image].path;
  c = seg->importFromSourceImage(first.c_str());
  if (c.bad()) return dcmtk_error(out_path, "importing patient/study from " + first, c);
  char uid[100];
  seg->getSeries().setSeriesInstanceUID(dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
  seg->getSeries().setSeriesNumber(std::to_string(options.series_number).c_str());
  seg->getSeries().setSeriesDescription(options.series_description.c_str());

  // Referenced Series Sequence: every source image.
  auto* ref_series = new IODSeriesAndInstanceReferenceMacro::ReferencedSeriesItem();
  seg->getCommonInstanceReference().getReferencedSeriesItems().push_back(ref_series);
  ref_series->setSeriesInstanceUID(series.series_uid.c_str());
  for (const SliceRef& s : plan.slices) {
    const ImageInfo& im = series.images[s.image];
    c = ref_series->addReference(im.sop_class_uid.c_str(), im.sop_instance_uid.c_str());
    if (c.bad()) return dcmtk_error(out_path, "referencing " + im.path, c);
  }

  // Shared functional groups: orientation and pixel measures of the CT grid.
  std::unique_ptr<FGPlaneOrientationPatient> orient(FGPlaneOrientationPatient::createMinimal(
      ds(g.direction[0]).c_str(), ds(g.direction[3]).c_str(), ds(g.direction[6]).c_str(),
      ds(g.direction[1]).c_str(), ds(g.direction[4]).c_str(), ds(g.direction[7]).c_str()));
  FGPixelMeasures measures;
  measures.setPixelSpacing((ds(g.spacing[1]) + "\\" + ds(g.spacing[0])).c_str());
  const ImageInfo& im0 = series.images[plan.slices[0].image];
  const double thickness = !im0.frame_info.empty() && im0.frame_info[0].slice_thickness > 0
                               ? im0.frame_info[0].slice_thickness
                               : g.spacing[2];
  measures.setSliceThickness(ds(thickness).c_str());
  measures.setSpacingBetweenSlices(ds(g.spacing[2]).c_str());
  if (!orient || (c = seg->addForAllFrames(*orient)).bad() ||
      (c = seg->addForAllFrames(measures)).bad()) {
    return dcmtk_error(out_path, "shared functional groups", c);
  }

  // Dimensions: segment number, then position along the normal.
  const std::string dim_uid = dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
  seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber, dim_uid.c_str(),
                                         DCM_SegmentIdentificationSequence, "Segment number");
  seg->getDimensions().addDimensionIndex(DCM_ImagePositionPatient, dim_uid.c_str(),
                                         DCM_PlanePositionSequence, "Image position");

  const CodeSequenceMacro derivation("113076", "DCM", "Segmentation");
  const CodeSequenceMacro purpose("121322", "DCM", "Source image for image processing operation");
  const int64_t plane = g.dims[0] * g.dims[1];
  std::vector<Uint8> frame(static_cast<size_t>(plane));
  int64_t frames = 0;
  for (size_t s = 0; s < masks.segments.size(); ++s) {
    MI_ASSIGN_OR_RETURN(DcmSegment * segment, make_segment(masks.segments[s], options, out_path));
    Uint16 number = 0;
    c = seg->addSegment(segment, number);
    if (c.bad()) {
      delete segment;
      return dcmtk_error(out_path, "adding segment '" + masks.segments[s].name + "'", c);
    }
    const uint8_t* m = masks.masks[s].data<uint8_t>();
    for (int64_t k = 0; k < g.dims[2]; ++k) {
      const uint8_t* src = m + k * plane;
      const bool last_chance = frames == 0 && s + 1 == masks.segments.size() && k + 1 == g.dims[2];
      // An all-empty sparse SEG still needs one frame: the last slice, empty.
      if (!options.all_frames && !has_content(src, plane) && !last_chance) continue;
      const SliceRef& slice = plan.slices[static_cast<size_t>(k)];
      const ImageInfo& im = series.images[slice.image];
      std::unique_ptr<FGPlanePosPatient> pos(FGPlanePosPatient::createMinimal(
          ds(slice.position[0]).c_str(), ds(slice.position[1]).c_str(),
          ds(slice.position[2]).c_str()));
      FGFrameContent content_fg;
      content_fg.setDimensionIndexValues(number, 0);
      content_fg.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1);
      ImageSOPInstanceReferenceMacro ref;
      ref.setReferencedSOPClassUID(im.sop_class_uid.c_str());
      ref.setReferencedSOPInstanceUID(im.sop_instance_uid.c_str());
      std::unique_ptr<FGDerivationImage> deriv(FGDerivationImage::createMinimal(
          OFVector<ImageSOPInstanceReferenceMacro>(1, ref), "", derivation, purpose));
      if (!pos || !deriv)
        return dcmtk_error(out_path, "frame groups of " + im.path, EC_IllegalCall);
      OFVector<FGBase*> groups;
      groups.push_back(pos.get());
      groups.push_back(&content_fg);
      groups.push_back(deriv.get());
      for (int64_t v = 0; v < plane; ++v) frame[v] = src[v];
      c = seg->addFrame(frame.data(), number, groups);
      if (c.bad()) {
        return dcmtk_error(out_path,
                           "frame of segment '" + masks.segments[s].name + "' on " + im.path, c);
      }
      ++frames;
    }
  }

  DcmFileFormat file;
  c = seg->writeDataset(*file.getDataset());
  if (c.bad()) return dcmtk_error(out_path, "building the dataset", c);
  mark_spatial_locations_preserved(*file.getDataset());
  const std::string tmp = out_path + ".tmp";
  c = file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
  if (c.bad()) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return io_error("SEG " + out_path + ": cannot write: " + c.text());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) return io_error("SEG " + out_path + ": cannot rename " + tmp + ": " + ec.message());
  return Status::ok();
}

}  // namespace medinfer::dicom
