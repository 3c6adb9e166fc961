// conv2d v6 (internal to conv2d_halo_paths_cuda.cu): 3x3 stride-1 convolutions with 128 or more gathered
// channels, each input read once per output tile and the filters streamed with it, on TF32
// (v6) or BF16 (v7) tensor cores.
//
// The layers with 128 to 512 channels (VGG19's conv2 to conv5, the discriminator's stride-1
// layers) ran v4's 128 x 128 implicit GEMM, L2-bound: its im2col brings each input element
// through L2 once per tap. The halo tile (conv2d_halo_cuda.cuh) keeps a block's filters in
// shared memory, which for 128+ channels they do not fit (64 x 9 x 256 floats = 576 KiB). Here
// a block is one output tile x 64 output channels x a range of 16-channel chunks, and per
// chunk it copies the chunk's input halo (once, for all nine taps) and the chunk's filter slice
// (64 x 9 x 16 floats) side by side. The filters are most of the traffic, so the tile is tall:
// 256 pixels x 64 channels reads half the filter bytes per multiply-add that 128 x 128 did
// (its first form), for a larger halo.
//   tile   256 consecutive output pixels in (n, y, x) order, so small images fill it: a tile of
//          6 x 6 images holds 7.1 of them. Its halo is the range of "virtual rows" the pixels'
//          taps read: image n's output row y at tap r reads virtual row n (Hout + 2) + y + r,
//          input row y + r - pad (zero outside the image, so the two rows between images, and
//          the columns left and right, are the zero padding). The halo is rows [g0, g1] of
//          Wout + 2 pixels (at most kHaloPix: the host checks the widest case).
//   block  256 threads, 8 warps: 4 along the pixels x 2 along the channels, each 64 pixels (4
//          m16 tiles) x 32 channels (4 n8 tiles); per tap and chunk the warp runs
//          mma_tap16 (conv2d_halo_cuda.cuh): 4 + 2 LDSM.x4 for 16 mma per k8, v6's ratio. A
//          lane's A row address per m16 tile is worked out once; a tap adds (r (Wout + 2) + s)
//          pixels to it.
//   shared [2][64][9 * 16 + 4] filter stages (k = (r, s, c) along a row) and [2][560][16 + 4]
//          halo stages, 161.5 KiB: one block an SM (an A100's 163 KiB take it too). Both
//          pitches put the rows an ldmatrix matrix reads in 8 different 16-byte bank groups
//          (a halo row wrap skips 2 pixels and may cost one more wavefront there).
//   order  2 stages: one barrier per chunk, the next chunk's copies (cp.async, zero-filled
//          outside the image) issued before its 9 taps x 16 channels of mma.
//   split  grid.z splits the chunks (chunks_per_split: only where the waves saved outweigh the
//          partials' traffic); with more than one, each block writes its partial sums
//          (tg::PartialEpi) and tg::splitk_reduce_kernel adds them in split order: deterministic.
// Backward-data of a stride-1 3x3 convolution runs here too, as in the halo tile: FLIP reads
// weight tap (2 - r, 2 - s) of the filters transposed to (C, 3, 3, K).
// TF32 by truncation, as v4. Needs 16-byte aligned operands and Cin % 16 == 0.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/conv2d_halo_cuda.cuh"
#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::cuda::halo_stream {

constexpr int kBM = 256;                 // output pixels per tile
constexpr int kBN = 64;                  // output channels per block
constexpr int kCC = 16;                  // channels per chunk
constexpr int kLdw = 9 * kCC + 4;        // floats per filter row of a stage (592 bytes)
constexpr int kLdh = kCC + 4;            // floats per halo pixel (80 bytes)
constexpr int kHaloPix = 560;            // halo pixels a stage holds
constexpr int kThreads = 256;
constexpr int kWarpRows = 4;             // m16 tiles per warp
constexpr int kWarpN = 32;               // output channels per warp
constexpr int kWStage = kBN * kLdw;      // floats
constexpr int kHStage = kHaloPix * kLdh;
constexpr int kSmemBytes = 4 * 2 * (kWStage + kHStage);  // 165,376

