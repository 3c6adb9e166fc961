// Inference-time fusion of a convolution with what follows it: [batch norm (eval, folded into
// the convolution's scale and shift)] [PReLU] [+ residual], as one conv2d_fused_eval
// (core/ops.h): on a GPU one pass over the output instead of up to four. Models call it when
// Module::fuse_for_inference() says so; the result equals running the layers one by one up to
// the rounding of the folded affine.
#pragma once
#include "layers/layers.h"

namespace srgan {

// act(bn(conv(x))) + residual; bn, act may be nullptr, residual undefined. A PReLU with one
// slope per channel must follow the convolution directly (its channels are the conv's).
Tensor conv_bn_prelu_eval(const Tensor& x, const Conv2d& conv, const BatchNorm2d* bn, const PReLU* act,
                          const Tensor& residual = Tensor());

}  // namespace srgan
