// conv2d v6 (internal to conv2d_halo_paths_cuda.cu): 3x3 stride-1 convolutions that read each input once per
// output tile, not once per filter tap, on TF32 tensor cores.
//
// v4's implicit GEMM gathers a fresh im2col row for every tap, so each input element crosses L2
// nine times, and each block re-reads the layer's weights; `srgan bench counters` finds every v4
// GEMM bound by that traffic (docs/performance.md, 3b). Here:
//   * weights stay: a block keeps its 64 filters (64 x 9 x Cin floats, 144 KiB for Cin = 64) in
//     shared memory for its whole life, and walks over output tiles (a persistent grid of about
//     one block per SM per 64 output channels), so the weights cross L2 once per block;
//   * inputs are read once per tile: a 16 x 16 tile of output pixels needs an 18 x 18 halo of
//     input pixels; it is copied to shared memory 16 channels at a time (double-buffered with
//     cp.async) and all nine taps read their A fragments from it, shifted by (r, s): the A rows
//     of tap (r, s) for output row y of the tile are halo pixels (y + r, s .. s + 15), 16
//     consecutive pixels, which ldmatrix reads like v4's rows.
//   block  256 threads, 8 warps of 64 pixels x 32 channels (4 output rows of 16 x 4 n8 tiles),
//          4 x 2 warps over 16 rows x 64 channels; per 8 of reduction a warp reads 4 LDSM.x4 (A)
//          + 2 LDSM.x4 (B) for 16 mma.m16n8k8, v4's ratio (nvcc loads a halo row once for the
//          taps of different output rows that meet it: 72 LDSM per 288 mma in its SASS).
//   shared [64][9 * Cin + 4] weights (k = (r, s, c) along a row, KRSC as stored) and
//          [2][18 * 18][16 + 4] halo stages; both pitches put the 8 rows an ldmatrix matrix reads
//          in 8 different 16-byte bank groups (one wavefront per matrix).
//   order  for each tile, for each 16-channel chunk: one barrier, the next chunk's copies issued,
//          9 taps x 2 k8 steps of mma; the tile's epilogue after its last chunk.
// Backward-data of a stride-1 3x3 convolution is the same computation over dy with the filter
// turned half a turn (FLIP: tap (r, s) reads weight tap (2 - r, 2 - s)) and the weights
// transposed to (C, 3, 3, K) first, so it runs here too.
// TF32 by truncation, as v4 (tile_gemm_multistage.cuh). Needs Cin = 32 or 64 (the template
// parameter), 16-byte aligned operands and 124 or 196 KiB of shared memory (the host checks the
// device's opt-in limit: an A100's 163 KiB takes Cin = 32 only).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::halo {

constexpr int kTile = 16;                  // output tile: 16 x 16 pixels
constexpr int kHalo = kTile + 2;           // its 18 x 18 input halo (3x3 filter)
constexpr int kHaloPix = kHalo * kHalo;    // 324
constexpr int kCC = 16;                    // channels per halo stage
constexpr int kLdh = kCC + 4;              // floats per halo pixel (80 bytes)
constexpr int kBN = 64;                    // output channels per block
constexpr int kThreads = 256;              // 8 warps
constexpr int kStages = 2;
constexpr int kWarpRows = 4;               // output rows (m16 tiles) per warp
constexpr int kWarpN = 32;                 // output channels per warp (4 n8 tiles)

// Floats per filter row in shared memory: 9 * Cin + 4 (2320 bytes for Cin = 64, 1168 for 32:
// both 16 modulo 128).
__host__ __device__ constexpr int w_ld(int cin) { return 9 * cin + 4; }
constexpr int smem_bytes(int cin) { return 4 * (kBN * w_ld(cin) + kStages * kHaloPix * kLdh); }

struct Params {
  const float* x;   // the gathered tensor (N, Hin, Win, Cin): x forward, dy backward-data
  const float* w;   // (Nout, 3, 3, Cin), 16-byte aligned: w forward, its transpose backward-data
  int Hin, Win;
  int Hout, Wout, Nout;
  int pad;          // input row (column) of output row (column) 0's tap 0 is -pad
  int tiles_w;      // tiles per image row: ceil(Wout / 16)
  int tiles_img;    // tiles per image: ceil(Hout / 16) * tiles_w
  int tiles;        // N * tiles_img
};

