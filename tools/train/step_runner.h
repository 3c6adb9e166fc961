// Runs training steps on the device: uploads each batch from pinned host memory into fixed input
// tensors, then runs the step plan (tools/train/train_step.h) eagerly or, on CUDA, as CUDA graphs.
//
//   StepRunner r(device, low_res_shape, high_res_shape, GraphMode::automatic);
//   r.set_plan(pretrain_plan(g, opt, r.low_res(), r.high_res(), w));
//   loop: fill r.low_res_host() and r.high_res_host()   (the loader writes there)
//         LossTerms t = r.step();                      // terms stay on the device
//
// Eager steps come first (GraphMode::automatic warms up for two steps: gradient buffers, cached
// constants, library handles and the kernels' workspace are created then). At the third step
// each segment of the plan is captured into a CudaGraph, and from then on a step is: upload,
// replay segment 0, Adam, replay segment 1, Adam, ... If capture fails in automatic mode the
// runner says why once (on stderr) and stays eager; GraphMode::on makes that an error.
//
// Host buffers are double-buffered: while the device runs step k from one pair, the loader fills
// the other; a pair is reused only after its upload has finished (UploadEvent). Uploads and steps
// share one stream, so an upload never overwrites inputs that a queued step still reads. (A second
// copy stream would also overlap the ~2 MB upload with compute, about 0.1 ms of a 10 ms step.)
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda_graph.h"
#include "core/device.h"
#include "tools/train/train_step.h"

namespace srgan::app {

enum class GraphMode { off, automatic, on };
GraphMode parse_graph_mode(const std::string& s);  // "off" | "auto" | "on"

class StepRunner {
 public:
  StepRunner(Device device, const Shape& low_res_shape, const Shape& high_res_shape, GraphMode mode,
             int warmup_steps = 2);
  ~StepRunner();

  const Tensor& low_res() const { return low_res_; }  // the fixed inputs every step reads
  const Tensor& high_res() const { return high_res_; }
  void set_plan(StepPlan plan);

  // This step's host buffers (low_res_shape / high_res_shape floats), free to be written now.
  float* low_res_host();
  float* high_res_host();
  // Uploads the host buffers and runs one step; returns its loss terms (device scalars that stay
  // valid after later steps).
  LossTerms step();

  bool graphs_active() const { return !graphs_.empty(); }
  const std::string& graph_status() const { return graph_status_; }  // why graphs are (not) used
  kern::Stream stream() const { return stream_ ? stream_->get() : nullptr; }

 private:
  void try_capture(LossTerms& terms);

  Device device_;
  GraphMode mode_;
  int warmup_;
  std::unique_ptr<CudaStream> stream_;  // CUDA: the stream every step runs on
  Tensor low_res_, high_res_;           // (N, h, w, 3), (N, H, W, 3) on the device
  std::array<PinnedBuffer, 2> low_res_host_, high_res_host_;
  std::array<UploadEvent, 2> uploaded_;
  int pair_ = 0;                         // host pair of the next step
  StepPlan plan_;
  int64_t steps_ = 0;
  std::vector<std::unique_ptr<CudaGraph>> graphs_;  // one per segment once captured
  std::vector<LossTerms> captured_terms_;           // the segments' terms, rewritten by each replay
  bool capture_failed_ = false;
  std::string graph_status_;
};

}  // namespace srgan::app
