// Per-thread CUDA resources shared by every *_cuda / *_cudnn / *_cublas file: cached cuDNN and
// cuBLAS handles, one grow-only scratch workspace, and device properties read once.
//
// Handles and the workspace are thread-local and per device (the device current at the call).
// Rules for callers (all of srgan's code follows them):
//  * The workspace is stream-ordered: reused by consecutive ops on one stream (stream order
//    makes that safe), and when a call hands it to another stream than the previous call, that
//    stream first waits (an event) for the work the previous stream had queued. So one thread
//    may drive several streams; two threads never share a workspace.
//  * The workspace only grows. Growing synchronises the device before freeing the old buffer
//    (kernels still queued may be reading it). Inside CUDA-graph capture growth is refused with
//    an error: run the step once before capturing so every buffer has reached its size.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

namespace srgan::kern::cuda {

// The cuDNN / cuBLAS handle of this thread for the current device, bound to stream s.
cudnnHandle_t cudnn_handle(cudaStream_t s);
cublasHandle_t cublas_handle(cudaStream_t s);

// At least `bytes` of device scratch (256-byte aligned), valid until the next workspace() call
// of this thread on this device. Never returns nullptr (bytes == 0 gives a small buffer).
void* workspace(size_t bytes, cudaStream_t s);
// Call before destroying a stream the workspace may have been handed to (core's CudaStream
// does): if this thread's workspace was last handed to s, the next user waits for s's work
// through an event recorded now, not later on a stream that no longer exists.
void forget_stream(cudaStream_t s);

// Number of SMs of the current device (cached).
int sm_count();
// The most dynamic shared memory one block may have on the current device once its kernel opts
// in (cudaFuncSetAttribute), in bytes (cached): 232,448 on an H100, 166,912 on an A100.
int smem_optin_bytes();

// Round up to a multiple of 256 bytes (to carve several arrays out of one workspace).
inline size_t align256(size_t bytes) { return (bytes + 255) & ~size_t(255); }

}  // namespace srgan::kern::cuda
