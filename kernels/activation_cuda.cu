// ReLU, leaky ReLU and sigmoid on the GPU (see activation.h): one elementwise kernel per pass,
// float4 when aligned, using the formulas of scalar_math.h. In-place use is allowed.
#include <stdexcept>

#include "kernels/activation.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/scalar_math.h"

namespace srgan::kern {
namespace {
using cuda::ld4;
using cuda::st4;

template <Activation KIND>
__device__ __forceinline__ float act_f(float x, float slope) {
  if constexpr (KIND == Activation::relu) return relu_f(x);
  else if constexpr (KIND == Activation::leaky_relu) return leaky_f(x, slope);
  else return sigmoid_f(x);
}
// dx for one element: relu/leaky use x, sigmoid its output y.
template <Activation KIND>
__device__ __forceinline__ float act_df(float x, float y, float dy, float slope) {
  if constexpr (KIND == Activation::relu) return dy * relu_df(x);
  else if constexpr (KIND == Activation::leaky_relu) return dy * leaky_df(x, slope);
  else return dy * y * (1.f - y);
}

template <Activation KIND>
struct FwdF {
  const float* x;
  float* y;
  float slope;
  __device__ void operator()(int64_t i) const { y[i] = act_f<KIND>(x[i], slope); }
  __device__ void vec4(int64_t j) const {
    const float4 u = ld4(x, j);
    st4(y, j, make_float4(act_f<KIND>(u.x, slope), act_f<KIND>(u.y, slope), act_f<KIND>(u.z, slope),
                          act_f<KIND>(u.w, slope)));
  }
};

// The operand not used by KIND (y for relu/leaky, x for sigmoid) may be nullptr and is never read.
template <Activation KIND>
struct BwdF {
  const float *x, *y, *dy;
  float* dx;
  float slope;
  static constexpr bool kUsesY = KIND == Activation::sigmoid;
  __device__ void operator()(int64_t i) const {
    dx[i] = act_df<KIND>(kUsesY ? 0.f : x[i], kUsesY ? y[i] : 0.f, dy[i], slope);
  }
  __device__ void vec4(int64_t j) const {
    const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
    const float4 u = kUsesY ? z : ld4(x, j);
    const float4 v = kUsesY ? ld4(y, j) : z;
    const float4 g = ld4(dy, j);
    st4(dx, j, make_float4(act_df<KIND>(u.x, v.x, g.x, slope), act_df<KIND>(u.y, v.y, g.y, slope),
                           act_df<KIND>(u.z, v.z, g.z, slope), act_df<KIND>(u.w, v.w, g.w, slope)));
  }
};

bool al(const void* p) { return p == nullptr || cuda::aligned16(p); }

}  // namespace

void activation_forward_cuda(const ActivationParams& p, const float* x, float* y, Stream s) {
  const bool vec = al(x) && al(y);
  const float slope = float(p.slope);
  switch (p.kind) {
    case Activation::relu: return cuda::launch_map(p.n, vec, FwdF<Activation::relu>{x, y, slope}, s);
    case Activation::leaky_relu:
      return cuda::launch_map(p.n, vec, FwdF<Activation::leaky_relu>{x, y, slope}, s);
    case Activation::sigmoid: return cuda::launch_map(p.n, vec, FwdF<Activation::sigmoid>{x, y, slope}, s);
  }
  throw std::invalid_argument("activation_forward_cuda: unknown activation");
}

void activation_backward_cuda(const ActivationParams& p, const float* x, const float* y,
                              const float* dy, float* dx, Stream s) {
  const bool vec = al(x) && al(y) && al(dy) && al(dx);
  const float slope = float(p.slope);
  switch (p.kind) {
    case Activation::relu:
      return cuda::launch_map(p.n, vec, BwdF<Activation::relu>{x, y, dy, dx, slope}, s);
    case Activation::leaky_relu:
      return cuda::launch_map(p.n, vec, BwdF<Activation::leaky_relu>{x, y, dy, dx, slope}, s);
    case Activation::sigmoid:
      return cuda::launch_map(p.n, vec, BwdF<Activation::sigmoid>{x, y, dy, dx, slope}, s);
  }
  throw std::invalid_argument("activation_backward_cuda: unknown activation");
}

}  // namespace srgan::kern
