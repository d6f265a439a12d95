// One DICOM series through the whole path: decode to HU, the model package's preprocessing,
// inference and postprocessing (segment.h), and the outputs a user asked for (DICOM SEG,
// NIfTI label map, PNG overlays), with the time each stage took.
//
// Two ways to run it:
//  - segment_study(): the stages one after the other (the sequential path);
//  - the same stages one at a time, so that a pipeline (src/pipeline) runs them on different
//    threads for different series: prepare_study (decode + preprocess), infer_study (the
//    engine), finish_study (postprocess + write). segment_study() is exactly these three in
//    a row, so both paths give the same outputs, bit for bit.
//
// Output files, under options.out_dir (created): seg.dcm, labels.nii.gz, png/*.png. The
// caller writes the study's summary.json / summary.md.
//
// Thread safety: the Engine is used by one call at a time; everything else is per call, and
// prepare_study / finish_study may run concurrently on distinct series and out_dirs.
#pragma once

#include <string>
#include <vector>

#include "eval/summary.h"
#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"

namespace medinfer {

struct StudyOptions {
  std::string out_dir;
  bool write_seg = true;
  bool write_nifti = true;
  bool write_png = true;
  std::string device = "cpu";  // recorded in the summary
  int threads = 0;             // decode and preprocessing threads (0 = all cores)
  // Compressed frames: on the CPU, or batched through nvImageCodec on the GPU (falling back
  // to the CPU frame by frame where it cannot).
  dicom::FrameDecoder decoder = dicom::FrameDecoder::kCpu;
  int decode_device = 0;
};

// The spec segment_volume() runs from a model package's fields (dims, sizes, batch,
// blending, TTA, activation, components, labels).
Result<SegmentationSpec> spec_from_package(const ModelPackage& package);

// A series decoded and preprocessed, on its way to the engine. `summary` holds the series'
// fields and the stages so far ("read", "decode", "preprocess").
struct PreparedStudy {
  std::string name;  // the series UID, or its first file when it has none (for errors)
  eval::StudySummary summary;
  Volume hu;                // the series in HU on its native grid (the PNG overlays' background)
  PreparedVolume prepared;  // model space
  std::vector<Volume> probabilities;  // infer_study's output, on prepared.image's grid
  // The batched 2-D path only (see batches_slices): every slice's network input, made from
  // prepared.image (then freed; its grid is kept), and the network's outputs as they come.
  std::vector<float> slice_inputs;
  std::vector<float> slice_outputs;
  Geometry model_grid;
};

// Decode + preprocess. `read_s` is the time the scan that found the series took (the
// summary's "read" stage). Errors name the series and the stage; a series of another
// modality than the package's is refused.
Result<PreparedStudy> prepare_study(const dicom::SeriesInfo& series, const ModelPackage& package,
                                    const StudyOptions& options, double read_s = 0);
// The engine's part: predict_probabilities on study.prepared.image into study.probabilities
// (stage "infer"). `engine` must come from build_segmentation_engine with `spec`.
Status infer_study(Engine& engine, const SegmentationSpec& spec, PreparedStudy& study);
// Labels, component rules and resampling to the native grid ("postprocess"), then the
// outputs under options.out_dir ("write"). Frees the study's volumes as it goes.
Result<eval::StudySummary> finish_study(PreparedStudy&& study, const dicom::SeriesInfo& series,
                                        const ModelPackage& package, const SegmentationSpec& spec,
                                        const StudyOptions& options);

// The batched 2-D path: a pipeline may run the engine on slices of several series at once
// (pipeline/slice_batcher.h) instead of infer_study. It applies to 2-D specs without TTA.
// Per slice the arithmetic is infer_study's (segment/slice_inference.h), so given the same
// network outputs per slice the probabilities are the same, bit for bit.
bool batches_slices(const SegmentationSpec& spec);
// After prepare_study: the network inputs of every slice into study.slice_inputs (stage
// "preprocess"); frees study.prepared.image.
Status stage_slice_inputs(const SegmentationSpec& spec, PreparedStudy& study);
// Once study.slice_outputs holds every slice's network output: the probabilities, as
// infer_study leaves them (stage "postprocess"); frees the slice outputs.
Status probabilities_from_slice_outputs(const SegmentationSpec& spec, PreparedStudy& study);

// The three in a row.
Result<eval::StudySummary> segment_study(const dicom::SeriesInfo& series,
                                         const ModelPackage& package, Engine& engine,
                                         const SegmentationSpec& spec, const StudyOptions& options,
                                         double read_s = 0);

}  // namespace medinfer
