// Row-major GEMM: C = alpha * op(A) * op(B) + beta * C, op = transpose when the flag is set.
//   op(A) (M, K)   op(B) (K, N)   C (M, N), leading dimensions are row strides.
// CPU: a plain-loop reference and a dispatcher (OpenBLAS sgemm/dgemm). CUDA: our tiled kernel and cuBLAS.
#pragma once
#include "kernels/common.h"

namespace srgan::kern {

struct GemmParams {
  bool transA = false, transB = false;
  int M = 0, N = 0, K = 0;
  int lda = 0, ldb = 0, ldc = 0;
  double alpha = 1.0, beta = 0.0;
};

template <typename T> void gemm_cpu_ref(const GemmParams& p, const T* A, const T* B, T* C);
template <typename T> void gemm_cpu_blas(const GemmParams& p, const T* A, const T* B, T* C);
// `count` independent GEMMs of the same shape, operand i at A + i * strideA (likewise B, C).
// Each runs whole on one thread and the calls are spread over the CPU pool: for GEMMs too small
// to be worth splitting (Winograd's 36 products per block), where waking OpenBLAS's own threads
// for every call would cost more than the work.
template <typename T>
void gemm_cpu_blas_strided_batch(const GemmParams& p, int count, const T* A, int64_t strideA, const T* B,
                                 int64_t strideB, T* C, int64_t strideC);

enum class GemmAlgo { v1_smem_tiled = 1, v2_tf32_mma = 2, cublas = 100 };

void gemm_cuda(const GemmParams& p, const float* A, const float* B, float* C, GemmAlgo algo, Stream s);

}  // namespace srgan::kern

#include <string>
namespace srgan::kern {
// Threads used by the CPU GEMM (OpenBLAS); n <= 0 keeps the library's default (all cores).
void gemm_cpu_set_threads(int n);
// What runs the CPU GEMM, e.g. "OpenBLAS (Cooperlake kernels)". OpenBLAS picks its kernels for the
// CPU when it loads, unless the environment variable OPENBLAS_CORETYPE names them.
std::string gemm_cpu_library();
// The OPENBLAS_CORETYPE that suits this CPU better than the kernels OpenBLAS chose, or "" when its
// choice is right: a generic one (Prescott and such) on a CPU with AVX2 or AVX-512, which happens
// when OpenBLAS does not recognise the CPU's model. Only takes effect in a process started with it.
std::string gemm_cpu_better_core();
}  // namespace srgan::kern
