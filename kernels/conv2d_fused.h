// Fused convolution epilogues. Training: y = PReLU(conv2d(x, w) + b), in one pass over the output.
//   x (N, H, W, C)   w (K, R, S, C)   b (K) or nullptr   slope (K) if per_channel else (1)
//   y (N, P, Q, K)   pre (N, P, Q, K) or nullptr: conv(x, w) + b before the PReLU, which is
//                    what prelu_backward needs as its input when training.
// The hand-written variants (v1, v2, v3) apply bias and PReLU in the epilogue that stores the
// convolution result, saving one read and one write of the output. ConvAlgo::cudnn runs the
// unfused composition (cuDNN convolution, then prelu_forward_cuda) as the baseline.
// Tested against that composition in tests/cuda/test_conv2d_fused.cpp.
#pragma once
#include "kernels/conv2d.h"

namespace srgan::kern {

void conv2d_bias_prelu_forward_cuda(const Conv2dParams& p, const float* x, const float* w,
                                    const float* b, const float* slope, bool per_channel, float* y,
                                    float* pre, ConvAlgo algo, Stream s);

// Inference: y = act(conv2d(x, w) * scale[k] + shift[k]) + residual, in the pass that stores the
// convolution. scale, shift (K): a convolution's bias and an eval-mode batch norm folded
// together (batchnorm_fold_eval_*), either may be nullptr (1, 0); slope (K) if per_channel
// else (1), or nullptr for no activation; residual (N, P, Q, K) or nullptr, added after the
// activation (SRResNet's skip). y must not alias x. ConvAlgo::cudnn runs cuDNN's convolution and
// then the epilogue as a second pass (the baseline).
void conv2d_affine_act_forward_cuda(const Conv2dParams& p, const float* x, const float* w, const float* scale,
                                    const float* shift, const float* slope, bool per_channel,
                                    const float* residual, float* y, ConvAlgo algo, Stream s);

// The same epilogue over a finished convolution output on the CPU, in place: y (M, K) =
// act(y * scale + shift) + residual (the CPU path's reference for the fused op).
template <typename T>
void conv_epilogue_cpu(int64_t M, int K, const T* scale, const T* shift, const T* slope, bool per_channel,
                       const T* residual, T* y);

}  // namespace srgan::kern
