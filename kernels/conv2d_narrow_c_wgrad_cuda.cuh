// conv2d v6's narrow-C path, weight gradient (internal to conv2d_halo_paths_cuda.cu): dW of stride-1
// convolutions with at most 4 input channels and 64k outputs, on TF32 tensor cores: SRGAN's 9x9
// 3->64 head and the discriminator's first 3x3 3->64 layer, which v4 cannot take (C % 4 != 0)
// and v3 ran with 4-byte gathers.
//
// GEMM: M = the whole filter (r, s, c) flattened (243 for the head: 8 m32 chunks; 27 for the
// 3x3: one), N = the output channels, reduction over the output pixels (n, y, q):
//   dW[k][(r, s, c)] = sum over n, y, q of x[n][y - pad + r][q - pad + s][c] * dy[n][y][q][k].
// For one input row, the (s, c) part of A's column q is S * C consecutive floats starting at input
// column q - pad (NHWC), the same window the forward reads: A's row (r, s, c) is input row
// y - pad + r of shared memory read from float s * C + c with a step of C per column.
//   block  mw * rw warps, mw = ceil(R S C / 32) (M chunks of 32 rows) and rw = min(4, 8 / mw)
//          (output rows at once): warp w takes M chunk w % mw of output row y + w / mw, 32
//          output columns q0 .. q0 + 31 (4 k8 steps) and the 64 channels k0 .. k0 + 63: 2 x 8
//          mma tiles, 64 fp32 accumulators a lane, summed over the output rows of its split
//          (rows y, y + rw, ...).
//   smem   per step (rw output rows) one slot of each, 3 slots (copies two steps ahead, cp.async):
//          x  [rw + R - 1][160] floats: input rows y - pad .. y + rw - 1 - pad + R - 1, columns
//             q0 - pad .. q0 + 31 - pad + S - 1 (all C channels), zeros outside the image;
//          dy [rw][32 q][64 k + 8] floats (72: 8 mod 32 banks), zeros past the split's rows and
//             the output's columns.
//   step   per k8 step (8 output columns), a warp reads 8 LDS (A) and 4 LDS.128 (B) for 16
//          mma.m16n8k8. B's n8 tile j column g is channel (j / 4) * 32 + 4 g + j % 4, so a lane's
//          4 tiles sit in one 16-byte word (as the tail's weight gradient).
//   out    each warp writes its sums for its (r, s, c) rows and 64 channels to partial row
//          (n, row split, column tile, warp's output row); tg::splitk_reduce_kernel adds the
//          partials in split order: deterministic, no atomics. The splits come from the shape.
// Rows m >= R S C of a chunk compute garbage that is never stored; columns past the output are
// masked in A (their dy is zero, but an infinite x would make inf * 0 = NaN).
// Useful / issued multiply-adds: R S C / (32 mw) (0.95 for the head, 0.84 for the 3x3), times the
// columns' share of the last column tile.
// TF32 by truncation, as the forward. Stride 1; C <= 4, S * C <= 32, R <= 9, R S C <= 256,
// K % 64 == 0; 16-byte aligned dy; up to 131 KiB of shared memory (the host checks the device's
// opt-in limit).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/conv2d_narrow_c_cuda.cuh"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::narrow_c {

constexpr int kWgCols = 32;                    // output columns per block: 4 k8 steps
constexpr int kWgN = 64;                       // output channels per block: 8 n8 tiles
constexpr int kWgChunk = 32;                   // M rows (r, s, c) per warp: 2 m16 tiles
constexpr int kWgMaxChunks = 8;                // R S C <= 256
constexpr int kWgMaxRows = 4;                  // output rows per step
constexpr int kWgXLd = 160;                    // floats per x row: (32 + S - 1) C <= 156; A's reads <= 155
constexpr int kWgDLd = kWgN + 8;               // floats per dy pixel (72: 8 mod 32 banks)
constexpr int kWgDRow = kWgCols * kWgDLd;      // 2,304 floats per dy row
constexpr int kWgSlots = 3;
constexpr int kWgMaxThreads = 256;

