// conv2d v6's tail path (internal to conv2d_halo_paths_cuda.cu): the forward of convolutions with at most 4
// output channels and wide filters, SRGAN's 9x9 64->3 tail, on TF32 tensor cores.
//
// An mma tile is 8 output channels wide, so the tail's 3 channels would use 3/8 of it, and v4's
// fp32 path (conv2d_narrow_n_cuda.cuh), which wastes nothing, runs on the fp32 pipe (51 TFLOP/s
// on an H100 against 398 for TF32). Here the filter's columns become GEMM columns instead:
//   for one output row y and input row y - pad + r, define per input column u
//     Z[u][(k, s)] = sum over r and c of x[y - pad + r][u][c] * w[k][r][s][c]
//   a GEMM with M = input columns, N = K * S (27 for the tail, padded to 32: 84% useful) and a
//   reduction over (r, c) (9 x 64); then the output is a shifted sum over s, once per tile:
//     y[y][q][k] = sum over s of Z[q - pad + s][(k, s)].
// So each input is read from shared memory once per (r, chunk) for all 27 (k, s) columns, and
// the A fragments are plain rows of input pixels (ldmatrix, like v4 and v6).
//   block  256 threads, 8 warps: output rows y0 .. y0 + 7 (one per warp) and 64 - S + 1 output
//          columns (56 for S = 9), whose 64 input columns are 4 m16 tiles per warp.
//   stage  (one per 8 input channels, double-buffered with cp.async)
//            halo [8 + R - 1][64][8 + 4] floats: the input rows of the block's output rows;
//            B    [R][32][8 + 4] floats: w[k][r][s][c0 .. c0 + 7] at row k * S + s, zeros past
//                 K * S; both pitches (48 bytes) put an ldmatrix matrix's 8 rows in 8 bank groups.
//   per (r, chunk) a warp reads 4 LDSM.x4 (A, its output row's input row + r) and 2 LDSM.x4 (B)
//          for 16 mma.m16n8k8.
//   end    the warp's Z (64 x 32 floats) goes to shared memory; lane j sums its output column's
//          S terms per channel and stores through the epilogue.
// Useful / issued multiply-adds: K * S / 32 * (64 - S + 1) / 64 (0.74 for the tail), against 1.0
// for v4's fp32 path on an 8x slower pipe.
// TF32 by truncation, as v4 and v6. Stride 1; K <= 4 and K * S <= 32; R <= 9; C % 8 == 0;
// 16-byte aligned x and w; 123 KiB of shared memory (the host checks the device's opt-in limit).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::tail {

constexpr int kRowsOut = 8;                 // output rows per block (one per warp)
constexpr int kMaxR = 9;                    // filter rows
constexpr int kHaloRows = kRowsOut + kMaxR - 1;
constexpr int kCols = 64;                   // input columns per block: 4 m16 tiles
constexpr int kCC = 8;                      // input channels per stage
constexpr int kLd = kCC + 4;                // floats per smem row (48 bytes)
constexpr int kN = 32;                      // GEMM columns (k, s): 4 n8 tiles
constexpr int kThreads = 256;
constexpr int kHaloFloats = kHaloRows * kCols * kLd;   // 12,288
constexpr int kBFloats = kMaxR * kN * kLd;             // 3,456
constexpr int kStageFloats = kHaloFloats + kBFloats;
constexpr int kZLd = kN + 1;                           // the end's Z rows: lanes' columns in distinct banks
constexpr int kSmemBytes = 4 * 2 * kStageFloats;       // 125,952
static_assert(kThreads / 32 * kCols * kZLd <= 2 * kStageFloats, "Z fits in the stages");

struct Params {
  const float* x;  // (N, H, W, C)
  const float* w;  // (K, R, S, C)
  int N, H, W, C, K, R, S, pad, P, Q;
  int cols_out;    // output columns per block: 64 - S + 1
};

