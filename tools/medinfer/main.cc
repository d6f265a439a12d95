// medinfer: DICOM to segmentation masks, fast. One file per subcommand (cmd_*.cc).
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "omp_wait.h"

int main(int argc, char** argv) {
  // segment: a pipeline of threads beside oneDNN's OpenMP team, which must not spin.
  if (argc > 1 && std::string(argv[1]) == "segment") medinfer::cli::prefer_passive_openmp(argv);
  CLI::App app{"medinfer: medical images from DICOM to segmentation masks, fast"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("medinfer ") + MEDINFER_VERSION);
  std::map<std::string, medinfer::cli::RunFn> runs;
  CLI::App* info = app.add_subcommand("info", "List the studies and series found under PATHs");
  runs["info"] = medinfer::cli::register_info(*info);
  CLI::App* convert = app.add_subcommand("convert", "Convert a DICOM series to NIfTI (HU)");
  runs["convert"] = medinfer::cli::register_convert(*convert);
  CLI::App* bench_model =
      app.add_subcommand("bench-model", "Time an ONNX model on a device; export its outputs");
  runs["bench-model"] = medinfer::cli::register_bench_model(*bench_model);
  CLI::App* eval = app.add_subcommand("eval", "Score a segmentation against a ground truth");
  runs["eval"] = medinfer::cli::register_eval(*eval);
  CLI::App* segment =
      app.add_subcommand("segment", "Segment DICOM series with a model package; SEG/NIfTI/PNG out");
  runs["segment"] = medinfer::cli::register_segment(*segment);
  CLI::App* build = app.add_subcommand(
      "build", "Build a model package's engine for a device and write its plan (no tuning later)");
  runs["build"] = medinfer::cli::register_build(*build);
  CLI::App* bench = app.add_subcommand(
      "bench", "The configuration table: speed and accuracy per precision and batch size");
  runs["bench"] = medinfer::cli::register_bench(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  for (auto* sub : app.get_subcommands()) return runs.at(sub->get_name())();
  return 2;
}
