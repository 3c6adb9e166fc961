// Pixel shuffle on the CPU: x (N, H, W, C) -> y (N, H*r, W*r, C/(r*r)), PyTorch's channel order.
#include "kernels/cpu_parallel.h"
#include "kernels/pixel_shuffle.h"

namespace srgan::kern {

template <typename T> void pixel_shuffle_forward_cpu(const PixelShuffleParams& p, const T* x, T* y) {
  const int r = p.r, Co = p.C / (r * r), Ho = p.H * r, Wo = p.W * r;
  parallel_for(int64_t(p.N) * p.H, grain_rows(int64_t(p.W) * p.C), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {  // t = n * H + h: one input row
      const int n = int(t / p.H), h = int(t % p.H);
      for (int w = 0; w < p.W; ++w)
        for (int c = 0; c < Co; ++c)
          for (int i = 0; i < r; ++i)
            for (int j = 0; j < r; ++j)
              y[((int64_t(n) * Ho + h * r + i) * Wo + w * r + j) * Co + c] =
                  x[((int64_t(n) * p.H + h) * p.W + w) * p.C + c * r * r + i * r + j];
    }
  });
}

template <typename T> void pixel_shuffle_backward_cpu(const PixelShuffleParams& p, const T* dy, T* dx) {
  const int r = p.r, Co = p.C / (r * r), Ho = p.H * r, Wo = p.W * r;
  parallel_for(int64_t(p.N) * p.H, grain_rows(int64_t(p.W) * p.C), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int n = int(t / p.H), h = int(t % p.H);
      for (int w = 0; w < p.W; ++w)
        for (int c = 0; c < Co; ++c)
          for (int i = 0; i < r; ++i)
            for (int j = 0; j < r; ++j)
              dx[((int64_t(n) * p.H + h) * p.W + w) * p.C + c * r * r + i * r + j] =
                  dy[((int64_t(n) * Ho + h * r + i) * Wo + w * r + j) * Co + c];
    }
  });
}

template void pixel_shuffle_forward_cpu<float>(const PixelShuffleParams&, const float*, float*);
template void pixel_shuffle_forward_cpu<double>(const PixelShuffleParams&, const double*, double*);
template void pixel_shuffle_backward_cpu<float>(const PixelShuffleParams&, const float*, float*);
template void pixel_shuffle_backward_cpu<double>(const PixelShuffleParams&, const double*, double*);

}  // namespace srgan::kern
