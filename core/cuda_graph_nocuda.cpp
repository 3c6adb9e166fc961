// CudaGraph (see cuda_graph.h) in a build without CUDA: every use says so.
#include "core/cuda_graph.h"

#include "core/check.h"

namespace srgan {

CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) {
  throw Error("CUDA graph: this build of srgan has no CUDA support");
}
void CudaGraph::replay() { throw Error("CUDA graph: this build of srgan has no CUDA support"); }

}  // namespace srgan
