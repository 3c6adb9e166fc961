// The data-parallel side of the training loop (mpirun -np N srgan train; docs/distributed.md):
// how a step's gradients are reduced, which rank writes, agreeing on stopping, averaging the
// logged losses over ranks, and checking that the ranks have not drifted apart.
// With one rank every function is a no-op or the identity, so the loop reads the same either way.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/distributed.h"
#include "tools/train/train_step.h"

namespace srgan::app {

class DataParallel {
 public:
  DataParallel(ProcessGroup& group, int accum);

  int ranks() const { return group_.size(); }
  int rank() const { return group_.rank(); }
  bool writer() const { return group_.rank() == 0; }  // checkpoints, logs, samples, validation
  // micro-batches per step; the gradient sum of all micro-batches of all ranks becomes its mean.
  Accumulation accumulation() const;
  // True on every rank when any rank passes true (a Ctrl-C seen by one rank stops all at the
  // same step).
  bool any(bool mine);
  // Element-wise mean over ranks (the logged loss terms of a log interval).
  void mean_over_ranks(std::vector<double>& values);
  // Throws, naming the ranks, unless every rank passes the same `options` text (ranks started
  // with different options would each compute something else and average nonsense).
  void check_same_options(const std::string& options);
  // Running statistics (batch norm's buffers) become their mean over ranks, every step: each
  // rank's follow its own micro-batches, and a model with the average of all of them is the same
  // on every rank (and, the update being linear, the average of running means of every batch).
  void average(const std::vector<Tensor>& buffers);
  // Compares a checksum of the model and optimizer state across ranks; throws, naming the ranks
  // and the step, when they differ (they must stay bit-identical).
  void check_identical(int64_t step, const std::vector<Tensor>& state);
  // Wall-clock seconds spent in the gradient reductions so far (on CUDA with NCCL: the time to
  // issue them, the reduction itself runs on the stream).
  double reduce_seconds() const { return *reduce_seconds_; }

 private:
  ProcessGroup& group_;
  int accum_;
  std::shared_ptr<double> reduce_seconds_ = std::make_shared<double>(0.0);
};

}  // namespace srgan::app
