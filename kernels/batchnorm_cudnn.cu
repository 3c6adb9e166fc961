// cuDNN batch norm (legacy cudnnBatchNormalization* API, CUDNN_BATCHNORM_SPATIAL) behind the
// signatures of batchnorm.h, for timing against v1_two_pass. cuDNN updates the running
// variance with the unbiased batch variance, like PyTorch. Descriptors are cached per thread.
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "kernels/batchnorm_cudnn.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"

namespace srgan::kern {
namespace {

struct Descs {
  cudnnTensorDescriptor_t x = nullptr, bn = nullptr;
  Descs() = default;
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;
  ~Descs() {
    if (x) (void)cudnnDestroyTensorDescriptor(x);
    if (bn) (void)cudnnDestroyTensorDescriptor(bn);
  }
};

Descs& descs(const BatchNormParams& p) {
  if (p.M > 2147483647) throw std::invalid_argument("batchnorm cudnn: M too large");
  if (p.eps < CUDNN_BN_MIN_EPSILON) throw std::invalid_argument("batchnorm cudnn: eps below CUDNN_BN_MIN_EPSILON");
  thread_local std::map<std::tuple<int, int64_t, int>, std::unique_ptr<Descs>> cache;
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  const auto key = std::make_tuple(dev, p.M, p.C);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto d = std::make_unique<Descs>();
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->bn));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, int(p.M), p.C, 1, 1));
  CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(d->bn, d->x, CUDNN_BATCHNORM_SPATIAL));
  Descs& ref = *d;
  cache.emplace(key, std::move(d));
  return ref;
}

}  // namespace

void batchnorm_forward_train_cudnn(const BatchNormParams& p, const float* x, const float* gamma,
                                   const float* beta, float* y, float* save_mean, float* save_invstd,
                                   float* running_mean, float* running_var, Stream s) {
  cudnnHandle_t h = cuda::cudnn_handle(s);
  Descs& d = descs(p);
  const float one = 1.f, zero = 0.f;
  const bool upd = running_mean && running_var;
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.bn, gamma, beta, p.momentum,
      upd ? running_mean : nullptr, upd ? running_var : nullptr, p.eps, save_mean, save_invstd));
}

void batchnorm_backward_train_cudnn(const BatchNormParams& p, const float* x, const float* dy,
                                    const float* gamma, const float* save_mean,
                                    const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                    Stream s) {
  cudnnHandle_t h = cuda::cudnn_handle(s);
  Descs& d = descs(p);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero,
                                              d.x, x, d.x, dy, d.x, dx, d.bn, gamma, dgamma, dbeta,
                                              p.eps, save_mean, save_invstd));
}

}  // namespace srgan::kern
