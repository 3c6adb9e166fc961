// Plain-loop CPU reference for NHWC/KRSC convolution: forward, backward-data, backward-weight.
// This is the ground truth every other variant is tested against; it favours clarity over speed.
#include "kernels/conv2d.h"

namespace srgan::kern {

template <typename T>
void conv2d_forward_cpu_ref(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int P = p.P(), Q = p.Q();
  for (int n = 0; n < p.N; ++n)
    for (int oh = 0; oh < P; ++oh)
      for (int ow = 0; ow < Q; ++ow)
        for (int k = 0; k < p.K; ++k) {
          double acc = b ? double(b[k]) : 0.0;
          for (int r = 0; r < p.R; ++r) {
            int ih = oh * p.stride - p.pad + r;
            if (ih < 0 || ih >= p.H) continue;
            for (int s = 0; s < p.S; ++s) {
              int iw = ow * p.stride - p.pad + s;
              if (iw < 0 || iw >= p.W) continue;
              const T* xp = x + ((int64_t(n) * p.H + ih) * p.W + iw) * p.C;  // (C)
              const T* wp = w + ((int64_t(k) * p.R + r) * p.S + s) * p.C;    // (C)
              for (int c = 0; c < p.C; ++c) acc += double(xp[c]) * double(wp[c]);
            }
          }
          y[((int64_t(n) * P + oh) * Q + ow) * p.K + k] = T(acc);
        }
}

template <typename T>
void conv2d_backward_data_cpu_ref(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int P = p.P(), Q = p.Q();
  // Gather form: each input pixel sums over the outputs whose window covers it.
  for (int n = 0; n < p.N; ++n)
    for (int ih = 0; ih < p.H; ++ih)
      for (int iw = 0; iw < p.W; ++iw)
        for (int c = 0; c < p.C; ++c) {
          double acc = 0.0;
          for (int r = 0; r < p.R; ++r) {
            int t = ih + p.pad - r;  // = oh * stride
            if (t < 0 || t % p.stride) continue;
            int oh = t / p.stride;
            if (oh >= P) continue;
            for (int s = 0; s < p.S; ++s) {
              int u = iw + p.pad - s;
              if (u < 0 || u % p.stride) continue;
              int ow = u / p.stride;
              if (ow >= Q) continue;
              const T* dyp = dy + ((int64_t(n) * P + oh) * Q + ow) * p.K;  // (K)
              for (int k = 0; k < p.K; ++k)
                acc += double(dyp[k]) * double(w[((int64_t(k) * p.R + r) * p.S + s) * p.C + c]);
            }
          }
          dx[((int64_t(n) * p.H + ih) * p.W + iw) * p.C + c] = T(acc);
        }
}

template <typename T>
void conv2d_backward_weight_cpu_ref(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int P = p.P(), Q = p.Q();
  for (int k = 0; k < p.K; ++k)
    for (int r = 0; r < p.R; ++r)
      for (int s = 0; s < p.S; ++s)
        for (int c = 0; c < p.C; ++c) {
          double acc = 0.0;
          for (int n = 0; n < p.N; ++n)
            for (int oh = 0; oh < P; ++oh) {
              int ih = oh * p.stride - p.pad + r;
              if (ih < 0 || ih >= p.H) continue;
              for (int ow = 0; ow < Q; ++ow) {
                int iw = ow * p.stride - p.pad + s;
                if (iw < 0 || iw >= p.W) continue;
                acc += double(x[((int64_t(n) * p.H + ih) * p.W + iw) * p.C + c]) *
                       double(dy[((int64_t(n) * P + oh) * Q + ow) * p.K + k]);
              }
            }
          dw[((int64_t(k) * p.R + r) * p.S + s) * p.C + c] = T(acc);
        }
  if (db) {
    for (int k = 0; k < p.K; ++k) {
      double acc = 0.0;
      for (int64_t i = 0; i < int64_t(p.N) * P * Q; ++i) acc += double(dy[i * p.K + k]);
      db[k] = T(acc);
    }
  }
}

#define SRGAN_INSTANTIATE(T)                                                                    \
  template void conv2d_forward_cpu_ref<T>(const Conv2dParams&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_data_cpu_ref<T>(const Conv2dParams&, const T*, const T*, T*);     \
  template void conv2d_backward_weight_cpu_ref<T>(const Conv2dParams&, const T*, const T*, T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
