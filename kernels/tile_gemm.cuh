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
#include "kernels/scalar_math.h"

namespace srgan::kern::cuda::tg {

// ---- operands -------------------------------------------------------------------------------
// Each operand type provides:
//   static constexpr bool kContig;   true: consecutive kk are consecutive floats in memory;
//                                    false: consecutive mn are.
//   struct MnCtx; __device__ MnCtx mn_ctx(int mn) const;   per row/column facts, computed once
//                                                           per block and kept in shared memory
//   struct KCtx;  __device__ KCtx k_ctx(int kk) const;     per reduction index, per k-step
//   __device__ const float* addr(const MnCtx&, const KCtx&) const;   nullptr: the element is 0
//   const float* base;   any valid address (source of zero-filling copies)
//   bool vec;            4 consecutive elements along the contiguous direction, starting at a
//                        multiple of 4, are contiguous, 16-byte aligned and share validity
//                        (host-checked; the extent along that direction is a multiple of 4)

// Row-major matrix with kk contiguous: element (mn, kk) = ptr[mn * ld + kk].
struct RowMajorK {
  static constexpr bool kContig = true;
  const float* base;
  int64_t ld;
  int extent, kred;
  bool vec;
  struct MnCtx { int64_t off; int valid; };
  struct KCtx { int kk; int valid; };
  __device__ MnCtx mn_ctx(int mn) const { return {int64_t(mn) * ld, mn < extent}; }
  __device__ KCtx k_ctx(int kk) const { return {kk, kk < kred}; }
  __device__ const float* addr(const MnCtx& m, const KCtx& k) const {
    return (m.valid && k.valid) ? base + m.off + k.kk : nullptr;
  }
};

// Row-major matrix with mn contiguous: element (mn, kk) = ptr[kk * ld + mn].
struct RowMajorMN {
  static constexpr bool kContig = false;
  const float* base;
  int64_t ld;
  int extent, kred;
  bool vec;
  struct MnCtx { int mn; int valid; };
  struct KCtx { int64_t off; int valid; };
  __device__ MnCtx mn_ctx(int mn) const { return {mn, mn < extent}; }
  __device__ KCtx k_ctx(int kk) const { return {int64_t(kk) * ld, kk < kred}; }
  __device__ const float* addr(const MnCtx& m, const KCtx& k) const {
    return (m.valid && k.valid) ? base + k.off + m.mn : nullptr;
  }
};

// Geometry of a convolution as the gathers need it (copied from Conv2dParams).
struct ConvGeom {
  int N, H, W, C, K, R, S, stride, pad, P, Q;
};

// Forward A: implicit im2col of x (N,H,W,C). mn = output pixel (n,p,q), kk = (r,s,c).
struct ConvFwdA {
  static constexpr bool kContig = true;
  const float* base;  // x
  ConvGeom g;
  bool vec;
  struct MnCtx { int64_t img; int h0, w0; };
  struct KCtx { int r, s, c, valid; };
  __device__ MnCtx mn_ctx(int m) const {
    const int PQ = g.P * g.Q;
    if (m >= g.N * PQ) return {0, INT_MIN / 2, INT_MIN / 2};  // never inside the image
    const int n = m / PQ, pq = m - n * PQ, p = pq / g.Q, q = pq - p * g.Q;
    return {int64_t(n) * g.H * g.W * g.C, p * g.stride - g.pad, q * g.stride - g.pad};
  }
  __device__ KCtx k_ctx(int kk) const {
    const int SC = g.S * g.C;
    if (kk >= g.R * SC) return {0, 0, 0, 0};
    const int r = kk / SC, rem = kk - r * SC, s = rem / g.C;
    return {r, s, rem - s * g.C, 1};
  }
  __device__ const float* addr(const MnCtx& m, const KCtx& k) const {
    const int h = m.h0 + k.r, w = m.w0 + k.s;
    if (!k.valid || h < 0 || h >= g.H || w < 0 || w >= g.W) return nullptr;
    return base + m.img + (int64_t(h) * g.W + w) * g.C + k.c;
  }
};

// Backward-data A: gather of dy (N,P,Q,K) for dx pixel mn = (n,h,w), kk = (r,s,k):
// dy[n, p, q, k] where h = p*stride - pad + r (and likewise w), zero when no such (p, q).
struct ConvBwdDataA {
  static constexpr bool kContig = true;
  const float* base;  // dy
  ConvGeom g;
  bool vec;
  struct MnCtx { int64_t img; int hp, wp; };  // hp = h + pad
  struct KCtx { int r, s, k, valid; };
  __device__ MnCtx mn_ctx(int m) const {
    const int HW = g.H * g.W;
    if (m >= g.N * HW) return {0, INT_MIN / 2, INT_MIN / 2};
    const int n = m / HW, hw = m - n * HW, h = hw / g.W, w = hw - h * g.W;
    return {int64_t(n) * g.P * g.Q * g.K, h + g.pad, w + g.pad};
  }
  __device__ KCtx k_ctx(int kk) const {
    const int SK = g.S * g.K;
    if (kk >= g.R * SK) return {0, 0, 0, 0};
    const int r = kk / SK, rem = kk - r * SK, s = rem / g.K;
    return {r, s, rem - s * g.K, 1};
  }
  __device__ const float* addr(const MnCtx& m, const KCtx& k) const {
    const int pn = m.hp - k.r, qn = m.wp - k.s;  // p * stride, q * stride
    if (!k.valid || pn < 0 || qn < 0) return nullptr;
    const int p = pn / g.stride, q = qn / g.stride;
    if (p * g.stride != pn || q * g.stride != qn || p >= g.P || q >= g.Q) return nullptr;
    return base + m.img + (int64_t(p) * g.Q + q) * g.K + k.k;
  }
};

// Backward-weight B: gather of x for kk = output pixel (n,p,q), mn = weight column (r,s,c).
struct ConvBwdWeightB {
  static constexpr bool kContig = false;
  const float* base;  // x
  ConvGeom g;
  bool vec;
  struct MnCtx { int r, s, c, valid; };
  struct KCtx { int64_t img; int h0, w0; };
  __device__ MnCtx mn_ctx(int mn) const {
    const int SC = g.S * g.C;
    if (mn >= g.R * SC) return {0, 0, 0, 0};
    const int r = mn / SC, rem = mn - r * SC, s = rem / g.C;
    return {r, s, rem - s * g.C, 1};
  }
  __device__ KCtx k_ctx(int kk) const {
    const int PQ = g.P * g.Q;
    if (kk >= g.N * PQ) return {0, INT_MIN / 2, INT_MIN / 2};
    const int n = kk / PQ, pq = kk - n * PQ, p = pq / g.Q, q = pq - p * g.Q;
    return {int64_t(n) * g.H * g.W * g.C, p * g.stride - g.pad, q * g.stride - g.pad};
  }
  __device__ const float* addr(const MnCtx& m, const KCtx& k) const {
    const int h = k.h0 + m.r, w = k.w0 + m.s;
    if (!m.valid || h < 0 || h >= g.H || w < 0 || w >= g.W) return nullptr;
    return base + k.img + (int64_t(h) * g.W + w) * g.C + m.c;
  }
};

// ---- epilogues -------------------------------------------------------------------------------
// __device__ void operator()(int m, int n, float v, int split) const, called once per C
// element with m < M, n < N.

// out[m, n] = act(v + bias[n]); act = PReLU with slope[0] (slope_mode 1) or slope[n] (mode 2),
// identity (mode 0). pre (optional) receives the value before the activation.
struct BiasActEpi {
  float* out;
  int64_t ldc;
  const float* bias;   // may be nullptr
  const float* slope;  // may be nullptr when slope_mode == 0
  int slope_mode;
  float* pre;          // may be nullptr
  __device__ void operator()(int m, int n, float v, int) const {
    if (bias) v += bias[n];
    const int64_t i = int64_t(m) * ldc + n;
    if (pre) pre[i] = v;
    if (slope_mode != 0) {
      const float a = slope_mode == 1 ? slope[0] : slope[n];
      v = leaky_f(v, a);
    }
    out[i] = v;
  }
};

// Split-K partial sums: part[split][m][n].
struct PartialEpi {
  float* part;
  int64_t ldc, split_stride;
  __device__ void operator()(int m, int n, float v, int split) const {
    part[int64_t(split) * split_stride + int64_t(m) * ldc + n] = v;
  }
};

// BLAS semantics: C = alpha * v + beta * C, and C is not read when beta == 0 (so garbage or
// NaN in C does not leak into the result).
struct AlphaBetaEpi {
  float* c;
  int64_t ldc;
  float alpha, beta;
  __device__ void operator()(int m, int n, float v, int) const {
    const int64_t i = int64_t(m) * ldc + n;
    c[i] = beta == 0.f ? alpha * v : alpha * v + beta * c[i];
  }
};

// ---- shared-memory tiles and the loader ------------------------------------------------------

template <bool KC, int BMN, int BK>
struct TileLayout {
  static constexpr int kStride = KC ? BK + 4 : BMN + 8;        // floats per smem row
  static constexpr int kFloats = KC ? BMN * (BK + 4) : BK * (BMN + 8);
  __device__ static int idx(int mn, int k) { return KC ? mn * kStride + k : k * kStride + mn; }
};

// Copies the (BMN x BK) tile starting at k0 of operand `op` into smem `tile` with cp.async.
// mnc holds the block's BMN mn-contexts. VEC is 4 (16-byte copies) or 1.
template <class Op, int BMN, int BK, int NT, int VEC>
__device__ __forceinline__ void load_tile(const Op& op, const typename Op::MnCtx* mnc, float* tile,
                                          int k0) {
  using L = TileLayout<Op::kContig, BMN, BK>;
  if constexpr (Op::kContig) {
    constexpr int VPR = BK / VEC;         // vectors per mn row
    constexpr int ROWS = NT / VPR;        // mn rows per pass
    static_assert(BK % VEC == 0 && NT % VPR == 0 && BMN % ROWS == 0, "tile/thread mismatch");
    const int kv = threadIdx.x % VPR, r0 = threadIdx.x / VPR;
    const int kk = kv * VEC;
    const auto kc = op.k_ctx(k0 + kk);
#pragma unroll
    for (int i = 0; i < BMN / ROWS; ++i) {
      const int mn = r0 + i * ROWS;
      const float* src = op.addr(mnc[mn], kc);
      float* dst = tile + L::idx(mn, kk);
      if constexpr (VEC == 4) cp_async16(dst, src ? src : op.base, src != nullptr);
      else cp_async4(dst, src ? src : op.base, src != nullptr);
    }
  } else {
    constexpr int VPR = BMN / VEC;        // vectors per kk row
    constexpr int ROWS = NT / VPR;        // kk rows per pass
    static_assert(BMN % VEC == 0 && NT % VPR == 0 && BK % ROWS == 0, "tile/thread mismatch");
    const int mv = threadIdx.x % VPR, r0 = threadIdx.x / VPR;
    const int mn = mv * VEC;
    const auto mc = mnc[mn];
#pragma unroll
    for (int i = 0; i < BK / ROWS; ++i) {
      const int kk = r0 + i * ROWS;
      const float* src = op.addr(mc, op.k_ctx(k0 + kk));
      float* dst = tile + L::idx(mn, kk);
      if constexpr (VEC == 4) cp_async16(dst, src ? src : op.base, src != nullptr);
      else cp_async4(dst, src ? src : op.base, src != nullptr);
    }
  }
}

template <class Op, int BMN, int BK, int NT>
__device__ __forceinline__ void load_tile_any(const Op& op, const typename Op::MnCtx* mnc,
                                              float* tile, int k0) {
  if (op.vec) load_tile<Op, BMN, BK, NT, 4>(op, mnc, tile, k0);
  else load_tile<Op, BMN, BK, NT, 1>(op, mnc, tile, k0);
}

// ---- the kernels -----------------------------------------------------------------------------

// k-steps [kt0, kt1) of this block's split.
__device__ __forceinline__ void split_range(int Kred, int BK, int kt_per_split, int& kt0, int& kt1) {
  const int ktiles = (Kred + BK - 1) / BK;
  kt0 = int(blockIdx.z) * kt_per_split;
  kt1 = kt0 + kt_per_split < ktiles ? kt0 + kt_per_split : ktiles;
}

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
  split_range(Kred, BK, kt_per_split, kt0, kt1);
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
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

// D = A * B + D for one 16x8x8 TF32 tile held in registers by the 32 lanes of a warp.
__device__ __forceinline__ void mma_16x8x8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                                const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// TF32 tensor-core flavour: (BM/32) x (BN/32) warps, each computing a 32 x 32 sub-tile as
// 2 x 4 mma tiles of 16 x 8; BK = 32 (four k-steps of 8 per stage).
//
// Fragment layout of mma.m16n8k8 (g = lane / 4, t = lane % 4), from the PTX ISA:
//   A (16x8, row-major): a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]
//   B (8x8, "col"):      b0 = B[t][g], b1 = B[t+4][g]                 (B[k][n])
//   C (16x8):            c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
template <int BM, int BN, class OpA, class OpB, class Epi>
__global__ void __launch_bounds__((BM / 32) * (BN / 32) * 32)
tile_gemm_tf32_kernel(int M, int N, int Kred, int kt_per_split, OpA a, OpB b, Epi epi) {
  constexpr int BK = 32, WM = 32, WN = 32;
  constexpr int WARPS_M = BM / WM, WARPS_N = BN / WN, NT = WARPS_M * WARPS_N * 32;
  constexpr int MI = WM / 16, NI = WN / 8;  // mma tiles per warp
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
  split_range(Kred, BK, kt_per_split, kt0, kt1);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

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
      for (int i = 0; i < MI; ++i) {
        const int r = wm0 + i * 16 + g;
        af[i][0] = to_tf32(as[LA::idx(r, kk + t)]);
        af[i][1] = to_tf32(as[LA::idx(r + 8, kk + t)]);
        af[i][2] = to_tf32(as[LA::idx(r, kk + t + 4)]);
        af[i][3] = to_tf32(as[LA::idx(r + 8, kk + t + 4)]);
      }
#pragma unroll
      for (int j = 0; j < NI; ++j) {
        const int c = wn0 + j * 8 + g;
        bf[j][0] = to_tf32(bs[LB::idx(c, kk + t)]);
        bf[j][1] = to_tf32(bs[LB::idx(c, kk + t + 4)]);
      }
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
        const int m = m0 + wm0 + i * 16 + g + (e >= 2 ? 8 : 0);
        const int n = n0 + wn0 + j * 8 + 2 * t + (e & 1);
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

enum class Flavour { ffma, tf32 };
constexpr int kTile = 64;  // BM = BN of both flavours
inline int bk_of(Flavour f) { return f == Flavour::ffma ? 16 : 32; }

struct SplitPlan {
  int splits = 1, kt_per_split = 1;
};

// Split count from the problem shape only (never the device), so results are reproducible
// across GPUs: enough blocks for about two waves on a 132-SM H100, each split >= 4 k-steps,
// at most max_splits; then no split is left empty.
inline SplitPlan plan_splits(Flavour f, int M, int N, int Kred, int max_splits) {
  const int bk = bk_of(f);
  const int64_t tiles = int64_t((M + kTile - 1) / kTile) * ((N + kTile - 1) / kTile);
  const int ktiles = (Kred + bk - 1) / bk;
  int64_t s = (264 + tiles - 1) / tiles;
  const int64_t by_k = (ktiles + 3) / 4;
  if (s > by_k) s = by_k;
  if (s > max_splits) s = max_splits;
  if (s < 1) s = 1;
  SplitPlan sp;
  sp.kt_per_split = int((ktiles + s - 1) / s);
  if (sp.kt_per_split < 1) sp.kt_per_split = 1;
  sp.splits = (ktiles + sp.kt_per_split - 1) / sp.kt_per_split;
  if (sp.splits < 1) sp.splits = 1;
  return sp;
}

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
