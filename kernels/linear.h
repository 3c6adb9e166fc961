// Fully connected layer with PyTorch's weight layout:
//   x (M, In)   w (Out, In)   b (Out) or nullptr   y (M, Out) = x * w^T + b
#pragma once
#include "kernels/common.h"
#include "kernels/gemm.h"

namespace srgan::kern {

struct LinearParams {
  int M = 0, In = 0, Out = 0;
};

// All CPU functions go through gemm_cpu_blas; all overwrite their outputs.
template <typename T> void linear_forward_cpu(const LinearParams& p, const T* x, const T* w, const T* b, T* y);
template <typename T> void linear_backward_data_cpu(const LinearParams& p, const T* dy, const T* w, T* dx);
template <typename T>
void linear_backward_weight_cpu(const LinearParams& p, const T* x, const T* dy, T* dw, T* db);

void linear_forward_cuda(const LinearParams& p, const float* x, const float* w, const float* b, float* y,
                         GemmAlgo algo, Stream s);
void linear_backward_data_cuda(const LinearParams& p, const float* dy, const float* w, float* dx,
                               GemmAlgo algo, Stream s);
void linear_backward_weight_cuda(const LinearParams& p, const float* x, const float* dy, float* dw,
                                 float* db, GemmAlgo algo, Stream s);

}  // namespace srgan::kern