// One filter tap over a 16-channel chunk, a warp's MT m16 tiles x 4 n8 tiles:
// acc[i][jn] += A_i (16 pixels x 16 channels) * B_jn^T (8 filters x 16 channels).
//   a[i]  this lane's ldmatrix row address for m16 tile i, at the chunk's channel 0: pixel
//         lane % 16, channels (lane / 16) * 4 (rows 16-byte aligned, pitch free);
//   b     this lane's ldmatrix row address for the warp's first filters at the tap's channel 0:
//         filter (lane / 16) * 8 + lane % 8, channels ((lane / 8) % 2) * 4;
//   b16   floats from filter f's row to filter f + 16's.
// TF32: 2 k8 steps of MT + 2 LDSM.x4 and 4 MT mma. BF16 (v7): one k16 step, the two k8 halves'
// ldmatrix reads packed as v5 does (tile_gemm_multistage.cuh, bf16_a_frag: a permuted reduction
// that A and B agree on).
template <tg4::Mma P, int MT>
__device__ __forceinline__ void mma_tap16(float (&acc)[MT][4][4], const float* const (&a)[MT], const float* b,
                                          int b16) {
  if constexpr (P == tg4::Mma::tf32) {
#pragma unroll
    for (int k8 = 0; k8 < 16; k8 += 8) {
      uint32_t af[MT][4], bf[2][4];
#pragma unroll
      for (int i = 0; i < MT; ++i) ldmatrix<4>(af[i], a[i] + k8);
#pragma unroll
      for (int jj = 0; jj < 2; ++jj) ldmatrix<4>(bf[jj], b + jj * b16 + k8);
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int jn = 0; jn < 4; ++jn)
          tg4::mma_tf32(acc[i][jn], af[i], bf[jn / 2][(jn & 1) * 2], bf[jn / 2][(jn & 1) * 2 + 1]);
    }
  } else {
    uint32_t af[MT][4], bf[4][2];
#pragma unroll
    for (int i = 0; i < MT; ++i) {
      uint32_t lo[4], hi[4];
      ldmatrix<4>(lo, a[i]);
      ldmatrix<4>(hi, a[i] + 8);
      tg4::bf16_a_frag(af[i], lo, hi);
    }
#pragma unroll
    for (int jj = 0; jj < 2; ++jj) {
      uint32_t lo[4], hi[4];  // n8 tiles 2jj, 2jj + 1 of k 0-7 / 8-15
      ldmatrix<4>(lo, b + jj * b16);
      ldmatrix<4>(hi, b + jj * b16 + 8);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        bf[2 * jj + h][0] = tg4::pack_bf16x2(lo[2 * h], lo[2 * h + 1]);
        bf[2 * jj + h][1] = tg4::pack_bf16x2(hi[2 * h], hi[2 * h + 1]);
      }
    }
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
      for (int jn = 0; jn < 4; ++jn) tg4::mma_bf16(acc[i][jn], af[i], bf[jn][0], bf[jn][1]);
  }
}

// The nine taps of a 3x3 filter over a 16-channel chunk: tap (r, s) reads A rows a_at(i, r, s)
// for m16 tile i (as mma_tap16's a[i]) and filter tap r * 3 + s at b + tap * tap_floats, or with
// FLIP (backward-data: the filter turned half a turn) tap (2 - r) * 3 + (2 - s).
template <tg4::Mma P, bool FLIP, int MT, class AAt>
__device__ __forceinline__ void mma_taps3x3(float (&acc)[MT][4][4], const AAt& a_at, const float* b, int tap_floats,
                                            int b16) {
#pragma unroll
  for (int r = 0; r < 3; ++r)
#pragma unroll
    for (int s = 0; s < 3; ++s) {
      const int tap = FLIP ? (2 - r) * 3 + (2 - s) : r * 3 + s;
      const float* a[MT];
#pragma unroll
      for (int i = 0; i < MT; ++i) a[i] = a_at(i, r, s);
      mma_tap16<P>(acc, a, b + tap * tap_floats, b16);
    }
}

