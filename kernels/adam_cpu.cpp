// Adam on the CPU with PyTorch's arithmetic order (see adam.h).
#include <cmath>

#include "kernels/adam.h"
#include "kernels/cpu_parallel.h"

namespace srgan::kern {

template <typename T> void adam_step_cpu(const AdamParams& p, T* param, const T* grad, T* m, T* v) {
  const double bc1 = 1.0 - std::pow(p.beta1, double(p.step));
  const double bc2 = 1.0 - std::pow(p.beta2, double(p.step));
  const T step_size = T(p.lr / bc1);
  const T bc2_sqrt = T(std::sqrt(bc2));
  // 1 - beta is formed in double and then rounded, as PyTorch does (1 - 0.999f in float is off by 1e-5).
  const T b1 = T(p.beta1), b2 = T(p.beta2), eps = T(p.eps);
  const T one_minus_b1 = T(1.0 - p.beta1), one_minus_b2 = T(1.0 - p.beta2);
  parallel_for(p.n, kGrainElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T g = grad[i];
      m[i] = m[i] * b1 + one_minus_b1 * g;          // PyTorch: exp_avg.lerp_(grad, 1 - beta1)
      v[i] = v[i] * b2 + one_minus_b2 * g * g;      // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
      T denom = std::sqrt(v[i]) / bc2_sqrt + eps;  // (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
      param[i] -= step_size * m[i] / denom;        // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  });
}

template void adam_step_cpu<float>(const AdamParams&, float*, const float*, float*, float*);
template void adam_step_cpu<double>(const AdamParams&, double*, const double*, double*, double*);

}  // namespace srgan::kern
