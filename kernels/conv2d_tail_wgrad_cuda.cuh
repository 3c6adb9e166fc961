// conv2d v6's tail path, weight gradient (internal to conv2d_halo_paths_cuda.cu): dW of convolutions with at
// most 4 output channels and wide filters, SRGAN's 9x9 64->3 tail, on TF32 tensor cores.
//
// v4's fp32 path (conv2d_narrow_n_wgrad_cuda.cuh) does 3 FFMA per input load on the fp32 pipe
// (estimated 0.51 ms of the 16x96x96 MSE step's 2.95). As in the tail's forward
// (conv2d_tail_halo_cuda.cuh), the filter's columns become GEMM rows here. With u = q - pad + s
// the input column an output column q reads at filter column s:
//   dW[k][r][s][c] = sum over n, y, u of D_y[(k, s)][u] * x[n][y - pad + r][u][c],
//   D_y[(k, s)][u] = dy[n][y][u + pad - s][k] (zero where that column is outside the output)
// so per filter row r a GEMM with M = (k, s) (27 for the tail, padded to 32), N = c and a
// reduction over the pixels (y, u); D_y is shared by every r, and each input row, once in shared
// memory, serves R consecutive output rows.
//   block  288 threads, 9 warps: warp r owns filter row r (warps r >= R only copy), all 32 (k, s)
//          rows and the block's 64 (or 32) channels: 2 x 8 mma tiles, 64 fp32 accumulators a lane.
//          The block walks output rows ya .. yb - 1 of one image over 32 input columns
//          u0 .. u0 + 31 (kCols) and one 64-channel slice.
//   ring   the input rows the current output row reads, R + 2 slots of [32 u][64 c + 8]: row i
//          of the block (input row ya - pad + i) lives in slot i % (R + 2); at output row j the
//          block copies row j + R + 1 (cp.async, two rows ahead) into the slot row j - 1 left.
//   D      3 slots of [32 (k, s)][32 u + 4], built from dy with plain loads two rows ahead (the
//          loads are in flight while the block multiplies).
//   step   per 8 columns u, warp r reads 2 LDSM.x4 (A: D_y) and 4 LDS.128 (B: input row
//          y - pad + r) for 16 mma.m16n8k8. B's n8 tile j column g is channel
//          (j / 4) * 32 + g * 4 + j % 4, so a lane's 4 tiles sit in one 16-byte word; the ring's
//          pitch (72 floats = 8 mod 32 banks) keeps each LDS.128 phase on distinct banks.
//   out    each block writes its sums for every (k, r, s) and its channels to partial row
//          (n, row split, column tile), and tg::splitk_reduce_kernel adds the partials in split
//          order: deterministic, no atomics. The row splits come from the shape only.
// Useful / issued multiply-adds: K * S / 32 (0.84 for the tail), times the columns' share of the
// last column tile; input rows are copied (rows + R - 1) / rows times per row split.
// TF32 by truncation, as the forward. Stride 1; K <= 4 and K * S <= 32; R <= 9; C % 32 == 0;
// 16-byte aligned x; 113 KiB of shared memory (the host checks the device's opt-in limit).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::tail {

constexpr int kWgMaxR = 9;                        // filter rows: one warp each
constexpr int kWgThreads = 32 * kWgMaxR;          // 288
constexpr int kWgCols = 32;                       // input columns per block: 4 k8 steps
constexpr int kWgSlice = 64;                      // channels per block: 8 n8 tiles
constexpr int kWgM = 32;                          // GEMM rows (k, s): 2 m16 tiles
constexpr int kWgXLd = kWgSlice + 8;              // floats per ring row pixel (72: 8 mod 32 banks)
constexpr int kWgDLd = kWgCols + 4;               // floats per D row (36: an ldmatrix's rows in 8 bank groups)
constexpr int kWgSlots = kWgMaxR + 2;             // ring slots: R rows read, 2 in flight
constexpr int kWgRowFloats = kWgCols * kWgXLd;    // 2,304
constexpr int kWgDFloats = kWgM * kWgDLd;         // 1,152
constexpr int kWgDSlots = 3;
constexpr int kWgSmemBytes = 4 * (kWgSlots * kWgRowFloats + kWgDSlots * kWgDFloats);  // 115,200
constexpr int kWgDPer = (kWgM * kWgCols + kWgThreads - 1) / kWgThreads;                // D elements a thread builds: 4

struct WgradParams {
  const float* x;   // (N, H, W, C)
  const float* dy;  // (N, P, Q, K)
  float* part;      // (splits, K, R, S, C): splits = N * row_splits * column tiles
  int N, H, W, C, K, R, S, pad, P, Q;
  int rows_per_split, row_splits, col_tiles, slices;
};

