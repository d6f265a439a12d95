// prepare_study, infer_study, finish_study and segment_study (segment_study.h).
#include "segment/segment_study.h"

#include <filesystem>

#include "core/timer.h"
#include "dicom/seg_writer.h"
#include "eval/png_overlay.h"
#include "image/label_nifti.h"
#include "segment/slice_inference.h"

namespace medinfer {
namespace {

Status in_stage(const Status& st, const std::string& series, const char* stage) {
  return Status(st.code(), "series " + series + ": " + stage + ": " + st.message());
}

}  // namespace

Result<SegmentationSpec> spec_from_package(const ModelPackage& p) {
  SegmentationSpec s;
  s.dims = p.dims;
  s.slice_size = p.slice_size;
  s.patch_size = p.patch_size;
  s.batch = p.inference.batch;
  s.overlap = p.inference.overlap;
  s.blend = p.inference.blend == "constant" ? Blend::kConstant : Blend::kGaussian;
  s.sigma_scale = p.inference.sigma_scale;
  s.tta_flips = p.inference.tta_flips;
  s.activation = p.activation;
  s.channels = static_cast<int>(p.output_channels);
  s.largest_components = p.largest_components;
  s.labels = p.labels;
  Status st = validate_spec(s);
  if (!st.is_ok()) return Status(st.code(), p.json_path + ": " + st.message());
  return s;
}

Result<PreparedStudy> prepare_study(const dicom::SeriesInfo& series, const ModelPackage& package,
                                    const StudyOptions& options, double read_s) {
  PreparedStudy study;
  study.name = series.series_uid.empty() ? series.images.front().path : series.series_uid;
  const std::string& name = study.name;
  if (!package.modality.empty() && series.modality != package.modality) {
    return invalid_argument(
        "series " + name + " is " + (series.modality.empty() ? "of no modality" : series.modality) +
        "; model " + package.name + " (" + package.json_path + ") segments " + package.modality);
  }
  eval::StudySummary& sum = study.summary;
  sum.study_uid = series.study_uid;
  sum.series_uid = series.series_uid;
  sum.series_description = series.description;
  sum.modality = series.modality;
  sum.model = package.name;
  sum.device = options.device;
  sum.stages.add("read", read_s);

  Timer t;
  dicom::LoadOptions load_opt;
  load_opt.threads = options.threads;
  load_opt.decoder = options.decoder;
  load_opt.device = options.decode_device;
  auto hu = dicom::load(series, load_opt);
  if (!hu.is_ok()) return in_stage(hu.status(), name, "decode");
  study.hu = std::move(*hu);
  sum.stages.add("decode", t.seconds());
  sum.dims = study.hu.geometry().dims;
  sum.spacing = study.hu.geometry().spacing;

  t.reset();
  auto prepared = preprocess(package, study.hu, options.threads);
  if (!prepared.is_ok()) return in_stage(prepared.status(), name, "preprocess");
  study.prepared = std::move(*prepared);
  sum.stages.add("preprocess", t.seconds());
  return study;
}

Status infer_study(Engine& engine, const SegmentationSpec& spec, PreparedStudy& study) {
  Timer t;
  auto probabilities = predict_probabilities(engine, study.prepared.image, spec);
  if (!probabilities.is_ok()) return in_stage(probabilities.status(), study.name, "inference");
  study.probabilities = std::move(*probabilities);
  study.prepared.image = Volume();  // the engine's input is no longer needed
  study.summary.stages.add("infer", t.seconds());
  return Status::ok();
}

bool batches_slices(const SegmentationSpec& spec) {
  return spec.dims == 2 && spec.tta_flips.empty();
}

Status stage_slice_inputs(const SegmentationSpec& spec, PreparedStudy& study) {
  Timer t;
  if (!batches_slices(spec)) {
    return internal_error("stage_slice_inputs: the spec is not 2-D without TTA");
  }
  auto inputs = segment::slice_network_inputs(study.prepared.image, spec);
  if (!inputs.is_ok()) return in_stage(inputs.status(), study.name, "preprocess");
  study.slice_inputs = std::move(*inputs);
  study.model_grid = study.prepared.image.geometry();
  study.prepared.image = Volume();
  study.summary.stages.add("preprocess", t.seconds());
  return Status::ok();
}

Status probabilities_from_slice_outputs(const SegmentationSpec& spec, PreparedStudy& study) {
  Timer t;
  auto probabilities =
      segment::slice_probabilities_from_outputs(study.slice_outputs, study.model_grid, spec);
  if (!probabilities.is_ok()) return in_stage(probabilities.status(), study.name, "postprocess");
  study.probabilities = std::move(*probabilities);
  study.slice_outputs = std::vector<float>();
  study.summary.stages.add("postprocess", t.seconds());
  return Status::ok();
}

Result<eval::StudySummary> finish_study(PreparedStudy&& study, const dicom::SeriesInfo& series,
                                        const ModelPackage& package, const SegmentationSpec& spec,
                                        const StudyOptions& options) {
  const std::string& name = study.name;
  eval::StudySummary sum = std::move(study.summary);
  Timer t;
  auto model_space = labels_from_probabilities(study.probabilities, spec);
  if (!model_space.is_ok()) return in_stage(model_space.status(), name, "postprocess");
  study.probabilities.clear();
  LabelMap map;
  map.segments = std::move(model_space->segments);
  auto native = resample_labels_nearest(model_space->labels, study.prepared.native);
  if (!native.is_ok()) return in_stage(native.status(), name, "postprocess");
  map.labels = std::move(*native);
  sum.stages.add("postprocess", t.seconds());

  t.reset();
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return io_error(options.out_dir + ": cannot create: " + ec.message());
  MI_ASSIGN_OR_RETURN(SegmentMasks masks, to_segment_masks(map));
  MI_ASSIGN_OR_RETURN(sum.volumes, eval::label_volumes(map));
  std::string no_seg;  // why a SEG cannot reference this series, if it cannot
  for (const dicom::ImageInfo& im : series.images) {
    if (im.sop_instance_uid.empty() || im.sop_class_uid.empty() || im.study_uid.empty() ||
        im.series_uid.empty()) {
      no_seg = im.path +
               " has no SOPInstanceUID, SOPClassUID, StudyInstanceUID or "
               "SeriesInstanceUID (anonymized without new UIDs?), which a DICOM SEG "
               "must reference";
      break;
    }
  }
  if (options.write_seg && !no_seg.empty()) {
    sum.warnings.push_back("no DICOM SEG written: " + no_seg);
  } else if (options.write_seg) {
    dicom::SegWriteOptions seg_opt;
    seg_opt.algorithm_name = "medinfer " + package.name;
    const std::string path = options.out_dir + "/seg.dcm";
    Status st = dicom::write_seg(masks, series, path, seg_opt);
    if (!st.is_ok()) return in_stage(st, name, "write");
    sum.outputs.push_back(path);
  }
  if (options.write_nifti) {
    const std::string path = options.out_dir + "/labels.nii.gz";
    Status st = write_label_nifti(map, path);
    if (!st.is_ok()) return in_stage(st, name, "write");
    sum.outputs.push_back(path);
  }
  if (options.write_png) {
    eval::OverlayOptions png_opt;
    png_opt.contour_px = 2;  // visible at a glance on a 512 x 512 slice
    auto files = eval::write_overlays(study.hu, masks, options.out_dir + "/png", png_opt);
    if (!files.is_ok()) return in_stage(files.status(), name, "write");
    for (const auto& f : *files) sum.outputs.push_back(f.path);
  }
  study.hu = Volume();
  sum.stages.add("write", t.seconds());
  return sum;
}

Result<eval::StudySummary> segment_study(const dicom::SeriesInfo& series,
                                         const ModelPackage& package, Engine& engine,
                                         const SegmentationSpec& spec, const StudyOptions& options,
                                         double read_s) {
  MI_ASSIGN_OR_RETURN(PreparedStudy study, prepare_study(series, package, options, read_s));
  MI_RETURN_IF_ERROR(infer_study(engine, spec, study));
  return finish_study(std::move(study), series, package, spec, options);
}

}  // namespace medinfer
