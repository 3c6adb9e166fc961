// ReLU, leaky ReLU and sigmoid on the CPU, using the shared scalar formulas; elements spread over
// the CPU threads.
#include "kernels/activation.h"
#include "kernels/cpu_parallel.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {

template <typename T> void activation_forward_cpu(const ActivationParams& p, const T* x, T* y) {
  const T slope = T(p.slope);
  parallel_for(p.n, kGrainElems, [&](int64_t i0, int64_t i1) {
    switch (p.kind) {
      case Activation::relu: for (int64_t i = i0; i < i1; ++i) y[i] = relu_f(x[i]); break;
      case Activation::leaky_relu: for (int64_t i = i0; i < i1; ++i) y[i] = leaky_f(x[i], slope); break;
      case Activation::sigmoid: for (int64_t i = i0; i < i1; ++i) y[i] = sigmoid_f(x[i]); break;
    }
  });
}

template <typename T>
void activation_backward_cpu(const ActivationParams& p, const T* x, const T* y, const T* dy, T* dx) {
  const T slope = T(p.slope);
  parallel_for(p.n, kGrainElems, [&](int64_t i0, int64_t i1) {
    switch (p.kind) {
      case Activation::relu: for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * relu_df(x[i]); break;
      case Activation::leaky_relu: for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * leaky_df(x[i], slope); break;
      case Activation::sigmoid: for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * y[i] * (T(1) - y[i]); break;
    }
  });
}

template void activation_forward_cpu<float>(const ActivationParams&, const float*, float*);
template void activation_forward_cpu<double>(const ActivationParams&, const double*, double*);
template void activation_backward_cpu<float>(const ActivationParams&, const float*, const float*, const float*, float*);
template void activation_backward_cpu<double>(const ActivationParams&, const double*, const double*, const double*, double*);

}  // namespace srgan::kern
