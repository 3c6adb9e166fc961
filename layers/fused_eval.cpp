// conv_bn_prelu_eval: the layers' parameters handed to fold_batch_norm and conv2d_fused_eval.
#include "layers/fused_eval.h"

#include <tuple>

#include "core/ops.h"

namespace srgan {

Tensor conv_bn_prelu_eval(const Tensor& x, const Conv2d& conv, const BatchNorm2d* bn, const PReLU* act,
                          const Tensor& residual) {
  Tensor scale, shift = conv.bias;
  if (bn) std::tie(scale, shift) = fold_batch_norm(conv.bias, bn->weight, bn->bias, bn->running_mean,
                                                   bn->running_var, bn->eps);
  return conv2d_fused_eval(x, conv.weight, scale, shift, act ? act->weight : Tensor(), residual, conv.stride,
                           conv.pad);
}

}  // namespace srgan
