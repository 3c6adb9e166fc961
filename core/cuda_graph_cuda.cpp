// CudaGraph (see cuda_graph.h) over the CUDA runtime: stream capture into a private memory pool,
// instantiate, replay. Built only with CUDA; cuda_graph_nocuda.cpp stands in without it.
#include "core/cuda_graph.h"

#include <exception>
#include <string>

#include <cuda_runtime.h>

#include "core/check.h"

namespace srgan {

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA graph: ") + what + " failed: " + cudaGetErrorString(e));
}
}  // namespace

CudaGraph::CudaGraph() : pool_(make_capture_pool()) {}

CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
}

void CudaGraph::capture(const std::function<void()>& body) {
  if (ready()) throw Error("CUDA graph: already captured");
  cudaStream_t s = reinterpret_cast<cudaStream_t>(current_stream());
  if (!s) throw Error("CUDA graph: capture needs a created stream (StreamGuard with a CudaStream), not the default stream");
  check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  std::string body_error;
  std::exception_ptr other_error;  // not a std::exception (a test framework's, say): rethrown as is
  {
    CapturePoolGuard pool(pool_);
    try {
      body();
    } catch (const std::exception& e) {
      body_error = e.what();
      if (body_error.empty()) body_error = "an exception with an empty message";
    } catch (...) {
      other_error = std::current_exception();
    }
  }
  cudaGraph_t g = nullptr;
  cudaError_t end = cudaStreamEndCapture(s, &g);  // always leave capture mode, even after a failure
  if (other_error) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
    std::rethrow_exception(other_error);
  }
  if (!body_error.empty() || end != cudaSuccess) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();  // capture errors are not sticky; clear them so later calls start clean
    throw Error("CUDA graph: capture failed: " +
                (body_error.empty() ? std::string(cudaGetErrorString(end)) : body_error));
  }
  graph_ = g;
  check(cudaGraphGetNodes(g, nullptr, &nodes_), "cudaGraphGetNodes");
  cudaGraphExec_t exec = nullptr;
  check(cudaGraphInstantiate(&exec, g, 0), "cudaGraphInstantiate");
  exec_ = exec;
}

void CudaGraph::replay() {
  if (!ready()) throw Error("CUDA graph: replay before capture");
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), reinterpret_cast<cudaStream_t>(current_stream())),
        "cudaGraphLaunch");
}

}  // namespace srgan