// The block's shape for a filter: M chunks and output rows per step.
inline int wgrad_chunks(int R, int S, int C) { return (R * S * C + kWgChunk - 1) / kWgChunk; }
inline int wgrad_rows_at_once(int chunks) { return std::min(kWgMaxRows, kWgMaxChunks / chunks); }
inline int wgrad_smem_floats(int rw, int R) { return kWgSlots * (rw * kWgDRow + (rw + R - 1) * kWgXLd); }
constexpr int kWgMaxSmemBytes = 4 * kWgSlots * (kWgMaxRows * kWgDRow + (kWgMaxRows + 9 - 1) * kWgXLd);  // 133,632

struct WgradParams {
  const float* x;   // (N, H, W, C)
  const float* dy;  // (N, P, Q, K)
  float* part;      // (splits, K, R S C): splits = N * row_splits * col_tiles * rw
  int N, H, W, C, K, R, S, pad, P, Q;
  int chunks, rw;   // M chunks, output rows per step (blockDim = 32 * chunks * rw)
  int rows_per_split, row_splits, col_tiles, slices;
};

// Output-row splits from the shape only (never the device). A block takes about (steps + 2)
// step times (two steps of copies before the first multiply), the launch as many of those as it
// has waves on a 132-SM H100 (one block per SM), and the partials cost their write and the
// reduction's read: about one step time per 150,000 floats (a step: 64 mma a warp). Returns
// rows per split, a multiple of rw. (16 x 24 x 24 head: 4 splits of 6 rows, 64 blocks;
// 16 x 96 x 96 3x3: 2 splits of 48 rows, 96 blocks.)
inline int wgrad_rows_per_split(int N, int P, int K, int RSC, int col_tiles, int slices, int rw) {
  const int64_t base = int64_t(N) * col_tiles * slices;
  int64_t best_rows = P, best = -1;
  for (int64_t s = 1; s <= P; ++s) {
    int64_t rows = (P + s - 1) / s;
    rows = (rows + rw - 1) / rw * rw;
    const int64_t splits = (P + rows - 1) / rows;
    if (splits != s) continue;  // the same plan as a smaller s
    const int64_t waves = (base * splits + 131) / 132;
    const int64_t parts = int64_t(N) * splits * col_tiles * rw;
    const int64_t cost = waves * (rows / rw + 2) * 150000 + parts * K * RSC;
    if (best < 0 || cost < best) best = cost, best_rows = rows;
  }
  return int(best_rows);
}

