// conv2d v6's narrow-C path (internal to conv2d_halo_paths_cuda.cu): stride-1 convolutions with at most 4
// input channels and 64 k outputs, on TF32 tensor cores: SRGAN's 9x9 3->64 head (forward) and
// the 9x9 64->3 tail's backward-data (a 3->64 convolution of dy with the filter turned half a
// turn), which v4 cannot take (C, resp. K, under 32) and v3 ran with 4-byte gathers.
//
// GEMM: M = output columns, N = output channels, reduction (r, s, c). For one input row, the
// (s, c) part of an output column q's reduction is S * C consecutive floats of that row, starting
// at input column q - pad (NHWC): so A's row q is a window of the shared-memory input row, moved
// by C floats per column, and (s, c) fills the 32-wide reduction of a filter row (27 useful for
// 9 x 3, the rest masked to zero).
//   block  256 threads, 8 warps: output rows y0 .. y0 + 31 (warp w: rows y0 + w + 8 i, i < 4, one
//          after the other), 32 output columns (2 m16 tiles) and 64 output channels (8 n8 tiles):
//          64 fp32 accumulators a lane.
//   smem   halo [32 + R - 1][160] floats: input rows y0 - pad .. y0 + 31 - pad + R - 1, columns
//            q0 - pad .. q0 + 31 - pad + S - 1 (all C channels), zeros outside the image;
//          B    [R][64][32 + 4] floats: w[k0 + n][r][(s, c)], zeros past S * C. Both are copied
//            once per block (no pipeline: the block's 4 x R x 4 k8 steps a warp follow).
//   step   per filter row and 8 of (s, c): 8 LDS (A, conflict-free: a warp's addresses span 32
//          consecutive floats) and 4 LDSM.x4 (B) for 16 mma.m16n8k8.
// Useful / issued multiply-adds: S * C / 32 (0.84 for 9 x 3), times the tiles' share of the image.
// The weights are read through strides, so one kernel serves the forward (w[k][r][s][c]) and
// backward-data (the flipped transpose) without a copy.
// TF32 by truncation, as v4 and v6. Stride 1; C <= 4, S * C <= 32, R <= 9, K % 64 == 0;
// 106 KiB of shared memory (the host checks the device's opt-in limit).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::narrow_c {

constexpr int kRows = 32;                 // output rows per block: 4 per warp
constexpr int kCols = 32;                 // output columns per block: 2 m16 tiles
constexpr int kN = 64;                    // output channels per block: 8 n8 tiles
constexpr int kMaxR = 9;
constexpr int kMaxC = 4;
constexpr int kRed = 32;                  // (s, c) per filter row: 4 k8 steps
constexpr int kHaloLd = 160;              // floats per halo row: (32 + S - 1) * C <= 156 and A's reads <= 155
constexpr int kBLd = kRed + 4;            // floats per B row (36: an ldmatrix's 8 rows in 8 bank groups)
constexpr int kThreads = 256;
constexpr int kHaloFloats = (kRows + kMaxR - 1) * kHaloLd;   // 6,400
constexpr int kBFloats = kMaxR * kN * kBLd;                  // 20,736
constexpr int kSmemBytes = 4 * (kHaloFloats + kBFloats);     // 108,544

struct Params {
  const float* x;  // (N, H, W, C)
  const float* w;  // weight (k, r, s, c) at w[w_base + k sK + r sR + s sS + c sC]
  int64_t w_base, sK, sR, sS, sC;
  int N, H, W, C, K, R, S, pad_h, pad_w, P, Q;
  int col_tiles;   // ceil(Q / 32)
};

