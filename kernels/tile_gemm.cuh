// The tiled GEMM engine behind conv2d v2/v3 and gemm v1/v2 (internal to kernels/*.cu).
//
// It computes   C[m, n] = sum_kk A[m, kk] * B[kk, n]   for m < M, n < N, kk < Kred,
// where A and B are *implicit* matrices: an "operand" object says where element (mn, kk) lives
// in memory (or that it is zero). That single abstraction covers
//   * plain row-major matrices, transposed or not (gemm, linear),
//   * im2col of an NHWC activation without materialising it (implicit-GEMM convolution):
//     forward A[m = (n,p,q), kk = (r,s,c)] = x[n, p*stride-pad+r, q*stride-pad+s, c],
//     backward-data and backward-weight gathers likewise.
//
// Block tile BM x BN, reduction step BK. Each k-step the block copies an A tile (BM x BK) and a
// B tile (BK x BN) from global to shared memory with cp.async (sm_80+: the copy bypasses
// registers and zero-fills padding), two stages deep so the copy of step k+1 overlaps the math
// of step k. Shared-memory layout follows the operand's contiguous direction:
//   kk contiguous in memory  -> tile stored [mn][BK + 4]    (row = one mn, kk innermost)
//   mn contiguous in memory  -> tile stored [BK][BMN + 8]   (row = one kk, mn innermost)
// so global reads are coalesced (and 16-byte when `vec` holds) and the padding (+4 / +8 floats)
// makes the tensor-core fragment reads below free of bank conflicts.
//
// The operands, epilogues, tile layouts, loader and fragment coordinates live in
// tile_gemm_core.h (host + device, so a CPU test can emulate the kernels exactly).
//
// Two compute flavours share the loader:
//   ffma: 256 threads, each owns a 4x4 grid of outputs (rows ty+16i, cols tx+16j), plain FMAs.
//   tf32: warps own 32x32 sub-tiles computed with mma.sync.m16n8k8 TF32 tensor-core
//         instructions (inputs rounded to TF32 with cvt.rna, products accumulated in fp32).
//
// Split-K: blockIdx.z selects a range of k-steps; the epilogue is told which split it is so it
// can write partial sums that a second kernel adds in a fixed order (deterministic).
#pragma once
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <stdexcept>

#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::tg {

// ---- device-side tile copies -------------------------------------------------------------------

template <int VEC>
struct CpAsync {
  __device__ __forceinline__ void operator()(float* dst, const float* src, bool valid) const {
    if constexpr (VEC == 4) cp_async16(dst, src, valid);
    else cp_async4(dst, src, valid);
  }
};

template <class Op, int BMN, int BK, int NT>
__device__ __forceinline__ void load_tile_any(const Op& op, const typename Op::MnCtx* mnc,
                                              float* tile, int k0) {
  if (op.vec) load_tile_thread<Op, BMN, BK, NT, 4>(op, mnc, tile, k0, int(threadIdx.x), CpAsync<4>{});
  else load_tile_thread<Op, BMN, BK, NT, 1>(op, mnc, tile, k0, int(threadIdx.x), CpAsync<1>{});
}

// ---- the kernels -----------------------------------------------------------------------------

