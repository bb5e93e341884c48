// BatchPrefetcher: the training data drawn, decoded, preprocessed and encoded on a worker thread
// one batch ahead of the loop (xib/train/trainer.h). Each batch the worker starts is preceded by
// a snapshot of the stream and the augmentation streams, so a checkpoint records where the loop
// is, not where the worker is.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "xib/dataset.h"
#include "xib/feature_cache.h"
#include "xib/log.h"
#include "xib/modality.h"
#include "xib/train/rng_state.h"
#include "xib/train/trainer.h"

// LibTorch's CPU parallelism is OpenMP's, whose thread count is a per-thread setting: the worker
// sets its own without touching the loop's (at::set_num_threads would change the process's).
// Weak, so that a LibTorch built without OpenMP (its own thread pool) simply has none.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace xib::train {

namespace {

/// This thread's share of the cores for LibTorch's parallel regions.
void set_thread_parallelism(int threads) {
  if (omp_set_num_threads) omp_set_num_threads(threads);
}

}  // namespace

NamedTensors processor_rng_tensors(XInstructBlip& model) {
  NamedTensors out;
  for (const auto& name : model.modality_names()) {
    if (Rng* r = model.modality(name).processor().augmentation_rng()) {
      out.emplace_back("rng/processor." + name, rng_state_tensor(*r));
    }
  }
  return out;
}

void restore_processor_rngs(XInstructBlip& model, const NamedTensors& tensors) {
  for (const auto& name : model.modality_names()) {
    Rng* rng = model.modality(name).processor().augmentation_rng();
    if (!rng) continue;
    const std::string key = "rng/processor." + name;
    bool found = false;
    for (const auto& [n, t] : tensors) {
      if (n == key) {
        set_rng_state_tensor(*rng, t);
        found = true;
      }
    }
    if (!found) log::warn("checkpoint has no augmentation state for modality '{}'; it restarts from its seed", name);
  }
}

struct BatchPrefetcher::Impl {
  Impl(XInstructBlip& m, DataStream& s, FeatureCache* c, Options o)
      : model(m),
        stream(s),
        cache(c),
        depth(std::max<size_t>(o.depth, 1)),
        encode_in_loop(o.encode_in_loop),
        threads(at::get_num_threads()) {}

  XInstructBlip& model;
  DataStream& stream;
  FeatureCache* cache;
  size_t depth;
  bool encode_in_loop;
  int threads;  // the loop's LibTorch threads

  struct Item {
    EncodedBatch batch;
    std::optional<LoadedInputs> loaded;  // decoded, to be encoded by the loop (encode_in_loop)
    std::exception_ptr error;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<ResumePoint> pending;  // one per batch started and not yet taken, oldest first
  std::deque<Item> ready;           // finished batches, oldest first
  bool stopping = false;
  bool worker_done = false;  // the worker ended (stopped, or after handing on an error)
  std::thread worker;

  ResumePoint snapshot() { return {.stream = stream.state(), .processor_rngs = processor_rng_tensors(model)}; }

  void run() {
    // Decoding and preprocessing run on one core beside the step, so that the loop keeps its
    // cores (a second team of OpenMP threads would compete with it); encoding, when it is done
    // here, uses the loop's thread count. Per-thread settings: the loop's stay as they are.
    at::internal::lazy_init_num_threads();
    set_thread_parallelism(1);
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || pending.size() < depth; });
        if (stopping) break;
        pending.push_back(snapshot());  // before the stream and the augmentations move on
      }
      Item item;
      try {
        item.batch.samples = stream.next_batch();
        if (cache) {
          item.batch.features = encode_cached(model, *cache, item.batch.samples);
        } else if (encode_in_loop) {
          item.loaded = model.load_inputs(item.batch.samples, /*training=*/true);  // one core
        } else {
          LoadedInputs loaded = model.load_inputs(item.batch.samples, /*training=*/true);  // one core
          set_thread_parallelism(threads);
          item.batch.features = model.encode_loaded(std::move(loaded));
          set_thread_parallelism(1);
        }
      } catch (...) {
        item.error = std::current_exception();
      }
      const bool failed = item.error != nullptr;
      {
        std::lock_guard lock(mu);
        ready.push_back(std::move(item));
      }
      cv.notify_all();
      if (failed) break;  // the loop rethrows it when it reaches this batch
    }
    {
      std::lock_guard lock(mu);
      worker_done = true;
    }
    cv.notify_all();
  }
};

BatchPrefetcher::BatchPrefetcher(XInstructBlip& model, DataStream& stream, FeatureCache* cache, Options options)
    : impl_(std::make_unique<Impl>(model, stream, cache, options)) {
  impl_->worker = std::thread([this] { impl_->run(); });
}

BatchPrefetcher::~BatchPrefetcher() { stop(); }

void BatchPrefetcher::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

EncodedBatch BatchPrefetcher::next() {
  Impl::Item item;
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return !impl_->ready.empty() || impl_->worker_done; });
    if (impl_->ready.empty() || impl_->stopping) {
      throw UsageError({.what = "no more training batches: the batch worker has stopped",
                        .where = "BatchPrefetcher::next",
                        .hint = "do not take batches after stop()"});
    }
    item = std::move(impl_->ready.front());
    impl_->ready.pop_front();
    impl_->pending.pop_front();
  }
  impl_->cv.notify_all();
  if (item.error) std::rethrow_exception(item.error);
  if (item.loaded) item.batch.features = impl_->model.encode_loaded(std::move(*item.loaded));
  return std::move(item.batch);
}

ResumePoint BatchPrefetcher::resume_point() {
  std::lock_guard lock(impl_->mu);
  // With no batch started ahead, the worker waits (it takes the lock before it moves anything).
  return impl_->pending.empty() ? impl_->snapshot() : impl_->pending.front();
}

}  // namespace xib::train