// grid: (col_tiles * K / 64, ceil(P / 32), N).
template <class Epi>
__global__ void __launch_bounds__(kThreads, 1) conv_narrow_c_kernel(Params p, Epi epi) {
  extern __shared__ __align__(16) float smem[];
  float* const halo = smem;               // [kRows + R - 1][kHaloLd]
  float* const bs = smem + kHaloFloats;   // [R][64][kBLd]
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int tile = int(blockIdx.x) % p.col_tiles, k0 = int(blockIdx.x) / p.col_tiles * kN;
  const int q0 = tile * kCols, y0 = int(blockIdx.y) * kRows, n = int(blockIdx.z);
  const int SC = p.S * p.C;

  // The halo: row i is input row y0 - pad_h + i; float f of it is input column q0 - pad_w + f / C,
  // channel f % C (zero past the block's columns and outside the image).
  const int halo_rows = kRows + p.R - 1, halo_used = (kCols + p.S - 1) * p.C;
  for (int e = tid; e < halo_rows * kHaloLd; e += kThreads) {
    const int i = e / kHaloLd, f = e - i * kHaloLd, col = f / p.C, c = f - col * p.C;
    const int h = y0 - p.pad_h + i, wc = q0 - p.pad_w + col;
    const bool in = f < halo_used && unsigned(h) < unsigned(p.H) && unsigned(wc) < unsigned(p.W);
    halo[e] = in ? p.x[((int64_t(n) * p.H + h) * p.W + wc) * p.C + c] : 0.f;
  }
  // B: thread t copies output channel k0 + t / 4, reduction places t % 4 + 4 j (j < 9) of every r.
  {
    const int nn = tid >> 2;
    for (int j = 0; j < kBLd / 4; ++j) {
      const int red = (tid & 3) + 4 * j, s = red / p.C, c = red - s * p.C;
      const bool ok = red < SC && k0 + nn < p.K;
      const float* const src = p.w + p.w_base + (k0 + nn) * p.sK + s * p.sS + c * p.sC;
      for (int r = 0; r < p.R; ++r) bs[(r * kN + nn) * kBLd + red] = ok ? src[r * p.sR] : 0.f;
    }
  }
  __syncthreads();

  // A: lane (g, t) reads rows g and g + 8 of each m16 tile at reduction t and t + 4 of a k8
  // step: halo floats (16 mt + g (+ 8)) * C + 8 kk + t (+ 4), masked past S * C.
  const int g = lane >> 2, t = lane & 3;
  bool lo_ok[4], hi_ok[4];
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) lo_ok[kk] = kk * 8 + t < SC, hi_ok[kk] = kk * 8 + t + 4 < SC;
  const int a_off = g * p.C + t, a_step8 = 8 * p.C;  // a_step8: rows g -> g + 8
  // B: ldmatrix lane rows as in v4, v6 and the tail path.
  const int b_off = ((lane >> 4) * 8 + (lane & 7)) * kBLd + ((lane >> 3) & 1) * 4;

#pragma unroll 1
  for (int i = 0; i < kRows / 8; ++i) {
    const int yy = warp + 8 * i, y = y0 + yy;
    if (y >= p.P) break;
    float acc[2][8][4];
    tg::zero_accumulators(acc);
#pragma unroll 1
    for (int r = 0; r < p.R; ++r) {
      const float* const arow = halo + (yy + r) * kHaloLd + a_off;
      const float* const brow = bs + r * kN * kBLd + b_off;
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        uint32_t af[2][4], bf[4][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
          const float* const a = arow + 16 * mt * p.C + 8 * kk;
          af[mt][0] = lo_ok[kk] ? tg4::bits(a[0]) : 0u;
          af[mt][1] = lo_ok[kk] ? tg4::bits(a[a_step8]) : 0u;
          af[mt][2] = hi_ok[kk] ? tg4::bits(a[4]) : 0u;
          af[mt][3] = hi_ok[kk] ? tg4::bits(a[a_step8 + 4]) : 0u;
        }
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) ldmatrix<4>(bf[jj], brow + jj * 16 * kBLd + kk * 8);
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
          for (int jn = 0; jn < 8; ++jn)
            tg4::mma_tf32(acc[mt][jn], af[mt], bf[jn / 2][(jn & 1) * 2], bf[jn / 2][(jn & 1) * 2 + 1]);
      }
    }
    const int64_t row_pix = (int64_t(n) * p.P + y) * p.Q;
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
      for (int jn = 0; jn < 8; ++jn)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int q = q0 + 16 * mt + tg::mma_c_row(lane, e), k = k0 + jn * 8 + tg::mma_c_col(lane, e);
          if (q < p.Q) epi(int(row_pix + q), k, acc[mt][jn][e], 0);
        }
  }
}

// Whether the path takes a shape (stride 1 checked by the caller; the device's opt-in shared
// memory too).
inline bool applies(int C, int K, int R, int S) {
  return C >= 1 && C <= kMaxC && S * C <= kRed && R <= kMaxR && K % kN == 0;
}

template <class Epi>
void launch_conv_narrow_c(Params p, const Epi& epi, cudaStream_t s) {
  allow_dynamic_smem<&conv_narrow_c_kernel<Epi>>(kSmemBytes);
  p.col_tiles = (p.Q + kCols - 1) / kCols;
  const dim3 grid(unsigned(p.col_tiles * (p.K / kN)), unsigned((p.P + kRows - 1) / kRows), unsigned(p.N));
  conv_narrow_c_kernel<Epi><<<grid, kThreads, kSmemBytes, s>>>(p, epi);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::narrow_c
