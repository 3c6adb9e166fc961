// cuDNN convolution baseline (NHWC activations, KRSC = cuDNN's NHWC filter format), reached
// through conv2d_*_cuda with ConvAlgo::cudnn. The algorithm for each shape is chosen once with
// cudnnFind* (timed by cuDNN, like PyTorch's cudnn.benchmark = True) and cached per thread.
#pragma once
#include "kernels/conv2d.h"

namespace srgan::kern {

// Math mode of the baseline. false (default): fp32 FMA only, like PyTorch with
// torch.backends.cudnn.allow_tf32 = False. true: TF32 tensor cores allowed.
void conv2d_cudnn_set_allow_tf32(bool allow);
bool conv2d_cudnn_allow_tf32();

void conv2d_forward_cudnn(const Conv2dParams& p, const float* x, const float* w, const float* b,
                          float* y, Stream s);
void conv2d_backward_data_cudnn(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                                Stream s);
void conv2d_backward_weight_cudnn(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                  float* db, Stream s);

}  // namespace srgan::kern
