// Elementwise arithmetic on flat buffers of n elements, and the per-channel affine map used for
// input normalisation (y[m,c] = x[m,c] * scale[c] + shift[c], x viewed as (M, C)).
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

template <typename T> void add_cpu(int64_t n, const T* a, const T* b, T* y);       // y = a + b
template <typename T> void mul_cpu(int64_t n, const T* a, const T* b, T* y);       // y = a * b
template <typename T> void scale_cpu(int64_t n, const T* x, double s, T* y);       // y = s * x
template <typename T> void axpy_cpu(int64_t n, double alpha, const T* x, T* y);    // y += alpha * x
template <typename T> void fill_cpu(int64_t n, double v, T* y);                    // y = v
template <typename T>
void channel_affine_cpu(int64_t M, int C, const T* x, const T* scale, const T* shift, T* y);

void add_cuda(int64_t n, const float* a, const float* b, float* y, Stream s);
void mul_cuda(int64_t n, const float* a, const float* b, float* y, Stream s);
void scale_cuda(int64_t n, const float* x, float sc, float* y, Stream s);
void axpy_cuda(int64_t n, float alpha, const float* x, float* y, Stream s);
void fill_cuda(int64_t n, float v, float* y, Stream s);
// y = s * (*g) for a device scalar g (broadcasts an upstream gradient without a host read).
void broadcast_scalar_cuda(int64_t n, const float* g, float sc, float* y, Stream s);
void channel_affine_cuda(int64_t M, int C, const float* x, const float* scale, const float* shift,
                         float* y, Stream s);

}  // namespace srgan::kern
