// 2x2 stride-2 max pooling on the GPU (see maxpool.h), NHWC.
//   forward:  one thread per output element (n, p, q, c); c fastest, so each of the four window
//             reads is coalesced across a warp. Ties keep the first maximum in row-major order,
//             exactly as the CPU reference (same comparison, same order).
//   backward: one thread per *input* element, so every dx element is written exactly once
//             (no zero-fill pass, no atomics): it recomputes the arg-max of its window and takes
//             dy if it is the arg-max, else 0; rows/columns dropped by the pooling get 0.
#include <stdexcept>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/maxpool.h"

namespace srgan::kern {
namespace {
using cuda::kThreads;

// Index 0..3 (row-major in the window) of the first maximum, as argmax4 in maxpool_cpu.cpp.
__device__ __forceinline__ int argmax4(const float v[4]) {
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

__device__ __forceinline__ void window(const MaxPoolParams& p, const float* x, int n, int oh, int ow,
                                       int c, float v[4]) {
  for (int i = 0; i < 4; ++i)
    v[i] = x[((int64_t(n) * p.H + 2 * oh + i / 2) * p.W + 2 * ow + i % 2) * p.C + c];
}

__global__ void __launch_bounds__(kThreads)
maxpool2x2_forward_kernel_v1(MaxPoolParams p, const float* __restrict__ x, float* __restrict__ y) {
  const int P = p.H / 2, Q = p.W / 2;
  const int64_t total = int64_t(p.N) * P * Q * p.C;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int c = int(i % p.C);
    const int64_t pix = i / p.C;
    const int ow = int(pix % Q), oh = int((pix / Q) % P), n = int(pix / (int64_t(Q) * P));
    float v[4];
    window(p, x, n, oh, ow, c, v);
    y[i] = v[argmax4(v)];
  }
}

__global__ void __launch_bounds__(kThreads)
maxpool2x2_backward_kernel_v1(MaxPoolParams p, const float* __restrict__ x,
                              const float* __restrict__ dy, float* __restrict__ dx) {
  const int P = p.H / 2, Q = p.W / 2;
  const int64_t total = int64_t(p.N) * p.H * p.W * p.C;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int c = int(i % p.C);
    const int64_t pix = i / p.C;
    const int w = int(pix % p.W), h = int((pix / p.W) % p.H), n = int(pix / (int64_t(p.W) * p.H));
    const int oh = h / 2, ow = w / 2;
    float g = 0.f;
    if (oh < P && ow < Q) {
      float v[4];
      window(p, x, n, oh, ow, c, v);
      if (argmax4(v) == (h % 2) * 2 + (w % 2)) g = dy[((int64_t(n) * P + oh) * Q + ow) * p.C + c];
    }
    dx[i] = g;
  }
}

void check(const MaxPoolParams& p, const char* who) {
  if (p.N < 0 || p.H < 0 || p.W < 0 || p.C < 0) throw std::invalid_argument(std::string(who) + ": negative size");
}

}  // namespace

void maxpool2x2_forward_cuda(const MaxPoolParams& p, const float* x, float* y, Stream s) {
  check(p, "maxpool2x2_forward_cuda");
  const int64_t total = int64_t(p.N) * p.P() * p.Q() * p.C;
  if (total == 0) return;
  maxpool2x2_forward_kernel_v1<<<cuda::grid_for(total, kThreads, 16384), kThreads, 0, s>>>(p, x, y);
  SRGAN_LAUNCH_CHECK(s);
}

void maxpool2x2_backward_cuda(const MaxPoolParams& p, const float* x, const float* dy, float* dx, Stream s) {
  check(p, "maxpool2x2_backward_cuda");
  const int64_t total = int64_t(p.N) * p.H * p.W * p.C;
  if (total == 0) return;
  maxpool2x2_backward_kernel_v1<<<cuda::grid_for(total, kThreads, 16384), kThreads, 0, s>>>(p, x, dy, dx);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern
