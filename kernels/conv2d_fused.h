// Fused convolution epilogue: y = PReLU(conv2d(x, w) + b), in one pass over the output.
//   x (N, H, W, C)   w (K, R, S, C)   b (K) or nullptr   slope (K) if per_channel else (1)
//   y (N, P, Q, K)   pre (N, P, Q, K) or nullptr: conv(x, w) + b before the PReLU, which is
//                    what prelu_backward needs as its input when training.
// The hand-written variants (v1, v2, v3) apply bias and PReLU in the epilogue that stores the
// convolution result, saving one read and one write of the output. ConvAlgo::cudnn runs the
// unfused composition (cuDNN convolution, then prelu_forward_cuda) as the baseline.
// Tested against that composition in tests/cuda/test_conv2d.cpp.
#pragma once
#include "kernels/conv2d.h"

namespace srgan::kern {

void conv2d_bias_prelu_forward_cuda(const Conv2dParams& p, const float* x, const float* w,
                                    const float* b, const float* slope, bool per_channel, float* y,
                                    float* pre, ConvAlgo algo, Stream s);

}  // namespace srgan::kern
