// Elementwise activations (ReLU, leaky ReLU with a fixed slope, sigmoid), forward and backward.
//   x, y, dy, dx (n)     backward overwrites dx
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

enum class Activation { relu, leaky_relu, sigmoid };

struct ActivationParams {
  int64_t n = 0;
  Activation kind = Activation::relu;
  double slope = 0.2;  // leaky ReLU only
};

template <typename T> void activation_forward_cpu(const ActivationParams& p, const T* x, T* y);
// relu/leaky use x; sigmoid uses y (its own output).
template <typename T>
void activation_backward_cpu(const ActivationParams& p, const T* x, const T* y, const T* dy, T* dx);

void activation_forward_cuda(const ActivationParams& p, const float* x, float* y, Stream s);
void activation_backward_cuda(const ActivationParams& p, const float* x, const float* y,
                              const float* dy, float* dx, Stream s);

}  // namespace srgan::kern
