// StepRunner (see step_runner.h): pinned double-buffered uploads, eager warm-up, CUDA-graph
// capture of each segment of the step plan, replay with Adam between the replays.
#include "tools/train/step_runner.h"

#include <algorithm>
#include <iostream>

#include "core/check.h"

namespace srgan::app {

GraphMode parse_graph_mode(const std::string& s) {
  if (s == "off") return GraphMode::off;
  if (s == "auto") return GraphMode::automatic;
  if (s == "on") return GraphMode::on;
  throw Error("--cuda-graph must be auto, on or off, got '" + s + "'");
}

StepRunner::StepRunner(Device device, const Shape& low_res_shape, const Shape& high_res_shape, GraphMode mode,
                       int warmup_steps)
    : device_(device), mode_(mode), warmup_(std::max(warmup_steps, 1)) {
  if (device_ == Device::cuda) stream_ = std::make_unique<CudaStream>();
  StreamGuard sg(stream());
  low_res_ = Tensor::zeros(low_res_shape, DType::f32, device_);
  high_res_ = Tensor::zeros(high_res_shape, DType::f32, device_);
  for (int i = 0; i < 2; ++i) {
    low_res_host_[i] = PinnedBuffer(low_res_.nbytes());
    high_res_host_[i] = PinnedBuffer(high_res_.nbytes());
  }
  if (device_ != Device::cuda) graph_status_ = "eager (CUDA graphs are for CUDA devices)";
  else if (mode_ == GraphMode::off) graph_status_ = "eager (--cuda-graph off)";
  else graph_status_ = "eager until step " + std::to_string(warmup_ + 1) + ", then CUDA graphs";
}

StepRunner::~StepRunner() {
  // Work queued on our stream may still read the pinned buffers and the graphs' memory. A
  // destructor must not throw (std::terminate would hide the error that is unwinding the stack,
  // e.g. a kernel fault): after a sticky CUDA error there is nothing left to wait for anyway.
  try {
    if (stream_) stream_synchronize(stream_->get());
  } catch (...) {
  }
}

void StepRunner::set_plan(StepPlan plan) {
  if (plan.updates.size() != plan.segments.size()) throw Error("StepRunner: a plan needs one update slot per segment");
  plan_ = std::move(plan);
  graphs_.clear();
  captured_terms_.clear();
}

// Before the loader writes a pair, its previous upload must have left host memory (a wait on a
// finished event returns at once).
float* StepRunner::low_res_host() {
  uploaded_[pair_].wait();
  return low_res_host_[pair_].floats();
}

float* StepRunner::high_res_host() {
  uploaded_[pair_].wait();
  return high_res_host_[pair_].floats();
}

namespace {
LossTerms clone_terms(const std::vector<LossTerms>& segments) {
  LossTerms out;
  for (auto& terms : segments)
    for (auto& [name, t] : terms) out.push_back({name, t.clone()});
  return out;
}
}  // namespace

// Captures segment by segment; each captured segment is replayed (capture runs nothing) and its
// Adam update applied before the next one is captured, so this step is a full step too. If a
// capture fails, the rest of this step runs eagerly and the runner stays eager.
void StepRunner::try_capture(LossTerms& terms) {
  size_t nodes = 0;
  for (size_t i = 0; i < plan_.segments.size(); ++i) {
    auto graph = std::make_unique<CudaGraph>();
    LossTerms seg_terms;
    try {
      graph->capture([&] { plan_.segments[i](seg_terms); });
    } catch (const std::exception& e) {
      if (mode_ == GraphMode::on) throw;
      capture_failed_ = true;
      graph_status_ = std::string("eager: CUDA-graph capture failed (") + e.what() + ")";
      std::cerr << "srgan: " << graph_status_ << "; continuing without graphs\n";
      terms = clone_terms(captured_terms_);
      graphs_.clear();
      captured_terms_.clear();
      for (size_t j = i; j < plan_.segments.size(); ++j) {  // finish this step eagerly
        plan_.segments[j](terms);
        if (plan_.updates[j]) plan_.updates[j]->step();
      }
      return;
    }
    graph->replay();
    if (plan_.updates[i]) plan_.updates[i]->step();
    nodes += graph->node_count();
    graphs_.push_back(std::move(graph));
    captured_terms_.push_back(std::move(seg_terms));
  }
  graph_status_ = "CUDA graphs: " + std::to_string(graphs_.size()) + " segment(s), " + std::to_string(nodes) +
                  " nodes, captured at step " + std::to_string(steps_);
  terms = clone_terms(captured_terms_);
}

LossTerms StepRunner::step() {
  if (plan_.segments.empty()) throw Error("StepRunner: step() before set_plan()");
  StreamGuard sg(stream());
  upload_async(low_res_, low_res_host_[pair_], uploaded_[pair_]);
  upload_async(high_res_, high_res_host_[pair_], uploaded_[pair_]);  // the event now covers both copies
  pair_ = 1 - pair_;
  ++steps_;

  const bool graphs_wanted = device_ == Device::cuda && mode_ != GraphMode::off && !capture_failed_;
  if (!graphs_wanted || steps_ <= warmup_) return run_eager(plan_);
  LossTerms terms;
  if (graphs_.empty()) {
    try_capture(terms);
    return terms;
  }
  for (size_t i = 0; i < graphs_.size(); ++i) {
    graphs_[i]->replay();
    if (plan_.updates[i]) plan_.updates[i]->step();
  }
  return clone_terms(captured_terms_);  // the next replay rewrites the captured terms
}

}  // namespace srgan::app
