// conv2d v6's halo weight gradient (internal to conv2d_halo_paths_cuda.cu): dW of 3x3 stride-1 convolutions
// with 64 input channels and 64k outputs (SRGAN's generator body, 64->64, and its upsampling
// layers, 64->256), on TF32 tensor cores, reading each input once per tile instead of once per tap.
//
// v4's weight gradient is a GEMM over an im2col copy of x: every x element crosses L2 nine times,
// and `srgan bench counters` finds it L2-bound at 8x its math time at 16x24x24 (0.54 ms of the
// MSE step's 2.28). Here, per tap (r, s), with pad 1:
//   dW[k][r][s][c] = sum over output pixels p of dy[p][k] * x[p + (r - 1, s - 1)][c],
// a GEMM with M = k, N = c and a reduction over pixels; all nine taps read the same dy tile and
// the same x halo, shifted by (r, s).
//   unit   4 output rows x 24 output columns of one image (3 k8 steps a row; the last column
//          tile of an image may be 8 or 16 wide), one 64-channel slice of dy.
//   block  288 threads, 9 warps: warp w owns tap (w / 3, w % 3) and the whole 64 x 64 (k, c)
//          tile: 4 x 8 mma tiles, 128 fp32 accumulators a lane. A block walks a contiguous range
//          of units (a split of the pixels) and writes its sums once, to its partial row.
//   smem   2 stages of dy [4 x 24 pixels][64 + 8] and the x halo [6 x 26 pixels][64 + 8],
//          copied with cp.async one unit ahead (142 KiB); two barriers per unit.
//   step   per 8 pixels a warp reads 4 LDS.128 of dy and 4 LDS.128 of x for 32 mma.m16n8k8.
//          ldmatrix cannot transpose 32-bit elements and both operands are channel-contiguous,
//          so rows are permuted: A's m16 tile i row g is channel 4 g + i (row g + 8: 32 + 4 g + i)
//          and B's n8 tile j column g is channel 32 (j / 4) + 4 g + j % 4, which puts a lane's
//          4 tiles in one 16-byte word; the pitch of 72 floats (8 mod 32 banks) keeps each
//          LDS.128 phase on 8 different bank groups.
//   out    partial row (split) of (splits, K, 9 x 64), in 16-byte stores (a lane holds 4 runs of
//          4 channels per k), added in split order by
//          tg::splitk_reduce_kernel: deterministic, no atomics. The splits come from the shape.
// Pixels past the image (rows past the last, halo outside it) are zeros or skipped; every k8
// step is 8 real output columns (W % 8 == 0), so no product pairs x with a zero dy it should
// not meet (an infinite x stays where the reference puts it).
// TF32 by truncation, as v4. Needs 3x3, stride 1, pad 1, C = 64, K % 64 == 0, W % 8 == 0,
// 16-byte aligned x and dy, and 142 KiB of shared memory (the host checks the opt-in limit).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::halo_wgrad {

constexpr int kRows = 4;                          // output rows per unit
constexpr int kCols = 24;                         // output columns per unit: 3 k8 steps
constexpr int kHR = kRows + 2, kHC = kCols + 2;   // the x halo: 6 x 26 pixels
constexpr int kC = 64;                            // input channels
constexpr int kSlice = 64;                        // output channels per block
constexpr int kLd = 72;                           // floats per pixel in shared memory
constexpr int kDyFloats = kRows * kCols * kLd;    // 6,912
constexpr int kXFloats = kHR * kHC * kLd;         // 11,232
constexpr int kStageFloats = kDyFloats + kXFloats;
constexpr int kStages = 2;
constexpr int kThreads = 288;                     // 9 warps, one per tap
constexpr int kSmemBytes = 4 * kStages * kStageFloats;  // 145,152
constexpr int kRSC = 9 * kC;                      // 576 weights per output channel

struct Params {
  const float* x;   // (N, H, W, 64)
  const float* dy;  // (N, H, W, K)
  float* part;      // (splits, K, 9 * 64)
  int N, H, W, K;
  int row_groups, col_tiles, units;  // units per slice: N * row_groups * col_tiles
  int splits;                        // blocks per slice; block b takes units [b U / splits, (b + 1) U / splits)
};