// grid: (col_tiles * slices, row_splits, N); blockDim 32 * chunks * rw.
__global__ void __launch_bounds__(kWgMaxThreads, 1) conv_narrow_c_wgrad_kernel(WgradParams p) {
  extern __shared__ __align__(16) float smem[];
  const int rw = p.rw, xrows = rw + p.R - 1;
  float* const dys = smem;                                // [3][rw][32 q][kWgDLd]
  float* const xs = smem + kWgSlots * rw * kWgDRow;       // [3][xrows][kWgXLd]
  const int nthreads = int(blockDim.x), tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int tile = int(blockIdx.x) / p.slices, slice = int(blockIdx.x) - tile * p.slices;
  const int q0 = tile * kWgCols, k0 = slice * kWgN, n = int(blockIdx.z);
  const int ya = int(blockIdx.y) * p.rows_per_split;
  const int yb = ya + p.rows_per_split < p.P ? ya + p.rows_per_split : p.P;
  const int steps = (yb - ya + rw - 1) / rw, SC = p.S * p.C, RSC = p.R * SC;

  // x copies: float f of a slot row is input column q0 - pad + f / C, channel f % C: offset
  // (q0 - pad) C + f in the input row, inside the image for f in [f_lo, f_hi); A reads f < used.
  const int used = (kWgCols + p.S - 1) * p.C;
  const int f_lo = p.pad > q0 ? (p.pad - q0) * p.C : 0;
  const int f_hi = (p.W - q0 + p.pad) * p.C < used ? (p.W - q0 + p.pad) * p.C : used;
  const int64_t x_img = int64_t(n) * p.H * p.W * p.C + int64_t(q0 - p.pad) * p.C;
  const float* const dy_img = p.dy + int64_t(n) * p.P * p.Q * p.K + k0;
  auto load_step = [&](int j) {  // the slots of step j (output rows ya + j rw ..); nothing past the last
    if (j >= steps) return;
    const int slot = j % kWgSlots, yj = ya + j * rw;
    float* const xd = xs + slot * xrows * kWgXLd;
    for (int e = tid; e < xrows * kWgXLd; e += nthreads) {
      const int i = e / kWgXLd, f = e - i * kWgXLd, h = yj - p.pad + i;
      if (f >= used) continue;  // never read
      const bool ok = f >= f_lo && f < f_hi && unsigned(h) < unsigned(p.H);
      cp_async4(xd + e, ok ? p.x + (x_img + int64_t(h) * p.W * p.C + f) : p.x, ok);
    }
    // dy: 16-byte piece v is output row yj + v / 512, column q0 + (v / 16) % 32, channels
    // k0 + 4 (v % 16) .. + 3.
    float* const dd = dys + slot * rw * kWgDRow;
    for (int v = tid; v < rw * kWgCols * 16; v += nthreads) {
      const int l = v >> 9, qq = (v >> 4) & 31, k4 = v & 15, y = yj + l;
      const bool ok = y < yb && q0 + qq < p.Q;
      cp_async16(dd + (l * kWgCols + qq) * kWgDLd + k4 * 4,
                 ok ? dy_img + (int64_t(y) * p.Q + q0 + qq) * p.K + k4 * 4 : p.dy, ok);
    }
  };

  // This warp: M chunk mc, output row l of each step.
  const int mc = warp % p.chunks, l = warp / p.chunks;
  const int g = lane >> 2, t = lane & 3;
  // A: lane (g, t) holds rows g and g + 8 of each m16 tile; row m = (r, s c) reads x slot row
  // l + r from float s c, plus C per output column (offset 0 for the garbage rows m >= R S C).
  int a_off[2][2];
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      const int m = mc * kWgChunk + mt * 16 + g + 8 * hf, r = m / SC;
      a_off[mt][hf] = m < RSC ? (l + r) * kWgXLd + (m - r * SC) : 0;
    }
  bool q_ok[4][2];  // output columns q0 + 8 kk + t (+ 4) inside the output
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) q_ok[kk][0] = q0 + 8 * kk + t < p.Q, q_ok[kk][1] = q0 + 8 * kk + t + 4 < p.Q;
  // B: lane (g, t) reads output column t (and t + 4), channels 4 g .. 4 g + 3 of each 32-channel half.
  const int b_off = l * kWgDRow + t * kWgDLd + 4 * g;

  float acc[2][8][4];  // [m16 tile][n8 tile][c0..c3]
  tg::zero_accumulators(acc);

  load_step(0);
  cp_async_commit();
  load_step(1);
  cp_async_commit();