// FFMA flavour: 256 threads, 64 x 64 tile, BK = 16, 4 x 4 outputs per thread.
template <class OpA, class OpB, class Epi>
__global__ void __launch_bounds__(256)
tile_gemm_ffma_kernel(int M, int N, int Kred, int kt_per_split, OpA a, OpB b, Epi epi) {
  constexpr int BM = 64, BN = 64, BK = 16, NT = 256;
  using LA = TileLayout<OpA::kContig, BM, BK>;
  using LB = TileLayout<OpB::kContig, BN, BK>;
  __shared__ __align__(16) float As[2][LA::kFloats];
  __shared__ __align__(16) float Bs[2][LB::kFloats];
  __shared__ typename OpA::MnCtx actx[BM];
  __shared__ typename OpB::MnCtx bctx[BN];

  const int m0 = int(blockIdx.x) * BM, n0 = int(blockIdx.y) * BN;
  for (int i = threadIdx.x; i < BM; i += NT) actx[i] = a.mn_ctx(m0 + i);
  for (int i = threadIdx.x; i < BN; i += NT) bctx[i] = b.mn_ctx(n0 + i);
  __syncthreads();

  int kt0, kt1;
  split_range(Kred, BK, kt_per_split, int(blockIdx.z), kt0, kt1);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  if (kt0 < kt1) {
    load_tile_any<OpA, BM, BK, NT>(a, actx, As[0], kt0 * BK);
    load_tile_any<OpB, BN, BK, NT>(b, bctx, Bs[0], kt0 * BK);
    cp_async_commit();
  }
  for (int kt = kt0; kt < kt1; ++kt) {
    const int cur = (kt - kt0) & 1;
    if (kt + 1 < kt1) {
      load_tile_any<OpA, BM, BK, NT>(a, actx, As[cur ^ 1], (kt + 1) * BK);
      load_tile_any<OpB, BN, BK, NT>(b, bctx, Bs[cur ^ 1], (kt + 1) * BK);
      cp_async_commit();
      cp_async_wait<1>();  // the group of step kt has landed; step kt+1 may still be in flight
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[cur][LA::idx(ty + 16 * i, k)];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[cur][LB::idx(tx + 16 * j, k)];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();  // everyone is done with stage `cur` before it is refilled
  }

#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < M && n < N) epi(m, n, acc[i][j], int(blockIdx.z));
    }
}

__device__ __forceinline__ uint32_t to_tf32(float x) {
#ifdef SRGAN_CUDA_EMU
  return ::srgan::emu::cvt_rna_tf32(x);
#else
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#endif
}

