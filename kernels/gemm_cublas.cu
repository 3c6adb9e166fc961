// cuBLAS sgemm behind gemm.h's row-major signature (see gemm_cublas.h).
#include <atomic>

#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/gemm_cublas.h"

namespace srgan::kern {
namespace {
std::atomic<bool> g_allow_tf32{false};
}

void gemm_cublas_set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool gemm_cublas_allow_tf32() { return g_allow_tf32.load(); }

void gemm_cublas(const GemmParams& p, const float* A, const float* B, float* C, Stream s) {
  cublasHandle_t h = cuda::cublas_handle(s);
  CUBLAS_CHECK(cublasSetMathMode(h, g_allow_tf32.load() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const float alpha = float(p.alpha), beta = float(p.beta);
  // Row-major X (rows x cols, ld) is column-major X^T (cols x rows, ld).
  CUBLAS_CHECK(cublasSgemm(h, p.transB ? CUBLAS_OP_T : CUBLAS_OP_N, p.transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                           p.N, p.M, p.K, &alpha, B, p.ldb, A, p.lda, &beta, C, p.ldc));
}

void gemm_cublas_bf16_square(int n, const void* A, const void* B, float* C, Stream s) {
  cublasHandle_t h = cuda::cublas_handle(s);
  CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  const float alpha = 1.f, beta = 0.f;
  CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, A, CUDA_R_16BF, n, B, CUDA_R_16BF, n, &beta,
                            C, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace srgan::kern