// Output-row splits from the shape only (never the device). A block's time is about its rows
// plus the ring's R - 1 rows of warm-up, and the launch takes as many of those as it has waves on
// a 132-SM H100 (one block per SM: 138 registers a thread). So pick the split count that
// minimises waves x (rows per split + R - 1), the fewest splits on ties (fewer partials), with
// splits of at least R - 1 rows. Returns rows per split. (16 x 96 x 96, 9x9: 48 blocks a split,
// 2 splits of 48 rows, 96 blocks in one wave: 56 against 80 for 3 splits' 2 waves.)
inline int wgrad_rows_per_split(int N, int P, int R, int col_tiles, int slices) {
  const int64_t base = int64_t(N) * col_tiles * slices, min_rows = std::max(1, R - 1);
  int64_t best_rows = P, best_cost = -1;
  for (int64_t s = 1; s <= P; ++s) {
    const int64_t rows = (P + s - 1) / s, splits = (P + rows - 1) / rows;
    if (s > 1 && rows < min_rows) break;
    const int64_t waves = (base * splits + 131) / 132, cost = waves * (rows + R - 1);
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best_rows = rows;
  }
  return int(best_rows);
}

// grid: (col_tiles * slices, row_splits, N).
__global__ void __launch_bounds__(kWgThreads, 1) conv_tail_wgrad_kernel(WgradParams p) {
  extern __shared__ __align__(16) float smem[];
  float* const ring = smem;                                // [kWgSlots][32 u][kWgXLd]
  float* const dsl = smem + kWgSlots * kWgRowFloats;       // [3][32 (k, s)][kWgDLd]
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int tile = int(blockIdx.x) / p.slices, slice = int(blockIdx.x) - tile * p.slices;
  const int u0 = tile * kWgCols, c0 = slice * kWgSlice, n = int(blockIdx.z);
  const int ya = int(blockIdx.y) * p.rows_per_split;
  const int yb = ya + p.rows_per_split < p.P ? ya + p.rows_per_split : p.P;
  const int slots = p.R + 2, KS = p.K * p.S;
  const int width = p.C - c0 < kWgSlice ? p.C - c0 : kWgSlice;  // 64 or 32 channels
  const int halves = width / 32;

  // Ring copies: 16-byte piece v = tid + 288 i (i < 2) of a row is input column v / (width / 4),
  // channels (v % (width / 4)) * 4 .. + 3 of the slice (v < 32 * width / 4). Offsets are fixed
  // per thread; a row only adds its base.
  const int steps = yb - ya, pieces = kWgCols * width / 4;
  int x_dst[2], x_src[2];
  bool x_ok[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int v = tid + kWgThreads * i, uu = v / (width / 4), c4 = v - uu * (width / 4);
    x_ok[i] = v < pieces && u0 + uu < p.W;
    x_dst[i] = v < pieces ? uu * kWgXLd + c4 * 4 : -1;
    x_src[i] = (u0 + uu) * p.C + c0 + c4 * 4;
  }
  const float* const x_img = p.x + int64_t(n) * p.H * p.W * p.C;
  int slot_next = 0;  // the ring slot of the next row to copy: (its block row) % slots
  auto load_row = [&](int i) {  // block row i (input row ya - pad + i), rows in order
    float* const dst = ring + slot_next * kWgRowFloats;
    slot_next = slot_next + 1 == slots ? 0 : slot_next + 1;
    if (i >= steps + p.R - 1) return;  // none past the last row read
    const int h = ya - p.pad + i;
    const bool h_in = unsigned(h) < unsigned(p.H);
    const float* const src = x_img + int64_t(h) * p.W * p.C;
#pragma unroll
    for (int k = 0; k < 2; ++k)
      if (x_dst[k] >= 0) cp_async16(dst + x_dst[k], h_in && x_ok[k] ? src + x_src[k] : p.x, h_in && x_ok[k]);
  };
  // D elements: element e = tid + 288 i is (k, s) row e / 32, column u0 + e % 32; its dy offset
  // in an output row ((q, k), q = u + pad - s) is fixed, -1 where it is zero.
  int d_off[kWgDPer];
#pragma unroll
  for (int i = 0; i < kWgDPer; ++i) {
    const int e = tid + kWgThreads * i, m = e / kWgCols, uu = e - m * kWgCols;
    const int k = m / p.S, s = m - k * p.S, q = u0 + uu + p.pad - s;
    d_off[i] = e < kWgM * kWgCols && m < KS && unsigned(q) < unsigned(p.Q) ? q * p.K + k : -1;
  }
  auto fetch_d = [&](float (&v)[kWgDPer], int j) {  // D of block output row j (zero past yb)
    const float* const row = p.dy + (int64_t(n) * p.P + ya + j) * p.Q * p.K;
#pragma unroll
    for (int i = 0; i < kWgDPer; ++i) v[i] = ya + j < yb && d_off[i] >= 0 ? row[d_off[i]] : 0.f;
  };
  auto store_d = [&](const float (&v)[kWgDPer], int slot) {
    float* const dst = dsl + slot * kWgDFloats;
#pragma unroll
    for (int i = 0; i < kWgDPer; ++i) {
      const int e = tid + kWgThreads * i;
      if (e < kWgM * kWgCols) dst[(e / kWgCols) * kWgDLd + e % kWgCols] = v[i];
    }
  };

  // ldmatrix lane rows for A (D: row (k, s) = lane % 16, column (lane / 16) * 4), as the forward's.
  const int a_off = (lane & 15) * kWgDLd + (lane >> 4) * 4;
  // B: lane (g, t) = (lane / 4, lane % 4) reads input column t (and t + 4), channels g * 4 .. + 3
  // of each 32-channel half.
  const int b_off = (lane & 3) * kWgXLd + (lane >> 2) * 4;

  float acc[2][8][4];  // [m16 tile][n8 tile][c0..c3]
  tg::zero_accumulators(acc);

  float dv[kWgDPer];
  // Prologue: rows 0 .. R - 1 (one group) and R (another); D of output rows 0 and 1.
  for (int i = 0; i < p.R; ++i) load_row(i);
  cp_async_commit();
  load_row(p.R);
  cp_async_commit();
  fetch_d(dv, 0);
  store_d(dv, 0);
  fetch_d(dv, 1);
  store_d(dv, 1);
  int slot_read = warp < slots ? warp : warp - slots;  // ring slot of row j + warp, at step j
  int d_slot = 0;                                      // D slot of row j: j % 3
#pragma unroll 1
  for (int j = 0; j < steps; ++j) {
    cp_async_wait<1>();  // rows through j + R - 1 are in
    __syncthreads();     // and every warp is done with step j - 1's ring slot and D slot
    load_row(j + p.R + 1);  // into row j - 1's slot
    cp_async_commit();
    fetch_d(dv, j + 2);
    if (warp < p.R) {
      const float* const d = dsl + d_slot * kWgDFloats + a_off;
      const float* const xr = ring + slot_read * kWgRowFloats + b_off;
#pragma unroll
      for (int kk = 0; kk < kWgCols / 8; ++kk) {
        uint32_t af[2][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) ldmatrix<4>(af[mt], d + mt * 16 * kWgDLd + kk * 8);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          if (h >= halves) break;
          const float4 lo = lds128(xr + kk * 8 * kWgXLd + h * 32), hi = lds128(xr + (kk * 8 + 4) * kWgXLd + h * 32);
          const uint32_t b0[4] = {tg4::bits(lo.x), tg4::bits(lo.y), tg4::bits(lo.z), tg4::bits(lo.w)};
          const uint32_t b1[4] = {tg4::bits(hi.x), tg4::bits(hi.y), tg4::bits(hi.z), tg4::bits(hi.w)};
#pragma unroll
          for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) tg4::mma_tf32(acc[mt][h * 4 + jj], af[mt], b0[jj], b1[jj]);
        }
      }
    }
    store_d(dv, d_slot == 0 ? 2 : d_slot - 1);  // row j + 2 into row j - 1's slot, free since the barrier
    d_slot = d_slot == 2 ? 0 : d_slot + 1;
    slot_read = slot_read + 1 == slots ? 0 : slot_read + 1;
  }
  cp_async_wait<0>();
  if (warp >= p.R) return;

  // This block's partial: split (n, row split, column tile), filter row r = warp.
  const int64_t split = (int64_t(n) * p.row_splits + blockIdx.y) * p.col_tiles + tile;
  float* const out = p.part + split * p.K * p.R * p.S * p.C;
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int jn = 0; jn < 8; ++jn)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = mt * 16 + tg::mma_c_row(lane, e), col = tg::mma_c_col(lane, e);
        if (m >= KS || jn / 4 >= halves) continue;
        const int k = m / p.S, s = m - k * p.S, c = c0 + (jn / 4) * 32 + col * 4 + (jn & 3);
        out[((int64_t(k) * p.R + warp) * p.S + s) * p.C + c] = acc[mt][jn][e];
      }
}

