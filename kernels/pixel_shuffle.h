// Pixel shuffle (depth to space) with PyTorch's channel order, on NHWC tensors:
//   x (N, H, W, C*r*r) -> y (N, H*r, W*r, C) with y[n, h*r+i, w*r+j, c] = x[n, h, w, c*r*r + i*r + j]
#pragma once
#include "kernels/common.h"

namespace srgan::kern {

struct PixelShuffleParams {
  int N = 0, H = 0, W = 0;
  int C = 0;  // input channels, a multiple of r*r
  int r = 2;
};

template <typename T> void pixel_shuffle_forward_cpu(const PixelShuffleParams& p, const T* x, T* y);
// The inverse permutation: dx[n,h,w,c*r*r+i*r+j] = dy[n,h*r+i,w*r+j,c]. Overwrites dx.
template <typename T> void pixel_shuffle_backward_cpu(const PixelShuffleParams& p, const T* dy, T* dx);

void pixel_shuffle_forward_cuda(const PixelShuffleParams& p, const float* x, float* y, Stream s);
void pixel_shuffle_backward_cuda(const PixelShuffleParams& p, const float* dy, float* dx, Stream s);

}  // namespace srgan::kern
