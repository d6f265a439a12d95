// run_segment_pipeline (segment_pipeline.h).
#include "pipeline/segment_pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>

#include "core/timer.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/slice_batcher.h"
#include "pipeline/study_folder.h"

namespace medinfer::pipeline {
namespace {

// Adds seconds to a shared total.
class BusyClock {
 public:
  void add(double s) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ += s;
  }
  double total() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }

 private:
  mutable std::mutex mu_;
  double total_ = 0;
};

// The time during which at least one of several workers is busy (begin/end around each
// piece of work), and the workers' summed busy time.
class BusyUnion {
 public:
  void begin() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    if (active_++ == 0) since_ = now;
    starts_.push_back(now);
  }
  void end() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    // Which start this end pairs with does not matter: the sum of (end - start) over all
    // pieces is the sum of the ends minus the sum of the starts.
    worker_ += std::chrono::duration<double>(now - starts_.front()).count();
    starts_.pop_front();
    if (--active_ == 0) union_ += std::chrono::duration<double>(now - since_).count();
  }
  double total() const {
    std::lock_guard<std::mutex> lock(mu_);
    return union_;
  }
  double worker_total() const {
    std::lock_guard<std::mutex> lock(mu_);
    return worker_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mu_;
  int active_ = 0;
  Clock::time_point since_;
  std::deque<Clock::time_point> starts_;  // of the pieces in progress, oldest first
  double union_ = 0, worker_ = 0;
};

// Output paths under the partial folder are recorded under the final one.
void rename_outputs(eval::StudySummary& sum, const StudyFolder& folder) {
  for (std::string& path : sum.outputs) {
    if (path.rfind(folder.partial_dir, 0) == 0) {
      path = folder.final_dir + path.substr(folder.partial_dir.size());
    }
  }
}

// Postprocess, write into the partial folder, write the study's summary, commit.
Result<eval::StudySummary> write_study(PreparedStudy&& study, const SeriesJob& job,
                                       const ModelPackage& package, const SegmentationSpec& spec,
                                       const PipelineOptions& options) {
  if (!study.slice_outputs.empty()) {
    MI_RETURN_IF_ERROR(probabilities_from_slice_outputs(spec, study));
  }
  const StudyFolder folder = study_folder(options.out_root, job.name);
  MI_RETURN_IF_ERROR(clear_partial(folder));
  StudyOptions so = options.study;
  so.out_dir = folder.partial_dir;
  auto sum = finish_study(std::move(study), *job.series, package, spec, so);
  if (!sum.is_ok()) {
    (void)clear_partial(folder);
    return sum.status();
  }
  sum->input = job.input;
  rename_outputs(*sum, folder);
  eval::RunSummary one;
  one.studies.push_back(*sum);
  Status st = eval::write_summary(one, folder.partial_dir + "/summary.json",
                                  folder.partial_dir + "/summary.md");
  if (st.is_ok()) st = commit_study_folder(folder);
  if (!st.is_ok()) {
    (void)clear_partial(folder);
    return st;
  }
  return sum;
}

}  // namespace

