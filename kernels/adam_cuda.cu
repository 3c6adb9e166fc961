// Adam on the GPU (see adam.h): one fused launch over the whole parameter arena, each thread
// updating param, m and v of four consecutive elements with float4 loads and stores (scalar
// path when a pointer is not 16-byte aligned). Same arithmetic order as adam_step_cpu.
#include "kernels/adam.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"

#include <cmath>

namespace srgan::kern {
namespace {

struct AdamF {
  float *param, *m, *v;
  const float* grad;
  float b1, b2, one_minus_b1, one_minus_b2, step_size, bc2_sqrt, eps;

  __device__ __forceinline__ void one(float& p, float g, float& mi, float& vi) const {
    mi = mi * b1 + one_minus_b1 * g;
    vi = vi * b2 + one_minus_b2 * g * g;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    p -= step_size * mi / denom;
  }
  __device__ void operator()(int64_t i) const { one(param[i], grad[i], m[i], v[i]); }
  __device__ void vec4(int64_t j) const {
    float4 p = cuda::ld4(param, j), mm = cuda::ld4(m, j), vv = cuda::ld4(v, j);
    const float4 g = cuda::ld4(grad, j);
    one(p.x, g.x, mm.x, vv.x);
    one(p.y, g.y, mm.y, vv.y);
    one(p.z, g.z, mm.z, vv.z);
    one(p.w, g.w, mm.w, vv.w);
    cuda::st4(param, j, p);
    cuda::st4(m, j, mm);
    cuda::st4(v, j, vv);
  }
};

}  // namespace

void adam_step_cuda(const AdamParams& p, float* param, const float* grad, float* m, float* v, Stream s) {
  if (p.n <= 0) return;
  // Bias corrections in double on the host, as adam_step_cpu does.
  const double bc1 = 1.0 - std::pow(p.beta1, double(p.step));
  const double bc2 = 1.0 - std::pow(p.beta2, double(p.step));
  AdamF f;
  f.param = param;
  f.m = m;
  f.v = v;
  f.grad = grad;
  f.b1 = float(p.beta1);
  f.b2 = float(p.beta2);
  // 1 - beta formed in double, then rounded, as adam_step_cpu and PyTorch do (1.f - 0.999f is
  // 1e-5 relative off, which would make the second moment drift from the CPU's).
  f.one_minus_b1 = float(1.0 - p.beta1);
  f.one_minus_b2 = float(1.0 - p.beta2);
  f.step_size = float(p.lr / bc1);
  f.bc2_sqrt = float(std::sqrt(bc2));
  f.eps = float(p.eps);
  const bool vec = cuda::aligned16(param) && cuda::aligned16(grad) && cuda::aligned16(m) && cuda::aligned16(v);
  cuda::launch_map(p.n, vec, f, s);
}

}  // namespace srgan::kern
