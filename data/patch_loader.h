// Batches of training patches, made ahead of time by a pool of worker threads.
//
// Batch b (counting from the loader's start) holds samples start + b*batch ... + batch-1 of
// the dataset's stream (data/patch_dataset.h), so the batches do not depend on the number of
// workers or on timing. LoaderState {seed, next_sample} after a batch is everything needed to
// resume exactly: a loader built with that state hands out the batch that would have come next.
//
// Memory is bounded: at most `prefetch` batches exist at any time (ready or being filled), plus
// the one the caller holds, plus the decoded-image cache (DatasetOptions::cache_bytes).
// workers == 0 makes every batch in the caller's thread (for debugging).
// An error in a worker (e.g. no image of the folder decodes) is rethrown by next().
// next(), state() and restore() are meant for one consumer thread (the training loop).
//
// LAYOUT: NHWC float in [0, 1]: hr (batch, patch, patch, 3), lr (batch, patch/scale,
// patch/scale, 3). next(float*, float*) copies into caller buffers, e.g. pinned host memory
// the GPU copies from.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/patch_dataset.h"

namespace srgan::data {

struct LoaderOptions {
  int batch = 16;
  int workers = 2;   // threads making batches; 0 = make them in next()
  int prefetch = 4;  // batches made ahead, at most
  // Dealing the stream to the ranks of data-parallel training: the stream's batches, in order,
  // go in runs of `run` to `shares` consumers in turn, and this loader hands out consumer
  // `share`'s. With run = micro-batches per step and shares = ranks, rank r of N sees, at every
  // step, batches r*K .. r*K+K-1 of the N*K the step consumes: exactly the micro-batches one
  // process with --accum N*K would run (1, 0, 1: the whole stream).
  int shares = 1, share = 0, run = 1;
};

struct LoaderState {
  uint64_t seed = 0;
  uint64_t next_sample = 0;  // first sample of the next batch
  bool operator==(const LoaderState& o) const { return seed == o.seed && next_sample == o.next_sample; }
};

struct Batch {
  int n = 0;            // batch size
  int hr_size = 0;      // HR patch side
  int lr_size = 0;      // LR patch side
  int channels = 3;
  uint64_t first_sample = 0;
  std::vector<float> hr;  // (n, hr_size, hr_size, channels)
  std::vector<float> lr;  // (n, lr_size, lr_size, channels)
};

class PatchLoader {
 public:
  PatchLoader(std::shared_ptr<const PatchDataset> dataset, LoaderOptions opt, LoaderState start);
  ~PatchLoader();
  PatchLoader(const PatchLoader&) = delete;
  PatchLoader& operator=(const PatchLoader&) = delete;

  Batch next();
  // Copies the next batch into hr (batch * dataset.hr_floats()) and lr (batch * lr_floats()).
  void next(float* hr, float* lr);
  // The state to save: restoring it yields the batch that next() would return now. With dealing
  // (shares > 1) only between runs, i.e. at a step boundary.
  LoaderState state() const;
  // Drops prefetched batches and continues from `s`.
  void restore(LoaderState s);

  const PatchDataset& dataset() const { return *ds_; }
  const LoaderOptions& options() const { return opt_; }

 private:
  uint64_t stream_batch(uint64_t b) const;  // where batch b lies in the stream, under the dealing
  Batch make_batch(uint64_t b) const;       // batch number b from base_
  void start();
  void stop();
  void worker();

  std::shared_ptr<const PatchDataset> ds_;
  LoaderOptions opt_;
  LoaderState base_;  // state at batch 0

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t claimed_ = 0;   // batches handed to workers
  uint64_t consumed_ = 0;  // batches handed to the caller
  std::map<uint64_t, Batch> ready_;
  std::map<uint64_t, std::exception_ptr> failed_;  // batch number -> its error
  std::vector<std::thread> threads_;
};

}  // namespace srgan::data
