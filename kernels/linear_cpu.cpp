// Fully connected layer on the CPU, through the GEMM dispatcher (OpenBLAS).
#include <cstring>

#include "kernels/column_sum.h"
#include "kernels/linear.h"

namespace srgan::kern {

template <typename T>
void linear_forward_cpu(const LinearParams& p, const T* x, const T* w, const T* b, T* y) {
  if (b)
    for (int m = 0; m < p.M; ++m) std::memcpy(y + int64_t(m) * p.Out, b, sizeof(T) * p.Out);
  GemmParams g;  // y (M, Out) = x (M, In) * w^T (In, Out)
  g.transB = true;
  g.M = p.M; g.N = p.Out; g.K = p.In;
  g.lda = p.In; g.ldb = p.In; g.ldc = p.Out;
  g.beta = b ? 1.0 : 0.0;
  gemm_cpu_blas<T>(g, x, w, y);
}

template <typename T> void linear_backward_data_cpu(const LinearParams& p, const T* dy, const T* w, T* dx) {
  GemmParams g;  // dx (M, In) = dy (M, Out) * w (Out, In)
  g.M = p.M; g.N = p.In; g.K = p.Out;
  g.lda = p.Out; g.ldb = p.In; g.ldc = p.In;
  gemm_cpu_blas<T>(g, dy, w, dx);
}

template <typename T>
void linear_backward_weight_cpu(const LinearParams& p, const T* x, const T* dy, T* dw, T* db) {
  GemmParams g;  // dw (Out, In) = dy^T (Out, M) * x (M, In)
  g.transA = true;
  g.M = p.Out; g.N = p.In; g.K = p.M;
  g.lda = p.Out; g.ldb = p.In; g.ldc = p.In;
  gemm_cpu_blas<T>(g, dy, x, dw);
  if (db) column_sum_cpu(dy, p.M, p.Out, db);
}

#define SRGAN_INSTANTIATE(T)                                                                   \
  template void linear_forward_cpu<T>(const LinearParams&, const T*, const T*, const T*, T*); \
  template void linear_backward_data_cpu<T>(const LinearParams&, const T*, const T*, T*);     \
  template void linear_backward_weight_cpu<T>(const LinearParams&, const T*, const T*, T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