// Blocks per slice, from the shape only (never the device). A unit takes about 2 us of a
// 132-SM H100 (96 pixels x 576 x 64 multiply-adds at its TF32 rate), one block per SM; a
// block's partial (147 KiB, written and read back) about 0.1 us of the whole chip's bandwidth.
// So minimise waves x units per block x 20 + blocks (in 0.1 us). (16 x 24 x 24, 64->64: 96
// units, 48 blocks of 2; 64->256 at 48 x 48: 384 units a slice, 32 blocks of 12 per slice.)
inline int plan_splits(int units, int slices) {
  int best = 1;
  int64_t best_cost = -1;
  for (int nb = 1; nb <= units; ++nb) {
    const int64_t waves = (int64_t(nb) * slices + 131) / 132, per = (units + nb - 1) / nb;
    const int64_t cost = waves * per * 20 + int64_t(nb) * slices;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best = nb;
  }
  return best;
}

// Copies of unit u into stage st (dy [4 x 24][72], then the x halo [6 x 26][72]): 16-byte
// pieces, zeros outside the image.
__device__ __forceinline__ void load_unit(const Params& p, float* stage, int u, int k0, int tid) {
  const int per_img = p.row_groups * p.col_tiles;
  const int n = u / per_img, rem = u - n * per_img, rg = rem / p.col_tiles, ct = rem - rg * p.col_tiles;
  const int y0 = rg * kRows, q0 = ct * kCols;
  const int width = p.W - q0 < kCols ? p.W - q0 : kCols;
  float* const xd = stage + kDyFloats;
  for (int v = tid; v < kRows * kCols * 16; v += kThreads) {  // dy: row i, column qq, channels 4 k4 ..
    const int i = v / (kCols * 16), rest = v - i * (kCols * 16), qq = rest >> 4, k4 = rest & 15;
    const int y = y0 + i;
    const bool ok = y < p.H && qq < width;
    cp_async16(stage + (i * kCols + qq) * kLd + 4 * k4,
               ok ? p.dy + ((int64_t(n) * p.H + y) * p.W + q0 + qq) * p.K + k0 + 4 * k4 : p.dy, ok);
  }
  for (int v = tid; v < kHR * kHC * 16; v += kThreads) {  // x: halo row hi, column hc, channels 4 c4 ..
    const int hi = v / (kHC * 16), rest = v - hi * (kHC * 16), hc = rest >> 4, c4 = rest & 15;
    const int h = y0 - 1 + hi, w = q0 - 1 + hc;
    const bool ok = unsigned(h) < unsigned(p.H) && unsigned(w) < unsigned(p.W);
    cp_async16(xd + (hi * kHC + hc) * kLd + 4 * c4,
               ok ? p.x + ((int64_t(n) * p.H + h) * p.W + w) * kC + 4 * c4 : p.x, ok);
  }
}