struct Params {
  const float* x;  // the gathered tensor (N, Hin, Win, Cin): x forward, dy backward-data
  const float* w;  // (Nout, 3, 3, Cin): w forward, its transpose backward-data
  int N, Hin, Win, Cin;
  int Hout, Wout, Nout;
  int pad;         // output pixel (y, x)'s tap (r, s) reads input (y + r - pad, x + s - pad)
  int chunks_per_split;  // 16-channel chunks a block adds (the last split may have fewer)
};

// Output pixel o's image, row and column.
struct Pixel {
  int n, y, x;
};
__host__ __device__ inline Pixel pixel_of(int o, int Hout, int Wout) {
  const int hw = Hout * Wout, n = o / hw, rem = o - n * hw, y = rem / Wout;
  return Pixel{n, y, rem - y * Wout};
}
// The virtual row output pixel q's tap 0 reads: n (Hout + 2) + y.
__host__ __device__ inline int64_t virtual_row(const Pixel& q, int Hout) { return int64_t(q.n) * (Hout + 2) + q.y; }

// The halo rows of the tile starting at output pixel m0 (the host sizes stages by the largest).
__host__ __device__ inline int halo_rows(int m0, int M, int Hout, int Wout) {
  const int m1 = (m0 + kBM < M ? m0 + kBM : M) - 1;
  return int(virtual_row(pixel_of(m1, Hout, Wout), Hout) - virtual_row(pixel_of(m0, Hout, Wout), Hout)) + 3;
}

