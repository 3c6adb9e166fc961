// Inference-only ops (never recorded by autograd): a batch norm folded into the convolution
// before it, and the convolution with its whole epilogue (folded affine, PReLU, residual add)
// in one pass. Models use them in eval mode with autograd off (layers/fused_eval.h).
#include "core/autograd.h"
#include "core/backend.h"
#include "core/conv2d_params.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/batchnorm.h"
#include "kernels/conv2d_fused.h"

namespace srgan {
using namespace kern;
namespace {

// These ops record no backward: refuse to run where autograd would need one.
void check_inference(const char* op, std::initializer_list<const Tensor*> ts) {
  if (!grad_enabled()) return;
  for (const Tensor* t : ts)
    if (t->defined() && t->requires_grad())
      fail(op, "is for inference and records no gradient, but an input requires one (run it under NoGradGuard, "
               "or use conv2d, batch_norm and prelu)");
}

}  // namespace

std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_bias, const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var, double eps) {
  const char* op = "fold_batch_norm";
  check_defined(op, gamma, "gamma");
  check_ndim(op, gamma, 1, "gamma", "(C)");
  const int64_t C = gamma.dim(0);
  check_shape(op, beta, {C}, "beta");
  check_shape(op, running_mean, {C}, "running_mean");
  check_shape(op, running_var, {C}, "running_var");
  if (conv_bias.defined()) check_shape(op, conv_bias, {C}, "conv bias");
  check_compatible(op, {{"gamma", &gamma}, {"beta", &beta}, {"running_mean", &running_mean},
                        {"running_var", &running_var}, {"conv bias", &conv_bias}});
  check_inference(op, {&conv_bias, &gamma, &beta});
  BatchNormParams p;
  p.C = int(C);
  p.eps = eps;
  Tensor scale = empty_like(gamma), shift = empty_like(gamma);
  if (gamma.is_cuda()) {
    SRGAN_CUDA_ONLY(op, batchnorm_fold_eval_cuda(p, fptr(gamma), fptr(beta), fptr(running_mean), fptr(running_var),
                                                  fptr(conv_bias), fptr(scale), fptr(shift), current_stream()));
  } else {
    dispatch_cpu(gamma.dtype(), [&](auto tag) {
      using T = decltype(tag);
      batchnorm_fold_eval_cpu<T>(p, ptr<T>(gamma), ptr<T>(beta), ptr<T>(running_mean), ptr<T>(running_var),
                                 ptr<T>(conv_bias), ptr<T>(scale), ptr<T>(shift));
    });
  }
  return {scale, shift};
}

Tensor conv2d_fused_eval(const Tensor& x, const Tensor& w, const Tensor& scale, const Tensor& shift,
                         const Tensor& slope, const Tensor& residual, int stride, int pad) {
  const char* op = "conv2d_fused_eval";
  const Conv2dParams p = checked_conv2d_params(op, x, w, shift, stride, pad);
  if (scale.defined()) check_shape(op, scale, {p.K}, "scale");
  const bool per_channel = slope.defined() && slope.numel() != 1;
  if (slope.defined() && per_channel) check_shape(op, slope, {p.K}, "PReLU slope");
  if (residual.defined()) check_shape(op, residual, {p.N, p.P(), p.Q(), p.K}, "residual");
  check_compatible(op, {{"input", &x}, {"scale", &scale}, {"PReLU slope", &slope}, {"residual", &residual}});
  check_inference(op, {&x, &w, &scale, &shift, &slope, &residual});
  Tensor y = Tensor::empty({p.N, p.P(), p.Q(), p.K}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, conv2d_affine_act_forward_cuda(p, fptr(x), fptr(w), fptr(scale), fptr(shift), fptr(slope),
                                                       per_channel, fptr(residual), fptr(y), backend().conv_algo,
                                                       current_stream()));
    return y;
  }
  // The CPU path: the convolution as conv2d runs it (no bias: the shift holds it), then the
  // epilogue in place.
  {
    NoGradGuard ng;
    y = conv2d(x, w, Tensor(), stride, pad);
  }
  dispatch_cpu(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    conv_epilogue_cpu<T>(int64_t(p.N) * p.P() * p.Q(), p.K, ptr<T>(scale), ptr<T>(shift), ptr<T>(slope), per_channel,
                         ptr<T>(residual), ptr<T>(y));
  });
  return y;
}

}  // namespace srgan