// grid: (splits, K / 64).
__global__ void __launch_bounds__(kThreads, 1) conv3x3_halo_wgrad_kernel(Params p) {
  extern __shared__ __align__(16) float smem[];  // [2][dy 4 x 24 x 72 | x 6 x 26 x 72]
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int k0 = int(blockIdx.y) * kSlice, b = int(blockIdx.x);
  const int first = int(int64_t(b) * p.units / p.splits), last = int(int64_t(b + 1) * p.units / p.splits);
  const int per_img = p.row_groups * p.col_tiles;

  const int g = lane >> 2, t = lane & 3, r = warp / 3, s = warp - 3 * r;
  const int a_off = t * kLd + 4 * g;                 // dy pixel t, channels 4 g ..
  const int b_off = (r * kHC + s + t) * kLd + 4 * g;  // x halo pixel (r, s + t), channels 4 g ..

  float acc[4][8][4];  // [m16 tile: k][n8 tile: c][c0..c3]
  tg::zero_accumulators(acc);

  load_unit(p, smem, first, k0, tid);
  cp_async_commit();
  if (first + 1 < last) load_unit(p, smem + kStageFloats, first + 1, k0, tid);
  cp_async_commit();
#pragma unroll 1
  for (int u = first; u < last; ++u) {
    const int st = (u - first) & 1;
    cp_async_wait<1>();  // unit u's copies are in
    __syncthreads();
    const int rem = u % per_img, rg = rem / p.col_tiles, ct = rem - rg * p.col_tiles;
    const int rows = p.H - rg * kRows < kRows ? p.H - rg * kRows : kRows;
    const int steps = (p.W - ct * kCols < kCols ? p.W - ct * kCols : kCols) / 8;
    const float* const dd = smem + st * kStageFloats + a_off;
    const float* const xd = smem + st * kStageFloats + kDyFloats + b_off;
#pragma unroll 1
    for (int i = 0; i < rows; ++i) {
#pragma unroll 1
      for (int kk = 0; kk < steps; ++kk) {
        const float* const d = dd + (i * kCols + kk * 8) * kLd;
        const float* const xr = xd + (i * kHC + kk * 8) * kLd;
        const float4 a0 = lds128(d), a1 = lds128(d + 32), a2 = lds128(d + 4 * kLd), a3 = lds128(d + 4 * kLd + 32);
        const uint32_t A0[4] = {tg4::bits(a0.x), tg4::bits(a0.y), tg4::bits(a0.z), tg4::bits(a0.w)};
        const uint32_t A1[4] = {tg4::bits(a1.x), tg4::bits(a1.y), tg4::bits(a1.z), tg4::bits(a1.w)};
        const uint32_t A2[4] = {tg4::bits(a2.x), tg4::bits(a2.y), tg4::bits(a2.z), tg4::bits(a2.w)};
        const uint32_t A3[4] = {tg4::bits(a3.x), tg4::bits(a3.y), tg4::bits(a3.z), tg4::bits(a3.w)};
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // channel halves: 8 B registers live at a time
          const float4 lo = lds128(xr + 32 * h), hi = lds128(xr + 4 * kLd + 32 * h);
          const uint32_t B0[4] = {tg4::bits(lo.x), tg4::bits(lo.y), tg4::bits(lo.z), tg4::bits(lo.w)};
          const uint32_t B1[4] = {tg4::bits(hi.x), tg4::bits(hi.y), tg4::bits(hi.z), tg4::bits(hi.w)};
#pragma unroll
          for (int mi = 0; mi < 4; ++mi) {
            const uint32_t af[4] = {A0[mi], A1[mi], A2[mi], A3[mi]};
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) tg4::mma_tf32(acc[mi][4 * h + jj], af, B0[jj], B1[jj]);
          }
        }
      }
    }
    __syncthreads();  // every warp is done with stage st
    if (u + 2 < last) load_unit(p, smem + st * kStageFloats, u + 2, k0, tid);
    cp_async_commit();
  }
  cp_async_wait<0>();

  // Partial row b of this slice, tap (r, s): element e of tile (mi, nj) is k = k0 + mi + 4 g
  // (+ 32 for e >= 2), c = 32 (nj / 4) + 4 (2 t + e % 2) + nj % 4. So for each k a lane holds
  // 16 channels in 4 runs of 4 (nj % 4 = 0..3): 16-byte stores, 8 rows x 64 bytes a warp.
  float* const out = p.part + int64_t(b) * p.K * kRSC + warp * kC;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int k = k0 + mi + 4 * g + (e >> 1) * 32, c = 32 * h + 4 * (2 * t + (e & 1));
        st4(out + int64_t(k) * kRSC + c, 0,
            make_float4(acc[mi][4 * h][e], acc[mi][4 * h + 1][e], acc[mi][4 * h + 2][e], acc[mi][4 * h + 3][e]));
      }
}

// Whether the kernel takes a shape (alignment and the device's opt-in shared memory checked by
// the caller).
inline bool applies(int R, int S, int stride, int pad, int C, int K, int W) {
  return R == 3 && S == 3 && stride == 1 && pad == 1 && C == kC && K % kSlice == 0 && W % 8 == 0;
}

inline Params plan(int N, int H, int W, int K) {
  Params p{};
  p.N = N, p.H = H, p.W = W, p.K = K;
  p.row_groups = (H + kRows - 1) / kRows;
  p.col_tiles = (W + kCols - 1) / kCols;
  p.units = N * p.row_groups * p.col_tiles;
  p.splits = plan_splits(p.units, K / kSlice);
  return p;
}

// p.part holds p.splits * K * 576 floats; the caller reduces them.
inline void launch_conv3x3_halo_wgrad(const Params& p, cudaStream_t s) {
  allow_dynamic_smem<&conv3x3_halo_wgrad_kernel>(kSmemBytes);
  const dim3 grid(unsigned(p.splits), unsigned(p.K / kSlice));
  conv3x3_halo_wgrad_kernel<<<grid, kThreads, kSmemBytes, s>>>(p);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::halo_wgrad