// grid: (output tiles, ceil(Nout / 64), splits).
template <tg4::Mma P, bool FLIP, class Epi>
__global__ void __launch_bounds__(kThreads, 1) conv3x3_halo_stream_kernel(Params p, Epi epi) {
  extern __shared__ __align__(16) float smem[];
  float* const Ws = smem;                // [2][kBN][kLdw]: filter slices of a chunk, k = (r, s, c)
  float* const Hs = smem + 2 * kWStage;  // [2][kHaloPix][kLdh]: halo pixels, 16 channels each

  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int M = p.N * p.Hout * p.Wout, m0 = int(blockIdx.x) * kBM, n0 = int(blockIdx.y) * kBN;
  const int nchunks = p.Cin / kCC, c_begin = int(blockIdx.z) * p.chunks_per_split;
  const int c_end = c_begin + p.chunks_per_split < nchunks ? c_begin + p.chunks_per_split : nchunks;
  const int WP = p.Wout + 2;  // halo pixels per halo row
  const Pixel first = pixel_of(m0, p.Hout, p.Wout);
  const int64_t g0 = virtual_row(first, p.Hout);
  const int hpix = halo_rows(m0, M, p.Hout, p.Wout) * WP;

  // Filter copies: thread tid < 252 copies piece tid % 36 (tap (tid % 36) / 4, quarter tid % 4)
  // of filter rows tid / 36 + 7 i. A chunk moves the source by 16 floats.
  const int wpiece = tid % 36, wrow0 = tid / 36;
  const float* const w_src0 = p.w + int64_t(n0 + wrow0) * (9 * p.Cin) + (wpiece >> 2) * p.Cin + (wpiece & 3) * 4;
  const int w_dst0 = wrow0 * kLdw + (wpiece >> 2) * kCC + (wpiece & 3) * 4;
  // Halo copies: thread tid copies pieces v = tid + 256 i of the halo's hpix x 4: pixel v / 4,
  // quarter v % 4. Offsets from the first image's channel 0, and which lie in an image (else
  // zero-filled), worked out once.
  constexpr int kCopies = (kHaloPix * 4 + kThreads - 1) / kThreads;  // 9
  const float* const x_base = p.x + int64_t(first.n) * p.Hin * p.Win * p.Cin;
  int h_off[kCopies];
  uint32_t inside = 0;
#pragma unroll
  for (int i = 0; i < kCopies; ++i) {
    const int v = tid + i * kThreads, pix = v >> 2, hr = pix / WP, u = pix - hr * WP;
    const int64_t g = g0 + hr;
    const int n = int(g / (p.Hout + 2)), iy = int(g - int64_t(n) * (p.Hout + 2)) - p.pad, ix = u - p.pad;
    const bool ok = pix < hpix && n < p.N && unsigned(iy) < unsigned(p.Hin) && unsigned(ix) < unsigned(p.Win);
    h_off[i] = ok ? (((n - first.n) * p.Hin + iy) * p.Win + ix) * p.Cin + (v & 3) * 4 : 0;
    inside |= uint32_t(ok) << i;
  }
  // Every copy is issued, the ones outside the image or past the halo zero-filled (a zero-fill
  // reads nothing, so its source may lie outside the tensor): with no branch around a copy,
  // nvcc works out the stage's shared address once per chunk, not once per copy (the first form
  // skipped copies past the halo and its loop was 36% integer, mostly those addresses).
  auto load_chunk = [&](int stage, int chunk) {
    float* const ws = Ws + stage * kWStage + w_dst0;
    const float* const wsrc = w_src0 + chunk * kCC;
    if (tid < 252) {
#pragma unroll
      for (int i = 0; i < (kBN + 6) / 7; ++i) {
        const int row = wrow0 + 7 * i;
        if (7 * i + 6 < kBN || row < kBN) cp_async16(ws + 7 * i * kLdw, wsrc + int64_t(7 * i) * (9 * p.Cin), n0 + row < p.Nout);
      }
    }
    float* const hs = Hs + stage * kHStage + (tid >> 2) * kLdh + (tid & 3) * 4;
    const float* const xsrc = x_base + chunk * kCC;
#pragma unroll
    for (int i = 0; i < kCopies; ++i)
      if (i < kCopies - 1 || tid < kHaloPix * 4 - (kCopies - 1) * kThreads)
        cp_async16(hs + i * (kThreads / 4) * kLdh, xsrc + h_off[i], (inside >> i) & 1u);
  };

  // This warp: tile pixels wm * 64 .. + 63 (m16 tile i: + 16 i), channels n0 + wn * 32 .. + 31.
  // Lane rows for ldmatrix as in v6: A row lane % 16 (a pixel), channels (lane / 16) * 4; B row
  // (lane / 16) * 8 + lane % 8 (a filter), channels ((lane / 8) % 2) * 4. Pixels past M read
  // the tile's first pixel's rows (their sums are never stored).
  const int wm = warp >> 1, wn = warp & 1;
  int a_off[kWarpRows];  // floats from a halo stage's start to the lane's A row at tap (0, 0)
#pragma unroll
  for (int i = 0; i < kWarpRows; ++i) {
    const int o = m0 + wm * 64 + i * 16 + (lane & 15);
    const Pixel q = pixel_of(o < M ? o : m0, p.Hout, p.Wout);
    a_off[i] = (int(virtual_row(q, p.Hout) - g0) * WP + q.x) * kLdh + (lane >> 4) * 4;
  }
  const int b_off = (wn * kWarpN + (lane >> 4) * 8 + (lane & 7)) * kLdw + ((lane >> 3) & 1) * 4;

  float acc[kWarpRows][4][4];
  tg::zero_accumulators(acc);

  if (c_begin < c_end) load_chunk(0, c_begin);
  cp_async_commit();
  // The main loop (not unrolled, so the SASS's smallest loop holding the mma is this one).
#pragma unroll 1
  for (int chunk = c_begin, j = 0; chunk < c_end; ++chunk, ++j) {
    cp_async_wait<0>();  // this thread's copies of chunk j have landed
    __syncthreads();     // everyone's have; everyone is done reading chunk j - 1's stages
    if (chunk + 1 < c_end) load_chunk((j + 1) & 1, chunk + 1);
    cp_async_commit();
    const float* const as = Hs + (j & 1) * kHStage;
    const float* const bs = Ws + (j & 1) * kWStage + b_off;
    // Tap (r, s) moves every A row r halo rows down and s pixels right.
    halo::mma_taps3x3<P, FLIP>(acc, [&](int i, int r, int s) { return as + a_off[i] + (r * WP + s) * kLdh; }, bs, kCC,
                               16 * kLdw);
  }
  cp_async_wait<0>();

  // Store: through the epilogue (one split), or this split's partial sums.
#pragma unroll
  for (int i = 0; i < kWarpRows; ++i)
#pragma unroll
    for (int jn = 0; jn < 4; ++jn)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int o = m0 + wm * 64 + i * 16 + tg::mma_c_row(lane, e);
        const int n = n0 + wn * kWarpN + jn * 8 + tg::mma_c_col(lane, e);
        if (o < M && n < p.Nout) epi(o, n, acc[i][jn][e], int(blockIdx.z));
      }
}

