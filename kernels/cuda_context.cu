// Thread-local cuDNN/cuBLAS handles and the grow-only workspace (see cuda_context.h).
#include "kernels/cuda_context.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda_check.h"

namespace srgan::kern::cuda {
namespace {

constexpr int kMaxDevices = 64;

struct DeviceResources {
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  void* ws = nullptr;
  size_t ws_bytes = 0;
  bool ws_captured = false;   // ws was handed out during a graph capture
  cudaStream_t ws_stream = nullptr;  // the stream ws was last handed to
  cudaEvent_t ws_event = nullptr;    // orders a new stream's use of ws after the previous one's
  bool ws_event_set = false;         // ws_event already marks the previous user's work (forget_stream)
  std::vector<void*> retired;  // old workspaces a captured graph may still replay with
  int sms = 0;         // multiprocessors (sm_count)
  int smem_optin = 0;  // opt-in shared memory per block, bytes (smem_optin_bytes)
};

// Destroyed at thread exit. Errors are ignored there: at process exit the CUDA runtime may
// already be shutting down, and a destructor must not throw.
struct ThreadResources {
  DeviceResources dev[kMaxDevices];
  ~ThreadResources() {
    for (auto& d : dev) {
      if (d.cudnn) (void)cudnnDestroy(d.cudnn);
      if (d.cublas) (void)cublasDestroy(d.cublas);
      if (d.ws) (void)cudaFree(d.ws);
      if (d.ws_event) (void)cudaEventDestroy(d.ws_event);
      for (void* p : d.retired) (void)cudaFree(p);
    }
  }
};

DeviceResources& current() {
  thread_local ThreadResources tr;
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= kMaxDevices)
    throw std::runtime_error("srgan: device index " + std::to_string(dev) + " out of range");
  return tr.dev[dev];
}

// Whether s is being captured into a graph. The legacy stream while a blocking stream captures
// counts as captured (CUDA reports cudaErrorStreamCaptureImplicit): the safe side.
bool capturing(cudaStream_t s) {
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  const cudaError_t ce = cudaStreamIsCapturing(s, &cap);
  if (ce == cudaErrorStreamCaptureImplicit) {
    (void)cudaGetLastError();
    return true;
  }
  CUDA_CHECK(ce);
  return cap != cudaStreamCaptureStatusNone;
}

}  // namespace

cudnnHandle_t cudnn_handle(cudaStream_t s) {
  DeviceResources& d = current();
  if (!d.cudnn) CUDNN_CHECK(cudnnCreate(&d.cudnn));
  CUDNN_CHECK(cudnnSetStream(d.cudnn, s));
  return d.cudnn;
}

cublasHandle_t cublas_handle(cudaStream_t s) {
  DeviceResources& d = current();
  if (!d.cublas) CUBLAS_CHECK(cublasCreate(&d.cublas));
  CUBLAS_CHECK(cublasSetStream(d.cublas, s));
  return d.cublas;
}

void* workspace(size_t bytes, cudaStream_t s) {
  DeviceResources& d = current();
  if (bytes < 256) bytes = 256;
  const bool cap = capturing(s);
  // Handed to another stream than last time: that stream's work waits for what the previous
  // stream queued before now (it may still be using ws). Not across a capture's edge (a captured
  // stream may not wait on an event recorded outside it; graph rules already order that work).
  if (d.ws && s != d.ws_stream && !cap && (d.ws_event_set || !capturing(d.ws_stream))) {
    if (!d.ws_event) CUDA_CHECK(cudaEventCreateWithFlags(&d.ws_event, cudaEventDisableTiming));
    if (!d.ws_event_set) CUDA_CHECK(cudaEventRecord(d.ws_event, d.ws_stream));
    CUDA_CHECK(cudaStreamWaitEvent(s, d.ws_event, 0));
  }
  d.ws_event_set = false;
  d.ws_stream = s;
  if (bytes <= d.ws_bytes) {
    if (cap) d.ws_captured = true;
    return d.ws;
  }
  if (cap)
    throw std::runtime_error(
        "srgan: the CUDA workspace must grow to " + std::to_string(bytes) +
        " bytes during graph capture; run the captured work once before capturing");
  // Grow by at least 1.5x so a sequence of slightly larger requests does not reallocate often.
  size_t grow = d.ws_bytes + d.ws_bytes / 2;
  if (grow > bytes) bytes = grow;
  bytes = align256(bytes);
  if (d.ws) {
    if (d.ws_captured) {
      // A CUDA graph captured with this buffer replays into its address: never free it.
      d.retired.push_back(d.ws);
    } else {
      CUDA_CHECK(cudaDeviceSynchronize());  // queued kernels may still read the old buffer
      CUDA_CHECK(cudaFree(d.ws));
    }
    d.ws = nullptr;
    d.ws_bytes = 0;
    d.ws_captured = false;
  }
  CUDA_CHECK(cudaMalloc(&d.ws, bytes));
  d.ws_bytes = bytes;
  return d.ws;
}

void forget_stream(cudaStream_t s) {
  DeviceResources& d = current();
  if (!d.ws || d.ws_stream != s || s == nullptr || capturing(s)) return;
  if (!d.ws_event) CUDA_CHECK(cudaEventCreateWithFlags(&d.ws_event, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventRecord(d.ws_event, s));  // what s queued with ws; the next user waits for it
  d.ws_event_set = true;
  d.ws_stream = nullptr;
}

int sm_count() {
  DeviceResources& d = current();
  if (d.sms == 0) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev));
    if (d.sms <= 0) d.sms = 1;
  }
  return d.sms;
}

int smem_optin_bytes() {
  DeviceResources& d = current();
  if (d.smem_optin == 0) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&d.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if (d.smem_optin <= 0) d.smem_optin = 48 * 1024;
  }
  return d.smem_optin;
}

}  // namespace srgan::kern::cuda
