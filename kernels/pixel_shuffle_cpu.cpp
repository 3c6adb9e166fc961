// Pixel shuffle on the CPU: x (N, H, W, C) -> y (N, H*r, W*r, C/(r*r)), PyTorch's channel order.
#include "kernels/pixel_shuffle.h"

namespace srgan::kern {

template <typename T> void pixel_shuffle_forward_cpu(const PixelShuffleParams& p, const T* x, T* y) {
  const int r = p.r, Co = p.C / (r * r), Ho = p.H * r, Wo = p.W * r;
  for (int n = 0; n < p.N; ++n)
    for (int h = 0; h < p.H; ++h)
      for (int w = 0; w < p.W; ++w)
        for (int c = 0; c < Co; ++c)
          for (int i = 0; i < r; ++i)
            for (int j = 0; j < r; ++j)
              y[((int64_t(n) * Ho + h * r + i) * Wo + w * r + j) * Co + c] =
                  x[((int64_t(n) * p.H + h) * p.W + w) * p.C + c * r * r + i * r + j];
}

template <typename T> void pixel_shuffle_backward_cpu(const PixelShuffleParams& p, const T* dy, T* dx) {
  const int r = p.r, Co = p.C / (r * r), Ho = p.H * r, Wo = p.W * r;
  for (int n = 0; n < p.N; ++n)
    for (int h = 0; h < p.H; ++h)
      for (int w = 0; w < p.W; ++w)
        for (int c = 0; c < Co; ++c)
          for (int i = 0; i < r; ++i)
            for (int j = 0; j < r; ++j)
              dx[((int64_t(n) * p.H + h) * p.W + w) * p.C + c * r * r + i * r + j] =
                  dy[((int64_t(n) * Ho + h * r + i) * Wo + w * r + j) * Co + c];
}

template void pixel_shuffle_forward_cpu<float>(const PixelShuffleParams&, const float*, float*);
template void pixel_shuffle_forward_cpu<double>(const PixelShuffleParams&, const double*, double*);
template void pixel_shuffle_backward_cpu<float>(const PixelShuffleParams&, const float*, float*);
template void pixel_shuffle_backward_cpu<double>(const PixelShuffleParams&, const double*, double*);

}  // namespace srgan::kern