#pragma unroll 1
  for (int j = 0; j < steps; ++j) {
    cp_async_wait<1>();  // step j's slots are in
    __syncthreads();     // and every warp is done with step j - 1's, which step j + 2 takes
    load_step(j + 2);
    cp_async_commit();
    if (ya + j * rw + l >= yb) continue;  // this warp's row is past the split (warp-uniform)
    const int slot = j % kWgSlots;
    const float* const xa = xs + slot * xrows * kWgXLd;
    const float* const db = dys + slot * rw * kWgDRow + b_off;
#pragma unroll
    for (int kk = 0; kk < kWgCols / 8; ++kk) {
      uint32_t af[2][4];
      const int c_lo = (8 * kk + t) * p.C, c_hi = c_lo + 4 * p.C;
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) {
        af[mt][0] = q_ok[kk][0] ? tg4::bits(xa[a_off[mt][0] + c_lo]) : 0u;
        af[mt][1] = q_ok[kk][0] ? tg4::bits(xa[a_off[mt][1] + c_lo]) : 0u;
        af[mt][2] = q_ok[kk][1] ? tg4::bits(xa[a_off[mt][0] + c_hi]) : 0u;
        af[mt][3] = q_ok[kk][1] ? tg4::bits(xa[a_off[mt][1] + c_hi]) : 0u;
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float4 lo = lds128(db + 8 * kk * kWgDLd + 32 * h), hi = lds128(db + (8 * kk + 4) * kWgDLd + 32 * h);
        const uint32_t b0[4] = {tg4::bits(lo.x), tg4::bits(lo.y), tg4::bits(lo.z), tg4::bits(lo.w)};
        const uint32_t b1[4] = {tg4::bits(hi.x), tg4::bits(hi.y), tg4::bits(hi.z), tg4::bits(hi.w)};
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
          for (int jj = 0; jj < 4; ++jj) tg4::mma_tf32(acc[mt][h * 4 + jj], af[mt], b0[jj], b1[jj]);
      }
    }
  }
  cp_async_wait<0>();

  // Partial row (n, row split, column tile, l): this warp's (r, s, c) rows and 64 channels.
  const int64_t split = ((int64_t(n) * p.row_splits + blockIdx.y) * p.col_tiles + tile) * rw + l;
  float* const out = p.part + split * p.K * RSC;
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int jn = 0; jn < 8; ++jn)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = mc * kWgChunk + mt * 16 + tg::mma_c_row(lane, e);
        const int k = k0 + (jn / 4) * 32 + tg::mma_c_col(lane, e) * 4 + (jn & 3);
        if (m < RSC) out[int64_t(k) * RSC + m] = acc[mt][jn][e];
      }
}

// Whether the path takes a shape (stride 1 and dy's alignment checked by the caller; the device's
// opt-in shared memory too).
inline bool wgrad_applies(int C, int K, int R, int S) {
  return C >= 1 && C <= kMaxC && S * C <= kRed && R <= kMaxR && R * S * C <= kWgChunk * kWgMaxChunks &&
         K % kWgN == 0;
}

// The launch plan: block shape, column tiles, channel slices and row splits of a shape.
inline WgradParams wgrad_plan(int N, int H, int W, int C, int K, int R, int S, int pad, int P, int Q) {
  WgradParams p{};
  p.N = N, p.H = H, p.W = W, p.C = C, p.K = K, p.R = R, p.S = S, p.pad = pad, p.P = P, p.Q = Q;
  p.chunks = wgrad_chunks(R, S, C);
  p.rw = wgrad_rows_at_once(p.chunks);
  p.col_tiles = (Q + kWgCols - 1) / kWgCols;
  p.slices = K / kWgN;
  p.rows_per_split = wgrad_rows_per_split(N, P, K, R * S * C, p.col_tiles, p.slices, p.rw);
  p.row_splits = (P + p.rows_per_split - 1) / p.rows_per_split;
  return p;
}
inline int wgrad_splits(const WgradParams& p) { return p.N * p.row_splits * p.col_tiles * p.rw; }

// p.part holds wgrad_splits(p) * K * R * S * C floats; the caller reduces them.
inline void launch_conv_narrow_c_wgrad(const WgradParams& p, cudaStream_t s) {
  allow_dynamic_smem<&conv_narrow_c_wgrad_kernel>(kWgMaxSmemBytes);
  const dim3 grid(unsigned(p.col_tiles * p.slices), unsigned(p.row_splits), unsigned(p.N));
  const int smem = 4 * wgrad_smem_floats(p.rw, p.R);
  conv_narrow_c_wgrad_kernel<<<grid, unsigned(32 * p.chunks * p.rw), size_t(smem), s>>>(p);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::narrow_c
