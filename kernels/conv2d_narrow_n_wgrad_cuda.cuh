// conv2d v4's weight gradient for few output channels (internal to conv2d_cuda.cu): K <= 4, such
// as SRGAN's 9x9 64->3 tail, in fp32 FMA with no padded work.
//
// dW (K, R*S*C) = dy^T (K, pixels) * im2col(x) (pixels, R*S*C). As a tensor-core GEMM the K rows
// fill 3 of a tile's 64 (v3: one launch of 5.3 ms, estimated, in the 16x96x96 MSE step, issue
// bound). Here one thread owns one (r, s, c) column and all KN rows, and walks a range of
// pixels: per pixel one x load (a warp reads 32 consecutive channels of one input pixel, 128
// coalesced bytes), KN dy values from shared memory (the same for every thread: a broadcast) and
// KN FFMA.
//   block   128 threads = 128 consecutive (r, s, c) columns; grid (ceil(RSC / 128), splits)
//   split   a fixed range of pixels (n, p, q) per blockIdx.y; its partial sums go to
//           part (splits, KN, RSC) and tg::splitk_reduce_kernel adds them in split order, so the
//           result does not depend on timing (deterministic, no atomics).
//   dy tile kChunk pixels x KN floats in shared memory per step of the pixel loop.
// Any stride and padding, any C (scalar loads: no alignment needed).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::narrow {

constexpr int kWgradThreads = 128, kChunk = 256;

// Pixel splits from the shape only (never the device): about 8 blocks per SM of a 132-SM H100,
// each split at least 4 chunks of pixels.
inline int wgrad_splits(int64_t rsc, int64_t npix) {
  const int64_t col_blocks = (rsc + kWgradThreads - 1) / kWgradThreads;
  const int64_t want = (132 * 8 + col_blocks - 1) / col_blocks;
  const int64_t most = std::max<int64_t>(1, npix / (4 * kChunk));
  return int(std::max<int64_t>(1, std::min(want, most)));
}

template <int KN>
__global__ void __launch_bounds__(kWgradThreads)
conv2d_backward_weight_kernel_v4_narrow_n(tg::ConvGeom g, const float* __restrict__ x, const float* __restrict__ dy,
                                          float* __restrict__ part, int splits) {
  __shared__ float dys[kChunk * KN];  // [pixel][k] of the current chunk
  const int rsc_n = g.R * g.S * g.C;
  const int col = int(blockIdx.x) * kWgradThreads + int(threadIdx.x);
  const bool live = col < rsc_n;
  const int c = col % g.C, r = col / g.C / g.S, s = col / g.C % g.S;
  const int64_t npix = int64_t(g.N) * g.P * g.Q;
  const int64_t per = (npix + splits - 1) / splits;
  const int64_t first = int64_t(blockIdx.y) * per, last = first + per < npix ? first + per : npix;

  float acc[KN];
#pragma unroll
  for (int k = 0; k < KN; ++k) acc[k] = 0.f;
  for (int64_t p0 = first; p0 < last; p0 += kChunk) {
    const int count = last - p0 < kChunk ? int(last - p0) : kChunk;
    __syncthreads();  // the previous chunk's dy is no longer read
    for (int e = int(threadIdx.x); e < count * KN; e += kWgradThreads) dys[e] = dy[p0 * KN + e];
    __syncthreads();
    if (!live) continue;
    // (n, p, q) of the chunk's first pixel, then stepped along the row without division.
    int q = int(p0 % g.Q), p = int(p0 / g.Q % g.P), n = int(p0 / (int64_t(g.Q) * g.P));
    for (int j = 0; j < count; ++j) {
      const int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
      if (unsigned(h) < unsigned(g.H) && unsigned(w) < unsigned(g.W)) {
        const float xv = x[((int64_t(n) * g.H + h) * g.W + w) * g.C + c];
#pragma unroll
        for (int k = 0; k < KN; ++k) acc[k] = fmaf(xv, dys[j * KN + k], acc[k]);
      }
      if (++q == g.Q) {
        q = 0;
        if (++p == g.P) p = 0, ++n;
      }
    }
  }
  if (!live) return;
#pragma unroll
  for (int k = 0; k < KN; ++k) part[(int64_t(blockIdx.y) * KN + k) * rsc_n + col] = acc[k];
}

}  // namespace srgan::kern::cuda::narrow
