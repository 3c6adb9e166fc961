// Elementwise arithmetic and the per-channel affine map on the CPU.
#include "kernels/elementwise.h"

namespace srgan::kern {

template <typename T> void add_cpu(int64_t n, const T* a, const T* b, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
template <typename T> void mul_cpu(int64_t n, const T* a, const T* b, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
template <typename T> void scale_cpu(int64_t n, const T* x, double s, T* y) {
  const T ts = T(s);
  for (int64_t i = 0; i < n; ++i) y[i] = ts * x[i];
}
template <typename T> void axpy_cpu(int64_t n, double alpha, const T* x, T* y) {
  const T ta = T(alpha);
  for (int64_t i = 0; i < n; ++i) y[i] += ta * x[i];
}
template <typename T> void fill_cpu(int64_t n, double v, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = T(v);
}
template <typename T>
void channel_affine_cpu(int64_t M, int C, const T* x, const T* scale, const T* shift, T* y) {
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) y[m * C + c] = x[m * C + c] * scale[c] + shift[c];
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
