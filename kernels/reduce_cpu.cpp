// Sums and losses on the CPU, accumulated in double.
#include "kernels/reduce.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {

template <typename T> double sum_cpu(int64_t n, const T* x) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]);
  return s;
}

template <typename T> double mse_forward_cpu(int64_t n, const T* a, const T* b) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  return n ? s / double(n) : 0.0;
}

template <typename T> void mse_backward_cpu(int64_t n, const T* a, const T* b, double g, T* da) {
  const double k = n ? 2.0 * g / double(n) : 0.0;
  for (int64_t i = 0; i < n; ++i) da[i] = T(k * (double(a[i]) - double(b[i])));
}

template <typename T> double bce_logits_forward_cpu(int64_t n, const T* x, const T* t) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += bce_logits_f(double(x[i]), double(t[i]));
  return n ? s / double(n) : 0.0;
}

template <typename T> void bce_logits_backward_cpu(int64_t n, const T* x, const T* t, double g, T* dx) {
  const double k = n ? g / double(n) : 0.0;
  for (int64_t i = 0; i < n; ++i) dx[i] = T(k * bce_logits_df(double(x[i]), double(t[i])));
}

#define SRGAN_INSTANTIATE(T)                                                     \
  template double sum_cpu<T>(int64_t, const T*);                                 \
  template double mse_forward_cpu<T>(int64_t, const T*, const T*);               \
  template void mse_backward_cpu<T>(int64_t, const T*, const T*, double, T*);    \
  template double bce_logits_forward_cpu<T>(int64_t, const T*, const T*);        \
  template void bce_logits_backward_cpu<T>(int64_t, const T*, const T*, double, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
