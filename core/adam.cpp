// Adam: dispatches the fused kernel over the parameter arena.
#include "core/adam.h"

#include "core/dispatch.h"
#include "kernels/adam.h"

namespace srgan {

Adam::Adam(ParamArena& arena, double lr_, double b1, double b2, double eps_)
    : lr(lr_), beta1(b1), beta2(b2), eps(eps_), arena_(arena) {
  if (arena.size() == 0) throw Error("Adam: the parameter arena is empty (call adopt() first)");
  m_ = Tensor::zeros({arena.size()}, arena.values().dtype(), arena.values().device());
  v_ = Tensor::zeros({arena.size()}, arena.values().dtype(), arena.values().device());
}

void Adam::step() {
  ++step_;
  kern::AdamParams p;
  p.n = arena_.size();
  p.lr = lr; p.beta1 = beta1; p.beta2 = beta2; p.eps = eps;
  p.step = step_;
  const Tensor& w = arena_.values();
  const Tensor& g = arena_.grads();
  if (w.is_cuda()) {
    SRGAN_CUDA_ONLY("adam", kern::adam_step_cuda(p, fptr(w), fptr(g), fptr(m_), fptr(v_), current_stream()));
    return;
  }
  dispatch_cpu(w.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kern::adam_step_cpu<T>(p, w.data<T>(), g.data<T>(), m_.data<T>(), v_.data<T>());
  });
}

}  // namespace srgan
