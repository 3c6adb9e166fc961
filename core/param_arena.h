// One contiguous arena for all parameters of a model and one for their gradients. After
// adopt(), every parameter Tensor is a view into the value arena and its .grad a view into the
// gradient arena, so the optimizer is one kernel launch and a checkpoint one contiguous write.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace srgan {

class ParamArena {
 public:
  // Moves the parameters' values into a fresh arena on `device` (f32 or f64 by the first
  // parameter) and gives each a zeroed gradient view. Each Tensor keeps its identity.
  void adopt(std::vector<Tensor> params, Device device);
  const Tensor& values() const { return values_; }  // (total)
  const Tensor& grads() const { return grads_; }    // (total)
  int64_t size() const { return values_.defined() ? values_.numel() : 0; }
  const std::vector<Tensor>& params() const { return params_; }
  void zero_grad();

 private:
  Tensor values_, grads_;
  std::vector<Tensor> params_;
};

}  // namespace srgan
