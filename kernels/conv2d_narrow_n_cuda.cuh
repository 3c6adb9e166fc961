// conv2d v4's narrow-N forward path (internal to conv2d_cuda.cu): convolutions with at most 4
// output channels, such as SRGAN's 9x9 64->3 tail, in fp32 FMA with no padded work.
//
// A tensor-core tile is at least 8 output channels wide (m16n8k8), so 3 channels use 3/8 of it at
// best (v3's 64-wide tiles: 3/64). Here every multiply-add issued is a useful one (apart from the
// rows and columns of a block past the image's edge): each thread computes 4 consecutive output
// pixels of one row for all KN channels, sliding along the filter row in registers.
//   block  16 output rows x 32 output columns of one image, 128 threads (8 per row, 4 pixels each)
//   per chunk of 8 input channels:
//     x tile  [16 + R - 1][8][32 + S - 1 rounded up to 4] floats in shared memory, copied with
//             4-byte cp.async (NHWC -> channel-major rows, so a thread's 4 + S - 1 inputs of one
//             channel are contiguous: LDS.128);
//     w tile  [R][S][8][4] floats (channels past KN zero), read as one broadcast LDS.128 per
//             (r, s, c);
//   per (r, c): (4 + S - 1) / 4 LDS.128 of inputs and S of weights feed 4 * S * KN FFMA.
// Stride 1 only; C % 8 == 0; S <= 9 (the register window); KN = K <= 4.
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::narrow {

constexpr int kRows = 16, kCols = 32, kCC = 8, kThreads = 128;
constexpr int kMaxS = 9;

// Floats per channel row of the x tile: kCols + S - 1 rounded up to 4.
__host__ __device__ constexpr int x_ld(int S) { return (kCols + S - 1 + 3) / 4 * 4; }
inline int smem_bytes(int R, int S) {
  return 4 * ((kRows + R - 1) * kCC * x_ld(S) + R * S * kCC * 4);
}

// grid: (ceil(Q / 32), ceil(P / 16), N).
template <int KN, class Epi>
__global__ void __launch_bounds__(kThreads)
conv2d_forward_kernel_v4_narrow_n(tg::ConvGeom g, const float* __restrict__ x, const float* __restrict__ w, Epi epi) {
  extern __shared__ __align__(16) float smem[];
  const int ld = x_ld(g.S), xrows = kRows + g.R - 1;
  float* xs = smem;                          // [xrows][kCC][ld]
  float* ws = smem + xrows * kCC * ld;       // [R][S][kCC][4]
  const int tid = int(threadIdx.x);
  const int q0 = int(blockIdx.x) * kCols, p0 = int(blockIdx.y) * kRows, n = int(blockIdx.z);
  const int tr = tid / 8, tq = (tid % 8) * 4;  // this thread's output row and first column in the tile
  const int h0 = p0 - g.pad, w0 = q0 - g.pad;  // the x tile's origin in the image

  float acc[4][KN];
#pragma unroll
  for (int j = 0; j < 4; ++j)
#pragma unroll
    for (int k = 0; k < KN; ++k) acc[j][k] = 0.f;

  const int xelems = xrows * ld * kCC, welems = g.R * g.S * kCC * 4;
  for (int c0 = 0; c0 < g.C; c0 += kCC) {
    // x tile: element e = ((row * ld) + col) * kCC + c, channels fastest (coalesced reads of
    // 32-byte channel runs), stored channel-major.
    for (int e = tid; e < xelems; e += kThreads) {
      const int c = e % kCC, rc = e / kCC, col = rc % ld, row = rc / ld;
      const int h = h0 + row, wc = w0 + col;
      const bool ok = col < kCols + g.S - 1 && unsigned(h) < unsigned(g.H) && unsigned(wc) < unsigned(g.W);
      const float* src = ok ? x + ((int64_t(n) * g.H + h) * g.W + wc) * g.C + c0 + c : x;
      cp_async4(xs + (row * kCC + c) * ld + col, src, ok);
    }
    // w tile: [r][s][c][k], k fastest; channels k >= KN are zero.
    for (int e = tid; e < welems; e += kThreads) {
      const int k = e % 4, c = (e / 4) % kCC, rs = e / (4 * kCC);
      const bool ok = k < KN;
      const float* src = ok ? w + (int64_t(k) * g.R * g.S + rs) * g.C + c0 + c : w;
      cp_async4(ws + e, src, ok);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    for (int r = 0; r < g.R; ++r) {
#pragma unroll 2
      for (int c = 0; c < kCC; ++c) {
        // Inputs tq .. tq + 4 + S - 2 of channel c, row tr + r: 3 LDS.128 (S <= 9).
        float xin[12];
        const float* xr = xs + ((tr + r) * kCC + c) * ld + tq;
#pragma unroll
        for (int v = 0; v < 3; ++v) {
          const float4 t = lds128(xr + 4 * v);
          xin[4 * v] = t.x, xin[4 * v + 1] = t.y, xin[4 * v + 2] = t.z, xin[4 * v + 3] = t.w;
        }
        const float* wr = ws + ((r * g.S) * kCC + c) * 4;
#pragma unroll
        for (int s = 0; s < kMaxS; ++s) {
          if (s >= g.S) break;
          const float4 wv = lds128(wr + s * kCC * 4);
          const float wk[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
          for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int k = 0; k < KN; ++k) acc[j][k] = fmaf(xin[j + s], wk[k], acc[j][k]);
        }
      }
    }
    __syncthreads();  // before the next chunk overwrites the tiles
  }
  const int p = p0 + tr;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int q = q0 + tq + j;
    if (p < g.P && q < g.Q)
#pragma unroll
      for (int k = 0; k < KN; ++k) epi((n * g.P + p) * g.Q + q, k, acc[j][k], 0);
  }
}

}  // namespace srgan::kern::cuda::narrow
