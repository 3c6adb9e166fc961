// Turns a module's weights into float64 in place, for the double-precision CPU references of the
// parity tests (tests/test_train_parity.cpp) and the CUDA model tests (tests/cuda/model_compare.h).
#pragma once
#include "core/tensor.h"
#include "layers/module.h"

namespace srgan::test {

// Every parameter and buffer of `m` becomes float64 in place (same Tensor handles, so the
// modules' members see it); requires_grad is kept.
inline void to_f64(Module& m) {
  auto rehome = [](const NamedTensors& ts) {
    for (auto& [n, t] : ts) {
      if (t.dtype() == DType::f64) continue;
      Tensor d = t.to(DType::f64);
      const bool rg = t.requires_grad();
      *t.impl() = *d.impl();
      t.impl()->requires_grad = rg;
    }
  };
  rehome(m.named_parameters());
  rehome(m.named_buffers());
}

}  // namespace srgan::test
