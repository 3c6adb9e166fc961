// Adam with PyTorch's semantics (torch.optim.Adam, no weight decay, amsgrad off), one pass over
// a flat parameter arena:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   param, grad, m, v (n)
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

struct AdamParams {
  int64_t n = 0;
  double lr = 1e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;  // t, starting at 1 for the first update
};

template <typename T> void adam_step_cpu(const AdamParams& p, T* param, const T* grad, T* m, T* v);
// One fused launch over the whole arena.
void adam_step_cuda(const AdamParams& p, float* param, const float* grad, float* m, float* v, Stream s);

}  // namespace srgan::kern
