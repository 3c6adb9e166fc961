// Reductions and losses to a single scalar. CPU versions return the value (accumulated in double);
// CUDA versions write one float to out (device memory), with no host synchronisation.
//   a, b, x, t, da, dx (n)
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

template <typename T> double sum_cpu(int64_t n, const T* x);
// mean((a - b)^2)
template <typename T> double mse_forward_cpu(int64_t n, const T* a, const T* b);
// da = g * 2 (a - b) / n. Overwrites da.
template <typename T> void mse_backward_cpu(int64_t n, const T* a, const T* b, double g, T* da);
// mean(bce_logits(x, t))
template <typename T> double bce_logits_forward_cpu(int64_t n, const T* x, const T* t);
// dx = g * (sigmoid(x) - t) / n. Overwrites dx.
template <typename T> void bce_logits_backward_cpu(int64_t n, const T* x, const T* t, double g, T* dx);

void sum_cuda(int64_t n, const float* x, float* out, Stream s);
void mse_forward_cuda(int64_t n, const float* a, const float* b, float* out, Stream s);
// g is a device scalar (the upstream gradient), so no host read is needed inside backward.
void mse_backward_cuda(int64_t n, const float* a, const float* b, const float* g, float* da, Stream s);
void bce_logits_forward_cuda(int64_t n, const float* x, const float* t, float* out, Stream s);
void bce_logits_backward_cuda(int64_t n, const float* x, const float* t, const float* g, float* dx,
                              Stream s);

}  // namespace srgan::kern