// grid: (blocks over tiles, ceil(Nout / 64)); block b of a column walks tiles b, b + gridDim.x, ...
template <tg4::Mma P, int CIN, bool FLIP, class Epi>
__global__ void __launch_bounds__(kThreads, 1) conv3x3_halo_kernel(Params p, Epi epi) {
  constexpr int LW = w_ld(CIN), NCH = CIN / kCC;
  extern __shared__ __align__(16) float smem[];
  float* const Ws = smem;               // [kBN][LW]: this block's filters, k = (r, s, c)
  float* const Hs = smem + kBN * LW;    // [kStages][kHaloPix][kLdh]: halo pixels, 16 channels each

  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int n0 = int(blockIdx.y) * kBN;

  // The filters, once (committed with the first halo stage). Rows past Nout are zeros.
  constexpr int kVecW = 9 * CIN / 4;  // 16-byte pieces per filter
  for (int v = tid; v < kBN * kVecW; v += kThreads) {
    const int row = v / kVecW, piece = v - row * kVecW;
    const bool ok = n0 + row < p.Nout;
    cp_async16(Ws + row * LW + piece * 4, ok ? p.w + int64_t(n0 + row) * (9 * CIN) + piece * 4 : p.w, ok);
  }

  // The halo copies: thread tid copies pieces tid + 256 i (i < kCopies) of the 324 x 4 16-byte
  // pieces of a stage: pixel v / 4, piece v % 4 (a quarter-warp copies 2 whole pixels: full
  // sectors). A piece's offset from the tile's origin depends only on the image width: worked
  // out once per block (delta). The tile's origin (two divisions) is found a tile ahead, outside
  // the main loop (origin_of); which pieces lie in the image, once per tile (inside_bits); each
  // chunk's copies are then a pointer add and a predicate (load_chunk).
  constexpr int kPieces = kHaloPix * (kCC / 4), kCopies = (kPieces + kThreads - 1) / kThreads;
  int delta[kCopies];  // piece i's offset from the tile's halo pixel (0, 0), channel 0, in floats
#pragma unroll
  for (int i = 0; i < kCopies; ++i) {
    const int v = tid + i * kThreads, pix = v >> 2, hy = pix / kHalo;
    delta[i] = (hy * p.Win + pix - hy * kHalo) * CIN + (v & 3) * 4;
  }
  struct Origin {
    const float* base;  // the tile's halo pixel (0, 0), channel 0 (maybe outside the image)
    int gy0, gx0;       // its row and column in the image
  };
  auto origin_of = [&](int t) {
    const int img = t / p.tiles_img, rem = t - img * p.tiles_img;
    const int ty = rem / p.tiles_w, tx = rem - ty * p.tiles_w;
    const int gy0 = ty * kTile - p.pad, gx0 = tx * kTile - p.pad;
    return Origin{p.x + (int64_t(img) * p.Hin * p.Win + int64_t(gy0) * p.Win + gx0) * CIN, gy0, gx0};
  };
  // Bit i: piece i lies in the image and in the stage (else it is zero-filled, or not copied).
  auto inside_bits = [&](const Origin& o) {
    uint32_t bits = 0;
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      const int v = tid + i * kThreads, pix = v >> 2, hy = pix / kHalo, hx = pix - hy * kHalo;
      const bool ok = v < kPieces && unsigned(o.gy0 + hy) < unsigned(p.Hin) && unsigned(o.gx0 + hx) < unsigned(p.Win);
      bits |= uint32_t(ok) << i;
    }
    return bits;
  };
  const float* tile_base = p.x;  // the origin of the tile being copied
  uint32_t inside = 0;           // and its inside_bits
  // Piece i of this thread lands at dst0 + i * 64 pixels. A zero-filled copy (src-size 0) reads
  // nothing, so its source address may lie outside the tensor (no select, as in v4).
  const int dst0 = (tid >> 2) * kLdh + (tid & 3) * 4;
  auto load_chunk = [&](float* stage, int chunk) {  // the tile of tile_base and inside
    const float* const src = tile_base + chunk * kCC;
#pragma unroll
    for (int i = 0; i < kCopies; ++i)
      if (i < kCopies - 1 || tid < kPieces - (kCopies - 1) * kThreads)
        cp_async16(stage + dst0 + i * (kThreads / 4) * kLdh, src + delta[i], (inside >> i) & 1u);
  };

  // This warp: output rows wm * 4 .. + 3 of a tile (one m16 tile each: 16 pixels of a row),
  // channels n0 + wn * 32 .. + 31. Lane rows for ldmatrix as in v4: A row lane % 16 (pixel),
  // column (lane / 16) * 4; B row (lane / 16) * 8 + lane % 8 (filter), column ((lane / 8) % 2) * 4.
  const int wm = warp >> 1, wn = warp & 1;
  const float* const a_lane = Hs + (wm * kWarpRows * kHalo + (lane & 15)) * kLdh + (lane >> 4) * 4;
  const float* const b_lane = Ws + (wn * kWarpN + (lane >> 4) * 8 + (lane & 7)) * LW + ((lane >> 3) & 1) * 4;

  float acc[kWarpRows][4][4];
  tg::zero_accumulators(acc);

  const int my_tiles = p.tiles > int(blockIdx.x) ? (p.tiles - int(blockIdx.x) + int(gridDim.x) - 1) / int(gridDim.x) : 0;
  const int items = my_tiles * NCH;  // (tile, chunk) pairs, chunks inner
  if (items > 0) {
    const Origin o = origin_of(int(blockIdx.x));
    tile_base = o.base, inside = inside_bits(o);
    load_chunk(Hs, 0);
  }
  cp_async_commit();
  int j = 0;  // item index: its stage is j % 2
  for (int t = int(blockIdx.x); t < p.tiles; t += int(gridDim.x)) {
    const Origin next = t + int(gridDim.x) < p.tiles ? origin_of(t + int(gridDim.x)) : Origin{p.x, 0, 0};
    // The main loop (not unrolled, so the SASS's smallest loop holding the mma is this one).
#pragma unroll 1
    for (int chunk = 0; chunk < NCH; ++chunk, ++j) {
      cp_async_wait<0>();  // this thread's copies of item j (and the filters) have landed
      __syncthreads();     // everyone's have; everyone is done reading item j - 1's stage
      if (j + 1 < items) {
        // The next item: this tile's next chunk, or the next tile's first (every copy of this
        // tile has been issued by now).
        float* const next_stage = Hs + ((j + 1) & 1) * kHaloPix * kLdh;
        if (chunk + 1 < NCH) {
          load_chunk(next_stage, chunk + 1);
        } else {
          tile_base = next.base, inside = inside_bits(next);
          load_chunk(next_stage, 0);
        }
      }
      cp_async_commit();
      const float* const as = a_lane + (j & 1) * kHaloPix * kLdh;
      const float* const bs = b_lane + chunk * kCC;
      // Tap (r, s) of m16 tile i (output row wm * 4 + i) reads halo row i + r from column s.
      mma_taps3x3<P, FLIP>(acc, [&](int i, int r, int s) { return as + ((i + r) * kHalo + s) * kLdh; }, bs, CIN,
                           16 * LW);
    }
    // The tile is done: store it through the epilogue and start the next one from zero.
    const int img = t / p.tiles_img, rem = t - img * p.tiles_img;
    const int ty = rem / p.tiles_w, tx = rem - ty * p.tiles_w;
#pragma unroll
    for (int i = 0; i < kWarpRows; ++i)
#pragma unroll
      for (int jn = 0; jn < 4; ++jn)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int oy = ty * kTile + wm * kWarpRows + i, ox = tx * kTile + tg::mma_c_row(lane, e);
          const int n = n0 + wn * kWarpN + jn * 8 + tg::mma_c_col(lane, e);
          if (oy < p.Hout && ox < p.Wout && n < p.Nout) epi((img * p.Hout + oy) * p.Wout + ox, n, acc[i][jn][e], 0);
          acc[i][jn][e] = 0.f;
        }
  }
  cp_async_wait<0>();
}

// Whether a device's shared memory takes the kernel for Cin input channels.
inline bool fits(int cin, int smem_optin) { return (cin == 32 || cin == 64) && smem_bytes(cin) <= smem_optin; }

// The persistent grid: about sms blocks in all, split over the 64-channel slices, each walking
// an equal share of the tiles.
inline dim3 grid_for(int tiles, int nout, int sms) {
  const int slices = (nout + kBN - 1) / kBN;
  const int per_slice = std::max(1, std::min(tiles, sms / slices));
  const int waves = (tiles + per_slice - 1) / per_slice;
  return dim3(unsigned((tiles + waves - 1) / waves), unsigned(slices));
}

template <tg4::Mma P, int CIN, bool FLIP, class Epi>
void launch_conv3x3_halo(const Params& p, const Epi& epi, int sms, cudaStream_t s) {
  constexpr int smem = smem_bytes(CIN);
  allow_dynamic_smem<&conv3x3_halo_kernel<P, CIN, FLIP, Epi>>(smem);
  if (p.tiles < 1) return;
  conv3x3_halo_kernel<P, CIN, FLIP, Epi><<<grid_for(p.tiles, p.Nout, sms), kThreads, smem, s>>>(p, epi);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::halo