PipelineRun run_segment_pipeline(const std::vector<SeriesJob>& jobs, const ModelPackage& package,
                                 Engine& engine, const SegmentationSpec& spec,
                                 const PipelineOptions& options) {
  Timer wall;
  PipelineRun run;
  run.results.resize(jobs.size());
  const int decoders = std::max(1, options.decode_workers);
  const int writers = std::max(1, options.write_workers);
  const int in_flight = std::max(1, options.max_in_flight);
  std::mutex result_mu;  // run.results, run.stats.slices
  const auto done = [&](size_t i, JobResult r) {
    const SeriesJob& job = jobs[i];
    const bool ok = r.status.is_ok();
    const bool resumed = r.resumed;
    {
      std::lock_guard<std::mutex> lock(result_mu);
      if (ok && !r.resumed) run.stats.slices += job.series->slice_count;
      run.results[i] = std::move(r);
    }
    if (options.progress != nullptr && resumed) {
      options.progress->series_kept(job.series->slice_count);
    } else if (options.progress != nullptr) {
      options.progress->series_done(job.name, ok ? job.series->slice_count : 0, ok);
    }
  };

  std::vector<size_t> todo;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (options.resume) {
      auto kept = complete_study(study_folder(options.out_root, jobs[i].name),
                                 jobs[i].series->series_uid, jobs[i].input);
      if (kept) {
        ++run.stats.resumed;
        done(i, {std::move(kept), Status::ok(), true});
        continue;
      }
    }
    todo.push_back(i);
  }

  // 2-D without TTA: slices of several series share engine runs (slice_batcher.h), on
  // engine_workers threads, each with an execution context of its own when there are several.
  std::vector<std::unique_ptr<ExecutionContext>> contexts;
  std::vector<std::unique_ptr<SliceBatcher>> batchers;
  if (options.batch_across_series && batches_slices(spec)) {
    const int wanted = std::max(1, options.engine_workers);
    for (int e = 0; e < wanted; ++e) {
      ExecutionContext* context = nullptr;
      if (wanted > 1) {
        auto made = engine.create_context();
        if (!made.is_ok()) break;  // fewer workers (device memory), not a failure
        contexts.push_back(std::move(*made));
        context = contexts.back().get();
      }
      auto made = SliceBatcher::make(engine, spec, context);
      if (!made.is_ok()) break;  // then each series reports why, through infer_study
      batchers.push_back(std::make_unique<SliceBatcher>(std::move(*made)));
    }
  }
  const bool batched = !batchers.empty();
  std::counting_semaphore<> tokens(in_flight);
  BoundedQueue<InFlight> to_engine(static_cast<size_t>(in_flight));
  BoundedQueue<InFlight> to_writers(static_cast<size_t>(in_flight));
  BusyClock decode_busy, write_busy;
  BusyUnion engine_busy;
  std::atomic<size_t> next{0};
  std::atomic<int> decoders_left{decoders};

  std::vector<std::thread> threads;
  for (int w = 0; w < decoders; ++w) {
    threads.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < todo.size();) {
        const size_t i = todo[k];
        tokens.acquire();
        Timer t;
        auto prepared = prepare_study(*jobs[i].series, package, options.study, jobs[i].read_s);
        Status st = prepared.status();
        if (st.is_ok() && batched) st = stage_slice_inputs(spec, *prepared);
        decode_busy.add(t.seconds());
        if (!st.is_ok()) {
          tokens.release();
          done(i, {std::nullopt, st, false});
          continue;
        }
        to_engine.push(InFlight{i, std::move(*prepared)});
      }
      if (decoders_left.fetch_sub(1) == 1) to_engine.close();
    });
  }
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      while (std::optional<InFlight> item = to_writers.pop()) {
        const size_t i = item->job;
        Timer t;
        auto sum = write_study(std::move(item->study), jobs[i], package, spec, options);
        item.reset();  // the study's memory goes before its token
        write_busy.add(t.seconds());
        tokens.release();
        if (sum.is_ok()) {
          done(i, {std::move(*sum), Status::ok(), false});
        } else {
          done(i, {std::nullopt, sum.status(), false});
        }
      }
    });
  }
  // The engine. Batched: each worker's batcher fills its runs with slices of the series it
  // holds, and waits for a series only when it holds none. Otherwise one series at a time,
  // on this thread.
  const auto engine_done = [&](InFlight&& item, const Status& st) {
    if (st.is_ok()) {
      to_writers.push(std::move(item));
      return;
    }
    const size_t i = item.job;
    item = InFlight();  // the series' memory goes before its token
    tokens.release();
    done(i, {std::nullopt, st, false});
  };
  std::mutex runs_mu;
  double fill_sum = 0;
  const auto engine_worker = [&](SliceBatcher& batcher) {
    while (true) {
      while (batcher.queued_slices() < batcher.capacity()) {
        std::optional<InFlight> item = batcher.empty() ? to_engine.pop() : to_engine.try_pop();
        if (!item) break;
        batcher.add(std::move(*item));
      }
      if (batcher.empty()) break;  // nothing held, and the queue closed and drained
      engine_busy.begin();
      std::vector<SliceBatcher::Finished> finished = batcher.run_batch();
      engine_busy.end();
      {
        std::lock_guard<std::mutex> lock(runs_mu);
        ++run.stats.engine_runs;
        fill_sum += static_cast<double>(batcher.last_batch()) / batcher.capacity();
      }
      for (SliceBatcher::Finished& f : finished) engine_done(std::move(f.item), f.status);
    }
  };
  std::vector<std::thread> engine_threads;
  for (size_t e = 1; e < batchers.size(); ++e) {
    engine_threads.emplace_back([&, e] { engine_worker(*batchers[e]); });
  }
  if (batched) engine_worker(*batchers[0]);
  for (std::thread& th : engine_threads) th.join();
  while (std::optional<InFlight> item = to_engine.pop()) {
    engine_busy.begin();
    Status st = infer_study(engine, spec, item->study);
    engine_busy.end();
    engine_done(std::move(*item), st);
  }
  to_writers.close();
  for (std::thread& th : threads) th.join();

  eval::PipelineStats& s = run.stats;
  s.wall_s = wall.seconds();
  s.max_in_flight = in_flight;
  s.engine_busy = s.wall_s > 0 ? engine_busy.total() / s.wall_s : 0.0;
  s.engine_workers = batched ? static_cast<int>(batchers.size()) : 1;
  s.batch_fill = s.engine_runs > 0 ? fill_sum / static_cast<double>(s.engine_runs) : 0.0;
  s.stages = {{"decode+preprocess", decoders, decode_busy.total()},
              {"engine", s.engine_workers, engine_busy.worker_total()},
              {"postprocess+write", writers, write_busy.total()}};
  for (const auto& [name, q] :
       {std::pair<const char*, const BoundedQueue<InFlight>*>{"to engine", &to_engine},
        {"to writers", &to_writers}}) {
    const QueueDepth d = q->depth();
    s.queues.push_back({name, d.capacity, d.max, d.mean});
  }
  return run;
}

}  // namespace medinfer::pipeline
