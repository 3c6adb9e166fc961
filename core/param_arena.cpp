// Parameter arena: re-homes parameter storage into one buffer and gradients into another.
#include "core/param_arena.h"

#include "core/check.h"
#include "core/device.h"

namespace srgan {

void ParamArena::adopt(std::vector<Tensor> params, Device device) {
  if (params.empty()) throw Error("ParamArena::adopt: no parameters");
  DType dtype = params[0].dtype();
  int64_t total = 0;
  for (auto& p : params) {
    if (p.dtype() != dtype) throw Error("ParamArena::adopt: parameters mix f32 and f64");
    if (p.impl()->grad_fn) throw Error("ParamArena::adopt: a parameter must be a leaf tensor");
    total += p.numel();
  }
  values_ = Tensor::empty({total}, dtype, device);
  grads_ = Tensor::zeros({total}, dtype, device);
  int64_t off = 0;
  for (auto& p : params) {
    Tensor dst = values_.narrow0(off, p.numel());
    dst.copy_from(p.view({p.numel()}));
    p.rehome(dst);
    p.set_requires_grad(true);
    p.impl()->grad = grads_.narrow0(off, p.numel()).view(p.shape()).impl();  // accumulates in place
    off += p.numel();
  }
  params_ = std::move(params);
}

void ParamArena::zero_grad() {
  if (grads_.defined()) device_memset_zero(grads_.raw(), grads_.device(), grads_.nbytes());
}

}  // namespace srgan
