// Adam over a ParamArena (torch.optim.Adam semantics): one fused update of the whole arena.
// State (moments and step count) can be saved and restored for exact resume.
#pragma once
#include <cstdint>

#include "core/param_arena.h"

namespace srgan {

class Adam {
 public:
  Adam(ParamArena& arena, double lr = 1e-4, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  void step();        // applies arena.grads() to arena.values()
  void zero_grad() { arena_.zero_grad(); }
  double lr = 1e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t s) { step_ = s; }
  const ParamArena& arena() const { return arena_; }
  Tensor& exp_avg() { return m_; }      // (arena size)
  Tensor& exp_avg_sq() { return v_; }   // (arena size)

 private:
  ParamArena& arena_;
  Tensor m_, v_;
  int64_t step_ = 0;
};

}  // namespace srgan
