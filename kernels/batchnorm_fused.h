// Batch norm followed by PReLU in one apply pass (SRResNet's residual blocks: conv -> BN -> PReLU):
//   y = PReLU(BN(x)), slope (C) if per_channel else (1); pre (optional, may be nullptr) receives
//   BN(x), which prelu_backward needs as its input when training.
// Same semantics and statistics outputs as batchnorm_forward_train_cuda / _eval_cuda with
// BatchNormAlgo::v1_two_pass; the activation costs no extra pass over memory. Tested against
// the unfused composition in tests/cuda/test_batchnorm.cpp.
#pragma once
#include "kernels/batchnorm.h"

namespace srgan::kern {

void batchnorm_prelu_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                        const float* beta, const float* slope, bool per_channel,
                                        float* y, float* pre, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, Stream s);
void batchnorm_prelu_forward_eval_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                       const float* beta, const float* running_mean,
                                       const float* running_var, const float* slope, bool per_channel,
                                       float* y, float* pre, Stream s);

}  // namespace srgan::kern
