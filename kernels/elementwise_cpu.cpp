// Elementwise arithmetic and the per-channel affine map on the CPU.
#include <algorithm>

#include "kernels/cpu_parallel.h"
#include "kernels/elementwise.h"

namespace srgan::kern {

template <typename T> void add_cpu(int64_t n, const T* a, const T* b, T* y) {
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
  });
}

template <typename T> void mul_cpu(int64_t n, const T* a, const T* b, T* y) {
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] * b[i];
  });
}

template <typename T> void scale_cpu(int64_t n, const T* x, double s, T* y) {
  const T ts = T(s);
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = ts * x[i];
  });
}

template <typename T> void axpy_cpu(int64_t n, double alpha, const T* x, T* y) {
  const T ta = T(alpha);
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] += ta * x[i];
  });
}

template <typename T> void fill_cpu(int64_t n, double v, T* y) {
  const T tv = T(v);
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) { std::fill(y + i0, y + i1, tv); });
}

template <typename T>
void channel_affine_cpu(int64_t M, int C, const T* x, const T* scale, const T* shift, T* y) {
  parallel_for(M, grain_rows(C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int c = 0; c < C; ++c) y[m * C + c] = x[m * C + c] * scale[c] + shift[c];
  });
}

#define SRGAN_INSTANTIATE(T)                                          \
  template void add_cpu<T>(int64_t, const T*, const T*, T*);          \
  template void mul_cpu<T>(int64_t, const T*, const T*, T*);          \
  template void scale_cpu<T>(int64_t, const T*, double, T*);          \
  template void axpy_cpu<T>(int64_t, double, const T*, T*);           \
  template void fill_cpu<T>(int64_t, double, T*);                     \
  template void channel_affine_cpu<T>(int64_t, int, const T*, const T*, const T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
