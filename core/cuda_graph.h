// CUDA graphs: record the kernels that a piece of host code issues on the current stream once,
// then launch all of them again with a single call. A training step of SRResNet is ~400 kernel
// launches of a few microseconds each; replaying them as one graph removes the host's launch
// cost from every step (and the host is free to prepare the next batch meanwhile).
//
// Rules for the captured code (what "static shapes" means here):
//  * no host reads or writes of device memory (no item(), no to_vector, no host->device copy);
//  * every buffer it reads from outside (inputs, parameters, optimizer state) is at the same
//    address at every replay: copy new data into those tensors, never replace them;
//  * every tensor it creates comes from this graph's private pool (see CapturePoolGuard in
//    core/device.h) and keeps its address; tensors it returns hold the new values after each
//    replay, so read (or clone) them before the next one;
//  * host-side state changed by the code (an Adam step counter, say) changes once, at capture,
//    not at every replay: keep such updates outside the graph.
// Run the code once eagerly before capturing, so lazily created state (gradient buffers, cached
// constants, cuDNN/cuBLAS handles, the kernels' workspace) exists before capture starts.
#pragma once
#include <functional>
#include <memory>

#include "core/device.h"

namespace srgan {

class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `body` with the current stream (which must be a created stream, not the legacy default
  // one) in capture mode: its work is recorded, not executed. Throws srgan::Error naming what went
  // wrong if the capture fails; the stream is then out of capture mode and nothing was run.
  void capture(const std::function<void()>& body);
  void replay();  // launches the recorded work on the current stream
  bool ready() const { return exec_ != nullptr; }
  size_t node_count() const { return nodes_; }

 private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
  size_t nodes_ = 0;
  std::shared_ptr<CapturePool> pool_;
};

}  // namespace srgan
