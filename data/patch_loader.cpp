// The prefetching batch loader (see data/patch_loader.h): workers claim batch numbers while
// fewer than `prefetch` batches are outstanding; the caller takes them strictly in order.
#include "data/patch_loader.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace srgan::data {

PatchLoader::PatchLoader(std::shared_ptr<const PatchDataset> dataset, LoaderOptions opt, LoaderState start_state)
    : ds_(std::move(dataset)), opt_(opt), base_(start_state) {
  if (!ds_) throw std::runtime_error("PatchLoader: no dataset");
  if (opt_.batch < 1) throw std::runtime_error("PatchLoader: batch must be >= 1, got " + std::to_string(opt_.batch));
  if (opt_.workers < 0) throw std::runtime_error("PatchLoader: workers must be >= 0");
  if (opt_.prefetch < 1) opt_.prefetch = 1;
  if (opt_.shares < 1 || opt_.share < 0 || opt_.share >= opt_.shares || opt_.run < 1)
    throw std::runtime_error("PatchLoader: share " + std::to_string(opt_.share) + " of " + std::to_string(opt_.shares) +
                             " with runs of " + std::to_string(opt_.run) + " is not a valid dealing");
  start();
}

PatchLoader::~PatchLoader() { stop(); }

// The stream position (in batches from base_) of this loader's batch b under the dealing.
uint64_t PatchLoader::stream_batch(uint64_t b) const {
  const uint64_t run = uint64_t(opt_.run), shares = uint64_t(opt_.shares);
  return (b / run) * shares * run + uint64_t(opt_.share) * run + b % run;
}

Batch PatchLoader::make_batch(uint64_t b) const {
  Batch out;
  out.n = opt_.batch;
  out.hr_size = ds_->patch();
  out.lr_size = ds_->lr_patch();
  out.channels = ds_->channels();
  out.first_sample = base_.next_sample + stream_batch(b) * uint64_t(opt_.batch);
  const size_t hn = ds_->hr_floats(), ln = ds_->lr_floats();
  out.hr.resize(hn * out.n);
  out.lr.resize(ln * out.n);
  for (int i = 0; i < out.n; ++i)
    ds_->sample(base_.seed, out.first_sample + uint64_t(i), out.hr.data() + hn * i, out.lr.data() + ln * i);
  return out;
}

void PatchLoader::worker() {
  for (;;) {
    uint64_t b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || claimed_ < consumed_ + uint64_t(opt_.prefetch); });
      if (stopping_) return;
      b = claimed_++;
    }
    Batch batch;
    std::exception_ptr err;
    try {
      batch = make_batch(b);
    } catch (...) {
      err = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (err)
      failed_.emplace(b, err);
    else
      ready_.emplace(b, std::move(batch));
    cv_.notify_all();
  }
}

void PatchLoader::start() {
  stopping_ = false;
  claimed_ = consumed_ = 0;
  ready_.clear();
  failed_.clear();
  for (int i = 0; i < opt_.workers; ++i) threads_.emplace_back([this] { worker(); });
}

void PatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Batch PatchLoader::next() {
  if (opt_.workers == 0) {
    Batch b = make_batch(consumed_);
    std::lock_guard<std::mutex> lock(mu_);
    ++consumed_;
    return b;
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return ready_.count(consumed_) > 0 || failed_.count(consumed_) > 0; });
  auto it = ready_.find(consumed_);
  if (it == ready_.end()) std::rethrow_exception(failed_[consumed_]);  // stays failed: next() throws again
  Batch b = std::move(it->second);
  ready_.erase(it);
  ++consumed_;
  cv_.notify_all();
  return b;
}

void PatchLoader::next(float* hr, float* lr) {
  Batch b = next();
  std::memcpy(hr, b.hr.data(), b.hr.size() * sizeof(float));
  std::memcpy(lr, b.lr.data(), b.lr.size() * sizeof(float));
}

LoaderState PatchLoader::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (opt_.shares > 1 && consumed_ % uint64_t(opt_.run) != 0)
    throw std::runtime_error("PatchLoader::state: in the middle of a run of dealt batches");
  const uint64_t batches = opt_.shares > 1 ? consumed_ / opt_.run * opt_.run * opt_.shares : consumed_;
  return LoaderState{base_.seed, base_.next_sample + batches * uint64_t(opt_.batch)};
}

void PatchLoader::restore(LoaderState s) {
  stop();
  base_ = s;
  start();
}

}  // namespace srgan::data
