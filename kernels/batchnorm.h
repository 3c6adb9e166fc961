// Batch normalisation over N*H*W for each channel of an NHWC tensor, PyTorch's semantics:
// training uses the biased batch variance to normalise and updates the running variance with
// the unbiased one, running = (1 - momentum) * running + momentum * batch.
//   x, y, dy, dx (M, C), M = N*H*W     gamma, beta, running_*, save_*, dgamma, dbeta (C)
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

struct BatchNormParams {
  int64_t M = 0;
  int C = 0;
  double eps = 1e-5;
  double momentum = 0.1;
};

// Writes y, save_mean, save_invstd (1/sqrt(var_biased + eps)); updates running stats in place
// when running_mean/running_var are not nullptr.
template <typename T>
void batchnorm_forward_train_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                 T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var);
template <typename T>
void batchnorm_forward_eval_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                const T* running_mean, const T* running_var, T* y);
// Gradient of the training-mode forward. Overwrites dx, dgamma, dbeta.
template <typename T>
void batchnorm_backward_train_cpu(const BatchNormParams& p, const T* x, const T* dy, const T* gamma,
                                  const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta);
// Gradient of the eval-mode forward (statistics are constants). Overwrites dx, dgamma, dbeta.
template <typename T>
void batchnorm_backward_eval_cpu(const BatchNormParams& p, const T* x, const T* dy, const T* gamma,
                                 const T* running_mean, const T* running_var, T* dx, T* dgamma,
                                 T* dbeta);

// Eval-mode batch norm after a convolution with bias `bias` (nullptr: none), folded into one
// per-channel affine for inference (conv2d_affine_act_forward_cuda): BN(v + bias) = v * scale +
// shift with scale = gamma / sqrt(running_var + eps), shift = (bias - running_mean) * scale +
// beta, computed in double. Everything (C); p.M is not used.
template <typename T>
void batchnorm_fold_eval_cpu(const BatchNormParams& p, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, const T* bias, T* scale, T* shift);

enum class BatchNormAlgo { v1_two_pass = 1, cudnn = 100 };

void batchnorm_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                  const float* beta, float* y, float* save_mean, float* save_invstd,
                                  float* running_mean, float* running_var, BatchNormAlgo algo, Stream s);
void batchnorm_forward_eval_cuda(const BatchNormParams& p, const float* x, const float* gamma,
                                 const float* beta, const float* running_mean,
                                 const float* running_var, float* y, Stream s);
void batchnorm_fold_eval_cuda(const BatchNormParams& p, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, const float* bias,
                              float* scale, float* shift, Stream s);
void batchnorm_backward_train_cuda(const BatchNormParams& p, const float* x, const float* dy,
                                   const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                   BatchNormAlgo algo, Stream s);
void batchnorm_backward_eval_cuda(const BatchNormParams& p, const float* x, const float* dy,
                                  const float* gamma, const float* running_mean,
                                  const float* running_var, float* dx, float* dgamma, float* dbeta,
                                  Stream s);

}  // namespace srgan::kern