// Whether the path takes a shape (the device's opt-in shared memory checked by the caller).
inline bool wgrad_applies(int K, int R, int S, int C, int stride) {
  return stride == 1 && K <= 4 && K * S <= kWgM && R <= kWgMaxR && C % 32 == 0;
}

// The launch plan: column tiles, channel slices and row splits of a shape.
inline WgradParams wgrad_plan(int N, int H, int W, int C, int K, int R, int S, int pad, int P, int Q) {
  WgradParams p{};
  p.N = N, p.H = H, p.W = W, p.C = C, p.K = K, p.R = R, p.S = S, p.pad = pad, p.P = P, p.Q = Q;
  p.col_tiles = (W + kWgCols - 1) / kWgCols;
  p.slices = (C + kWgSlice - 1) / kWgSlice;
  p.rows_per_split = wgrad_rows_per_split(N, P, R, p.col_tiles, p.slices);
  p.row_splits = (P + p.rows_per_split - 1) / p.rows_per_split;
  return p;
}
inline int wgrad_splits(const WgradParams& p) { return p.N * p.row_splits * p.col_tiles; }

// p.part holds wgrad_splits(p) * K * R * S * C floats; the caller reduces them.
inline void launch_conv_tail_wgrad(const WgradParams& p, cudaStream_t s) {
  allow_dynamic_smem<&conv_tail_wgrad_kernel>(kWgSmemBytes);
  const dim3 grid(unsigned(p.col_tiles * p.slices), unsigned(p.row_splits), unsigned(p.N));
  conv_tail_wgrad_kernel<<<grid, kWgThreads, kWgSmemBytes, s>>>(p);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::tail