// grid: (ceil(Q / cols_out), ceil(P / 8), N).
template <class Epi>
__global__ void __launch_bounds__(kThreads, 1) conv_tail_halo_kernel(Params p, Epi epi) {
  extern __shared__ __align__(16) float smem[];
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int q0 = int(blockIdx.x) * p.cols_out, y0 = int(blockIdx.y) * kRowsOut, n = int(blockIdx.z);
  const int hy0 = y0 - p.pad, hx0 = q0 - p.pad;  // the halo's origin in the image
  const int halo_rows = kRowsOut + p.R - 1, KS = p.K * p.S;

  // Halo copies: 16-byte piece v = tid + 256 i is row v / 128, column (v / 2) % 64, channels
  // (v % 2) * 4 .. + 3; a thread's column and half are fixed, its rows step by 2.
  const int col = (tid >> 1) & (kCols - 1), half = tid & 1, row0 = tid >> 7;
  const bool col_in = unsigned(hx0 + col) < unsigned(p.W);
  const float* const xsrc =
      p.x + ((int64_t(n) * p.H + hy0 + row0) * p.W + hx0 + col) * p.C + half * 4;  // maybe outside: not read then
  const int64_t xstep = int64_t(2) * p.W * p.C;
  const int xdst = (row0 * kCols + col) * kLd + half * 4;
  // B copies: piece v = tid + 256 i (v < R * 32 * 2) is (r, row k * S + s) = v / 2, half v % 2.
  const int bpieces = p.R * kN * 2;
  auto load_chunk = [&](float* stage, int c0) {
#pragma unroll
    for (int i = 0; i < kHaloRows / 2; ++i) {
      const int row = row0 + 2 * i;
      if (row < halo_rows)
        cp_async16(stage + xdst + i * 2 * kCols * kLd, xsrc + i * xstep + c0,
                   col_in && unsigned(hy0 + row) < unsigned(p.H));
    }
    float* const bs = stage + kHaloFloats;
    for (int v = tid; v < bpieces; v += kThreads) {
      const int rn = v >> 1, r = rn / kN, ks = rn - r * kN, k = ks / p.S, s = ks - k * p.S;
      const bool ok = ks < KS;
      cp_async16(bs + rn * kLd + (v & 1) * 4,
                 ok ? p.w + ((int64_t(k) * p.R + r) * p.S + s) * p.C + c0 + (v & 1) * 4 : p.w, ok);
    }
  };

  // ldmatrix lane rows as in v4 and v6: A row lane % 16 (input column), column (lane / 16) * 4;
  // B row (lane / 16) * 8 + lane % 8 ((k, s)), column ((lane / 8) % 2) * 4.
  const int a_off = (warp * kCols + (lane & 15)) * kLd + (lane >> 4) * 4;
  const int b_off = kHaloFloats + ((lane >> 4) * 8 + (lane & 7)) * kLd + ((lane >> 3) & 1) * 4;

  float acc[4][4][4];  // [m16 tile][n8 tile][c0..c3]
  tg::zero_accumulators(acc);

  const int chunks = p.C / kCC;
  load_chunk(smem, 0);
  cp_async_commit();
  // The main loop: one barrier per chunk, the next chunk's copies in flight while this one multiplies.
#pragma unroll 1
  for (int ch = 0; ch < chunks; ++ch) {
    cp_async_wait<0>();
    __syncthreads();
    if (ch + 1 < chunks) load_chunk(smem + ((ch + 1) & 1) * kStageFloats, (ch + 1) * kCC);
    cp_async_commit();
    const float* const stage = smem + (ch & 1) * kStageFloats;
#pragma unroll 1
    for (int r = 0; r < p.R; ++r) {
      uint32_t af[4][4], bf[2][4];
#pragma unroll
      for (int i = 0; i < 4; ++i) ldmatrix<4>(af[i], stage + a_off + (r * kCols + i * 16) * kLd);
#pragma unroll
      for (int jj = 0; jj < 2; ++jj) ldmatrix<4>(bf[jj], stage + b_off + (r * kN + jj * 16) * kLd);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int jn = 0; jn < 4; ++jn)
          tg4::mma_tf32(acc[i][jn], af[i], bf[jn / 2][(jn & 1) * 2], bf[jn / 2][(jn & 1) * 2 + 1]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with the stages: they hold Z now

  // Z of this warp's output row: [64 input columns][kZLd].
  float* const z = smem + warp * kCols * kZLd;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int jn = 0; jn < 4; ++jn)
#pragma unroll
      for (int e = 0; e < 4; ++e) z[(i * 16 + tg::mma_c_row(lane, e)) * kZLd + jn * 8 + tg::mma_c_col(lane, e)] = acc[i][jn][e];
  __syncthreads();  // (a warp reads what its other lanes wrote)
  const int y = y0 + warp;
  if (y >= p.P) return;
  for (int j = lane; j < p.cols_out && q0 + j < p.Q; j += 32) {
    // Output column q0 + j reads input columns q0 + j - pad + s: Z rows j + s.
    for (int k = 0; k < p.K; ++k) {
      float v = 0.f;
      for (int s = 0; s < p.S; ++s) v += z[(j + s) * kZLd + k * p.S + s];
      epi((n * p.P + y) * p.Q + q0 + j, k, v, 0);
    }
  }
}

// Whether the path takes a shape (the device's opt-in shared memory checked by the caller).
inline bool applies(int K, int R, int S, int C, int stride) {
  return stride == 1 && K <= 4 && K * S <= kN && R <= kMaxR && C % kCC == 0;
}

template <class Epi>
void launch_conv_tail_halo(const Params& p, const Epi& epi, cudaStream_t s) {
  allow_dynamic_smem<&conv_tail_halo_kernel<Epi>>(kSmemBytes);
  const dim3 grid(unsigned((p.Q + p.cols_out - 1) / p.cols_out), unsigned((p.P + kRowsOut - 1) / kRowsOut),
                  unsigned(p.N));
  conv_tail_halo_kernel<Epi><<<grid, kThreads, kSmemBytes, s>>>(p, epi);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::tail