// D = A * B + D for one 16x8x8 TF32 tile held in registers by the 32 lanes of a warp.
__device__ __forceinline__ void mma_16x8x8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                                const uint32_t (&b)[2]) {
#ifdef SRGAN_CUDA_EMU
  ::srgan::emu::mma_m16n8k8_tf32(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// TF32 tensor-core flavour: (BM/32) x (BN/32) warps, each computing a 32 x 32 sub-tile as
// 2 x 4 mma tiles of 16 x 8; BK = 32 (four k-steps of 8 per stage). Fragment coordinates are
// the mma_* helpers of tile_gemm_core.h (the PTX ISA's layout for m16n8k8 .tf32).
template <int BM, int BN, class OpA, class OpB, class Epi>
__global__ void __launch_bounds__((BM / kWarpM) * (BN / kWarpN) * 32)
tile_gemm_tf32_kernel(int M, int N, int Kred, int kt_per_split, OpA a, OpB b, Epi epi) {
  constexpr int BK = 32;
  constexpr int WARPS_N = BN / kWarpN, NT = (BM / kWarpM) * WARPS_N * 32;
  constexpr int MI = kWarpM / 16, NI = kWarpN / 8;  // mma tiles per warp
  using LA = TileLayout<OpA::kContig, BM, BK>;
  using LB = TileLayout<OpB::kContig, BN, BK>;
  static_assert(2 * (LA::kFloats + LB::kFloats) * 4 + (BM + BN) * 16 <= 48 * 1024,
                "static shared memory limit");
  __shared__ __align__(16) float As[2][LA::kFloats];
  __shared__ __align__(16) float Bs[2][LB::kFloats];
  __shared__ typename OpA::MnCtx actx[BM];
  __shared__ typename OpB::MnCtx bctx[BN];

  const int m0 = int(blockIdx.x) * BM, n0 = int(blockIdx.y) * BN;
  for (int i = threadIdx.x; i < BM; i += NT) actx[i] = a.mn_ctx(m0 + i);
  for (int i = threadIdx.x; i < BN; i += NT) bctx[i] = b.mn_ctx(n0 + i);
  __syncthreads();

  int kt0, kt1;
  split_range(Kred, BK, kt_per_split, int(blockIdx.z), kt0, kt1);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm0 = (warp / WARPS_N) * kWarpM, wn0 = (warp % WARPS_N) * kWarpN;

  float acc[MI][NI][4];
  zero_accumulators(acc);

  if (kt0 < kt1) {
    load_tile_any<OpA, BM, BK, NT>(a, actx, As[0], kt0 * BK);
    load_tile_any<OpB, BN, BK, NT>(b, bctx, Bs[0], kt0 * BK);
    cp_async_commit();
  }
  for (int kt = kt0; kt < kt1; ++kt) {
    const int cur = (kt - kt0) & 1;
    if (kt + 1 < kt1) {
      load_tile_any<OpA, BM, BK, NT>(a, actx, As[cur ^ 1], (kt + 1) * BK);
      load_tile_any<OpB, BN, BK, NT>(b, bctx, Bs[cur ^ 1], (kt + 1) * BK);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const float* as = As[cur];
    const float* bs = Bs[cur];
#pragma unroll
    for (int kk = 0; kk < BK; kk += 8) {
      uint32_t af[MI][4], bf[NI][2];
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int r = 0; r < 4; ++r)
          af[i][r] = to_tf32(as[LA::idx(wm0 + i * 16 + mma_a_row(lane, r), kk + mma_a_col(lane, r))]);
#pragma unroll
      for (int j = 0; j < NI; ++j)
#pragma unroll
        for (int r = 0; r < 2; ++r)
          bf[j][r] = to_tf32(bs[LB::idx(wn0 + j * 8 + mma_b_n(lane), kk + mma_b_k(lane, r))]);
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j) mma_16x8x8_tf32(acc[i][j], af[i], bf[j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + wm0 + i * 16 + mma_c_row(lane, e);
        const int n = n0 + wn0 + j * 8 + mma_c_col(lane, e);
        if (m < M && n < N) epi(m, n, acc[i][j][e], int(blockIdx.z));
      }
}

// Adds the split-K partials part[split][m][n] in split order and hands the sum to epi.
template <class Epi>
__global__ void __launch_bounds__(kThreads)
splitk_reduce_kernel(int M, int N, int splits, const float* part, Epi epi) {
  const int64_t total = int64_t(M) * N, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[int64_t(z) * total + i];
    epi(int(i / N), int(i % N), s, 0);
  }
}

// ---- host-side launch -------------------------------------------------------------------------

// Launches the flavour's kernel over the (M, N) tiles x sp.splits.
template <class OpA, class OpB, class Epi>
void launch_tile_gemm(Flavour f, int M, int N, int Kred, const SplitPlan& sp, const OpA& a,
                      const OpB& b, const Epi& epi, cudaStream_t s) {
  const int64_t gx = (int64_t(M) + kTile - 1) / kTile, gy = (int64_t(N) + kTile - 1) / kTile;
  if (gx < 1 || gy < 1) return;
  if (gy > 65535 || sp.splits > 65535 || gx > 2147483647)
    throw std::invalid_argument("tile_gemm: problem too large for the grid");
  const dim3 grid(unsigned(gx), unsigned(gy), unsigned(sp.splits));
  if (f == Flavour::ffma) {
    tile_gemm_ffma_kernel<OpA, OpB, Epi><<<grid, 256, 0, s>>>(M, N, Kred, sp.kt_per_split, a, b, epi);
  } else {
    tile_gemm_tf32_kernel<kTile, kTile, OpA, OpB, Epi>
        <<<grid, (kTile / 32) * (kTile / 32) * 32, 0, s>>>(M, N, Kred, sp.kt_per_split, a, b, epi);
  }
  SRGAN_LAUNCH_CHECK(s);
}

// Ordered sum of the split-K partials (splits, M, N), handed to epi.
template <class Epi>
void launch_splitk_reduce(int M, int N, int splits, const float* part, const Epi& epi, cudaStream_t s) {
  if (int64_t(M) * N == 0) return;
  splitk_reduce_kernel<Epi><<<grid_for(int64_t(M) * N), kThreads, 0, s>>>(M, N, splits, part, epi);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::tg
