// Internal to core/: the argument checks of a convolution op (shapes, channels, bias, devices,
// stride and padding), shared by conv2d (op_conv2d.cpp) and the inference-only fused
// convolution (op_fused_eval.cpp), so both fail with the same messages.
#pragma once
#include "core/tensor.h"
#include "kernels/conv2d.h"

namespace srgan {

// x (N, H, W, C), w (K, R, S, C), b (K) or undefined; throws Error naming `op` otherwise.
kern::Conv2dParams checked_conv2d_params(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                                         int stride, int pad);

}  // namespace srgan
