// 2x2 max pooling with stride 2 on NHWC (odd trailing rows/cols are dropped, as PyTorch does).
//   x (N, H, W, C) -> y (N, H/2, W/2, C). Ties go to the first element in row-major window order.
#pragma once
#include "kernels/common.h"

namespace srgan::kern {

struct MaxPoolParams {
  int N = 0, H = 0, W = 0, C = 0;
  int P() const { return H / 2; }
  int Q() const { return W / 2; }
};

template <typename T> void maxpool2x2_forward_cpu(const MaxPoolParams& p, const T* x, T* y);
// Routes dy to the arg-max of each window (recomputed from x). Overwrites dx.
template <typename T> void maxpool2x2_backward_cpu(const MaxPoolParams& p, const T* x, const T* dy, T* dx);

void maxpool2x2_forward_cuda(const MaxPoolParams& p, const float* x, float* y, Stream s);
void maxpool2x2_backward_cuda(const MaxPoolParams& p, const float* x, const float* dy, float* dx, Stream s);

}  // namespace srgan::kern
