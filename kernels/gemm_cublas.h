// cuBLAS baseline for gemm (GemmAlgo::cublas): row-major C = alpha op(A) op(B) + beta C computed
// as the column-major product C^T = op(B)^T op(A)^T with cublasSgemm.
#pragma once
#include "kernels/gemm.h"

namespace srgan::kern {

// false (default): pure fp32 (CUBLAS_DEFAULT_MATH); true: TF32 tensor cores allowed.
void gemm_cublas_set_allow_tf32(bool allow);
bool gemm_cublas_allow_tf32();

void gemm_cublas(const GemmParams& p, const float* A, const float* B, float* C, Stream s);

// C (n x n, fp32) = A B with A and B (n x n) in bfloat16 (raw 16-bit values), fp32 accumulation
// (cublasGemmEx): the BF16 tensor-core peak that `bench kernels` holds BF16 rows to.
void gemm_cublas_bf16_square(int n, const void* A, const void* B, float* C, Stream s);

}  // namespace srgan::kern
