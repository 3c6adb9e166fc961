// PReLU (one learned slope, or one per channel), NHWC so the channel is the fastest index.
//   x, y, dx (M, C) with M = N*H*W     a, da (C) when per_channel, else (1)
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

struct PreluParams {
  int64_t M = 0;            // rows: N*H*W
  int C = 0;                // channels
  bool per_channel = false; // slopes: C if true, 1 if false
};

template <typename T> void prelu_forward_cpu(const PreluParams& p, const T* x, const T* a, T* y);
// Overwrites dx and da (da is the slope gradient, a reduction over rows).
template <typename T>
void prelu_backward_cpu(const PreluParams& p, const T* x, const T* a, const T* dy, T* dx, T* da);

void prelu_forward_cuda(const PreluParams& p, const float* x, const float* a, float* y, Stream s);
void prelu_backward_cuda(const PreluParams& p, const float* x, const float* a, const float* dy,
                         float* dx, float* da, Stream s);

}  // namespace srgan::kern
