// conv2d v4's weight gradient for few output channels (internal to conv2d_cuda.cu): K <= 4, such
// as SRGAN's 9x9 64->3 tail, in fp32 FMA with no padded work.
//
// dW (K, R*S*C) = dy^T (K, pixels) * im2col(x) (pixels, R*S*C). As a tensor-core GEMM the K rows
// fill 3 of a tile's 64 (v3: one launch of 5.3 ms, estimated, in the 16x96x96 MSE step, issue
// bound). Here one thread owns one (r, s, c) column and all KN rows, and walks whole output rows
// (n, p) of pixels: for a row it checks h once, finds the run of q whose input column w lies
// inside the image (no per-pixel test), and then per pixel does one x load (a warp reads 32
// consecutive channels of one input pixel, 128 coalesced bytes; the address moves by stride * C),
// one LDS.128 of the pixel's dy (the same for every thread: a broadcast; dy staged as [pixel][4],
// zero past KN) and KN FFMA.
//   block   128 threads = 128 consecutive (r, s, c) columns; grid (ceil(RSC / 128), splits)
//   split   a fixed range of output rows per blockIdx.y; its partial sums go to part (splits,
//           KN, RSC) and tg::splitk_reduce_kernel adds them in split order, so the result does
//           not depend on timing (deterministic, no atomics).
//   chunk   dy of kChunk / Q whole rows (or, for Q > kChunk, kChunk pixels of one row) staged in
//           shared memory per step.
// Any stride and padding, any C (scalar x loads: no alignment needed).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::narrow {

constexpr int kWgradThreads = 128, kChunk = 256;

// Output-row splits from the shape only (never the device): about 8 blocks per SM of a 132-SM
// H100, each split at least 4 chunks of pixels. Returns rows per split.
inline int64_t wgrad_rows_per_split(int64_t rsc, int64_t rows, int64_t Q) {
  const int64_t col_blocks = (rsc + kWgradThreads - 1) / kWgradThreads;
  const int64_t want = (132 * 8 + col_blocks - 1) / col_blocks;
  const int64_t most = std::max<int64_t>(1, rows * Q / (4 * kChunk));
  const int64_t splits = std::max<int64_t>(1, std::min(want, most));
  return (rows + splits - 1) / splits;
}

// First q >= 0 with q * st - pad + s >= 0, and one past the last with q * st - pad + s < W.
__device__ __forceinline__ int first_q_inside(int pad, int s, int st) {
  return pad - s <= 0 ? 0 : (pad - s + st - 1) / st;
}
__device__ __forceinline__ int end_q_inside(int W, int pad, int s, int st) {
  const int num = W - 1 + pad - s;
  return num < 0 ? 0 : num / st + 1;
}

template <int KN>
__global__ void __launch_bounds__(kWgradThreads)
conv2d_backward_weight_kernel_v4_narrow_n(tg::ConvGeom g, const float* __restrict__ x, const float* __restrict__ dy,
                                          float* __restrict__ part, int64_t rows_per_split) {
  static_assert(KN >= 1 && KN <= 4, "narrow-N: at most 4 output channels");
  __shared__ __align__(16) float dys[kChunk * 4];  // [pixel][4] of the current chunk, k >= KN zero
  const int rsc_n = g.R * g.S * g.C;
  const int col = int(blockIdx.x) * kWgradThreads + int(threadIdx.x);
  const bool live = col < rsc_n;
  const int c = col % g.C, r = col / g.C / g.S, s = col / g.C % g.S;
  const int64_t rows = int64_t(g.N) * g.P;  // output rows (n, p)
  const int64_t row0 = int64_t(blockIdx.y) * rows_per_split;
  const int64_t row1 = row0 + rows_per_split < rows ? row0 + rows_per_split : rows;
  const int seg = g.Q <= kChunk ? g.Q : kChunk;               // pixels of a row per chunk
  const int rows_per_chunk = g.Q <= kChunk ? kChunk / g.Q : 1;  // rows per chunk
  const int q_in0 = first_q_inside(g.pad, s, g.stride), q_in1 = end_q_inside(g.W, g.pad, s, g.stride);
  const int64_t x_step = int64_t(g.stride) * g.C;             // x offset from q to q + 1

  float acc[KN];
#pragma unroll
  for (int k = 0; k < KN; ++k) acc[k] = 0.f;
  for (int64_t rr = row0; rr < row1; rr += rows_per_chunk) {
    const int nrows = row1 - rr < rows_per_chunk ? int(row1 - rr) : rows_per_chunk;
    for (int q0 = 0; q0 < g.Q; q0 += seg) {  // once when a chunk holds whole rows
      const int qn = g.Q - q0 < seg ? g.Q - q0 : seg;
      __syncthreads();  // the previous chunk's dy is no longer read
      for (int e = int(threadIdx.x); e < nrows * qn * 4; e += kWgradThreads) {
        const int pix = e >> 2, k = e & 3, i = pix / qn, qq = pix - i * qn;
        dys[e] = k < KN ? dy[((rr + i) * g.Q + q0 + qq) * KN + k] : 0.f;
      }
      __syncthreads();
      if (!live) continue;
      const int qa = q_in0 > q0 ? q_in0 : q0, qb = q_in1 < q0 + qn ? q_in1 : q0 + qn;  // w inside the image
      for (int i = 0; i < nrows; ++i) {
        const int64_t row = rr + i;
        const int n = int(row / g.P), p = int(row - int64_t(n) * g.P);
        const int h = p * g.stride - g.pad + r;
        if (unsigned(h) >= unsigned(g.H)) continue;
        const float* xp = x + ((int64_t(n) * g.H + h) * g.W + (qa * g.stride - g.pad + s)) * g.C + c;
        const float* dp = dys + (i * qn + qa - q0) * 4;
#pragma unroll 4
        for (int q = qa; q < qb; ++q, xp += x_step, dp += 4) {
          const float xv = *xp;
          const float4 d = lds128(dp);
          const float dv[4] = {d.x, d.y, d.z, d.w};
#pragma unroll
          for (int k = 0; k < KN; ++k) acc[k] = fmaf(xv, dv[k], acc[k]);
        }
      }
    }
  }
  if (!live) return;
#pragma unroll
  for (int k = 0; k < KN; ++k) part[(int64_t(blockIdx.y) * KN + k) * rsc_n + col] = acc[k];
}

}  // namespace srgan::kern::cuda::narrow
