// The synchronised training-mode batch norm of core/op_batchnorm_sync.cpp, for op_batchnorm.cpp.
#pragma once
#include "core/distributed.h"
#include "core/tensor.h"
#include "kernels/batchnorm.h"

namespace srgan {

// batch_norm (training) with per-channel statistics over every rank of `group`; updates the
// running statistics; records the backward pass. x (M, C) as NHWC rows.
Tensor batch_norm_synced(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, const kern::BatchNormParams& p, ProcessGroup& group);

}  // namespace srgan
