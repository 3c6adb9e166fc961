// Error checking for every CUDA runtime, cuDNN and cuBLAS call, and for kernel launches.
// Each macro throws std::runtime_error naming the failed call, the library's message and the
// file:line, so a failure inside a test or the benchmark says where it happened.
//
//   CUDA_CHECK(cudaMalloc(&p, bytes));
//   CUDNN_CHECK(cudnnCreate(&h));
//   CUBLAS_CHECK(cublasCreate(&h));
//   my_kernel<<<grid, block, 0, s>>>(...);  SRGAN_LAUNCH_CHECK(s);
//
// SRGAN_LAUNCH_CHECK always reads cudaGetLastError (a bad launch configuration is reported at
// once); in debug builds (NDEBUG not defined) it also synchronises the device so an illegal
// address is reported at the launch that caused it rather than at some later call. While a
// stream is being captured into a CUDA graph the synchronisation is skipped (it would be illegal).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace srgan::kern::detail {

[[noreturn]] inline void throw_cuda_error(const char* what, const char* msg, int code,
                                          const char* file, int line) {
  std::ostringstream os;
  os << file << ":" << line << ": " << what << " failed: " << msg << " (code " << code << ")";
  throw std::runtime_error(os.str());
}

inline const char* cublas_status_string(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

// After a kernel launch: the launch error always, and in debug builds the kernel's own errors.
inline void launch_check(cudaStream_t s, const char* file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda_error("kernel launch", cudaGetErrorString(e), int(e), file, line);
#ifndef NDEBUG
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  e = cudaStreamIsCapturing(s, &cap);
  if (e != cudaSuccess) throw_cuda_error("cudaStreamIsCapturing", cudaGetErrorString(e), int(e), file, line);
  if (cap == cudaStreamCaptureStatusNone) {
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) throw_cuda_error("kernel execution", cudaGetErrorString(e), int(e), file, line);
  }
#else
  (void)s;
#endif
}

}  // namespace srgan::kern::detail

#define CUDA_CHECK(call)                                                                     \
  do {                                                                                       \
    cudaError_t srgan_err_ = (call);                                                         \
    if (srgan_err_ != cudaSuccess)                                                           \
      ::srgan::kern::detail::throw_cuda_error(#call, cudaGetErrorString(srgan_err_),         \
                                              int(srgan_err_), __FILE__, __LINE__);          \
  } while (0)

#define CUDNN_CHECK(call)                                                                    \
  do {                                                                                       \
    cudnnStatus_t srgan_st_ = (call);                                                        \
    if (srgan_st_ != CUDNN_STATUS_SUCCESS)                                                   \
      ::srgan::kern::detail::throw_cuda_error(#call, cudnnGetErrorString(srgan_st_),         \
                                              int(srgan_st_), __FILE__, __LINE__);           \
  } while (0)

#define CUBLAS_CHECK(call)                                                                   \
  do {                                                                                       \
    cublasStatus_t srgan_st_ = (call);                                                       \
    if (srgan_st_ != CUBLAS_STATUS_SUCCESS)                                                  \
      ::srgan::kern::detail::throw_cuda_error(                                               \
          #call, ::srgan::kern::detail::cublas_status_string(srgan_st_), int(srgan_st_),     \
          __FILE__, __LINE__);                                                               \
  } while (0)

// Use right after `kernel<<<..., stream>>>(...)`.
#define SRGAN_LAUNCH_CHECK(stream) ::srgan::kern::detail::launch_check((stream), __FILE__, __LINE__)
