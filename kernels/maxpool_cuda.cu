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

// The first maximum of the 2x2 window at (oh, ow): its index 0..3 (row-major) and its value.
// Same comparisons in the same order as argmax4 in maxpool_cpu.cpp (v[i] > v[best]), written
// with scalars so nothing is indexed at run time (no local-memory array).
struct WinMax {
  int idx;
  float val;
};
__device__ __forceinline__ WinMax window_max(const MaxPoolParams& p, const float* x, int n, int oh, int ow, int c) {
  const int64_t row = int64_t(p.W) * p.C;
  const float* t = x + ((int64_t(n) * p.H + 2 * oh) * p.W + 2 * ow) * p.C + c;
  const float v0 = t[0], v1 = t[p.C], v2 = t[row], v3 = t[row + p.C];
  WinMax m{0, v0};
  if (v1 > m.val) m = {1, v1};
  if (v2 > m.val) m = {2, v2};
  if (v3 > m.val) m = {3, v3};
  return m;
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
    y[i] = window_max(p, x, n, oh, ow, c).val;
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
      if (window_max(p, x, n, oh, ow, c).idx == (h % 2) * 2 + (w % 2))
        g = dy[((int64_t(n) * P + oh) * Q + ow) * p.C + c];
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
