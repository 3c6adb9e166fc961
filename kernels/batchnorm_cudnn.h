// cuDNN batch-norm baseline (BatchNormAlgo::cudnn), spatial mode: x (M, C) is described to cuDNN
// as an NHWC tensor of M images of 1x1 pixels, which has the same statistics and memory layout.
#pragma once
#include "kernels/batchnorm.h"

namespace srgan::kern {

void batchnorm_forward_train_cudnn(const BatchNormParams& p, const float* x, const float* gamma,
                                   const float* beta, float* y, float* save_mean, float* save_invstd,
                                   float* running_mean, float* running_var, Stream s);
void batchnorm_backward_train_cudnn(const BatchNormParams& p, const float* x, const float* dy,
                                    const float* gamma, const float* save_mean,
                                    const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                    Stream s);

}  // namespace srgan::kern
