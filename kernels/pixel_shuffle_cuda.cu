// Pixel shuffle on the GPU (see pixel_shuffle.h), NHWC:
//   y[n, h*r+i, w*r+j, c] = x[n, h, w, c*r*r + i*r + j]        (Cout = C / (r*r))
// One thread per (input pixel, output channel c): it reads the r*r consecutive inputs of c
// (one float4 when r = 2) and writes one float to each of the r*r output pixels. Consecutive
// threads have consecutive c, so both the reads (r*r*32 consecutive floats per warp) and each
// of the r*r writes (32 consecutive floats) are fully coalesced. Backward is the same map
// with reads and writes swapped. A pure permutation: memory bound, no arithmetic.
#include <stdexcept>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/pixel_shuffle.h"

namespace srgan::kern {
namespace {
using cuda::kThreads;

struct Geom {
  int N, H, W, C, r, Cout;
};

// FWD: x -> y; else dy -> dx. VEC4: r == 2 and the input side is 16-byte accessible.
template <bool FWD, bool VEC4>
__global__ void __launch_bounds__(kThreads)
pixel_shuffle_kernel(Geom g, const float* __restrict__ in, float* __restrict__ out) {
  const int rr = g.r * g.r;
  const int64_t total = int64_t(g.N) * g.H * g.W * g.Cout;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    const int c = int(t % g.Cout);
    const int64_t pix = t / g.Cout;  // (n, h, w) of the low-resolution side
    const int w = int(pix % g.W), h = int((pix / g.W) % g.H), n = int(pix / (int64_t(g.W) * g.H));
    const int64_t lo = pix * g.C + int64_t(c) * rr;  // x/dx index of (n, h, w, c*rr)
    const int64_t Wr = int64_t(g.W) * g.r;
    // y/dy index of (n, h*r+i, w*r+j, c) = hi0 + (i*Wr + j) * Cout
    const int64_t hi0 = ((int64_t(n) * g.H * g.r + int64_t(h) * g.r) * Wr + int64_t(w) * g.r) * g.Cout + c;
    if constexpr (VEC4) {
      const int64_t o1 = g.Cout, o2 = Wr * g.Cout, o3 = (Wr + 1) * g.Cout;  // (0,1), (1,0), (1,1)
      if constexpr (FWD) {
        const float4 v = cuda::ld4(in, lo / 4);
        out[hi0] = v.x; out[hi0 + o1] = v.y; out[hi0 + o2] = v.z; out[hi0 + o3] = v.w;
      } else {
        cuda::st4(out, lo / 4, make_float4(in[hi0], in[hi0 + o1], in[hi0 + o2], in[hi0 + o3]));
      }
    } else {
      for (int i = 0; i < g.r; ++i)
        for (int j = 0; j < g.r; ++j) {
          const int64_t hi = hi0 + (int64_t(i) * Wr + j) * g.Cout;
          if constexpr (FWD) out[hi] = in[lo + i * g.r + j];
          else out[lo + i * g.r + j] = in[hi];
        }
    }
  }
}

Geom geom(const PixelShuffleParams& p, const char* who) {
  if (p.N < 0 || p.H < 0 || p.W < 0 || p.r < 1 || p.C < 0 || p.C % (p.r * p.r) != 0)
    throw std::invalid_argument(std::string(who) + ": C must be a multiple of r*r");
  return {p.N, p.H, p.W, p.C, p.r, p.C / (p.r * p.r)};
}

template <bool FWD>
void run(const PixelShuffleParams& p, const float* in, float* out, cudaStream_t s, const char* who) {
  const Geom g = geom(p, who);
  const int64_t total = int64_t(g.N) * g.H * g.W * g.Cout;
  if (total == 0) return;
  const float* lo_side = FWD ? in : out;
  const bool vec = g.r == 2 && cuda::aligned16(lo_side);  // C % 4 == 0 holds when r == 2
  const int grid = cuda::grid_for(total, kThreads, 16384);
  if (vec) pixel_shuffle_kernel<FWD, true><<<grid, kThreads, 0, s>>>(g, in, out);
  else pixel_shuffle_kernel<FWD, false><<<grid, kThreads, 0, s>>>(g, in, out);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace

void pixel_shuffle_forward_cuda(const PixelShuffleParams& p, const float* x, float* y, Stream s) {
  run<true>(p, x, y, s, "pixel_shuffle_forward_cuda");
}

void pixel_shuffle_backward_cuda(const PixelShuffleParams& p, const float* dy, float* dx, Stream s) {
  run<false>(p, dy, dx, s, "pixel_shuffle_backward_cuda");
}

}  // namespace srgan::kern