// Whether the kernel takes a pass: Cin % 16 == 0, every tile's halo within a stage, the int
// offsets from a tile's first image within range, the grid within limits.
inline bool applies(int N, int Hin, int Win, int Cin, int Hout, int Wout, int Nout, int smem_optin) {
  if (Cin % kCC != 0 || Cin < kCC || kSmemBytes > smem_optin || Nout < 1 || (Nout + kBN - 1) / kBN > 65535) return false;
  const int64_t M = int64_t(N) * Hout * Wout;
  if (M < 1 || M > 2147483647 - kBM) return false;
  // The widest halo: a tile's pixels span at most ceil(255 / Wout) + 1 output rows, and with
  // the 2 rows of zeros between images and 2 more at the ends, at most that + 2 per image met.
  const int64_t out_rows = (kBM - 1 + Wout - 1) / Wout + 1;
  const int64_t images = std::min<int64_t>(N, (out_rows + Hout - 1) / Hout + 1);
  const int64_t rows = out_rows + 2 * images;
  if (rows * (Wout + 2) > kHaloPix) return false;
  return (images + 1) * Hin * Win * int64_t(Cin) < 2147483647;
}

// Chunks a split takes, from the shape only: tg::plan_split_k's cost model with this kernel's
// blocks (one an SM) and chunks (1.6 us: a chunk's 2.4 M multiply-adds at TF32's rate per SM).
// Each split at least 2 chunks, at most 16 splits. Unlike v4's plan it splits launches that
// fill the SMs already: they are bound by the tensor cores, where the model's wave rounding
// holds. (16 x 24 x 24 128->256: 1 split, 144 blocks in 2 waves; 16 x 6 x 6 512->512: 5 splits
// of 7 chunks, 120 blocks in one wave.)
inline int chunks_per_split(int64_t M, int Nout, int Cin) {
  const int64_t blocks = (M + kBM - 1) / kBM * ((Nout + kBN - 1) / kBN);
  const int chunks = Cin / kCC;
  return tg::plan_split_k(blocks, 1, chunks, 1.6, M * Nout, std::min(16, chunks / 2)).kt_per_split;
}
inline int splits_of(const Params& p) {
  const int chunks = p.Cin / kCC;
  return (chunks + p.chunks_per_split - 1) / p.chunks_per_split;
}

// epi: the layer's tg::BiasActEpi with one split, a tg::PartialEpi over splits_of(p) otherwise.
template <tg4::Mma P, bool FLIP, class Epi>
void launch_conv3x3_halo_stream(const Params& p, const Epi& epi, cudaStream_t s) {
  allow_dynamic_smem<&conv3x3_halo_stream_kernel<P, FLIP, Epi>>(kSmemBytes);
  const int64_t M = int64_t(p.N) * p.Hout * p.Wout;
  if (M < 1) return;
  const dim3 grid(unsigned((M + kBM - 1) / kBM), unsigned((p.Nout + kBN - 1) / kBN), unsigned(splits_of(p)));
  conv3x3_halo_stream_kernel<P, FLIP, Epi><<<grid, kThreads, kSmemBytes, s>>>(p, epi);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::halo_stream
