// The host/device-neutral half of the tiled GEMM engine (tile_gemm.cuh): the operand gathers,
// the epilogues, the shared-memory tile layouts, the per-thread tile loader and the
// mma.m16n8k8 fragment coordinates. Everything here is SRGAN_HD (host and device), so the CPU
// test tests/test_tile_gemm_emulation.cpp runs this very code on the host, thread by thread and
// lane by lane, and checks the whole GEMM against a plain loop without a GPU.
#pragma once
#include <climits>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "kernels/scalar_math.h"

#if defined(__CUDACC__)
#define SRGAN_UNROLL _Pragma("unroll")
#else
#define SRGAN_UNROLL
#endif

namespace srgan::kern::cuda::tg {

// ---- operands -------------------------------------------------------------------------------
// Each operand type provides:
//   static constexpr bool kContig;   true: consecutive kk are consecutive floats in memory;
//                                    false: consecutive mn are.
//   struct MnCtx; SRGAN_HD MnCtx mn_ctx(int mn) const;   per row/column facts, computed once
//                                                           per block and kept in shared memory
//   struct KCtx;  SRGAN_HD KCtx k_ctx(int kk) const;     per reduction index, per k-step
//   SRGAN_HD const float* addr(const MnCtx&, const KCtx&) const;   nullptr: the element is 0
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
  SRGAN_HD MnCtx mn_ctx(int mn) const { return {int64_t(mn) * ld, mn < extent}; }
  SRGAN_HD KCtx k_ctx(int kk) const { return {kk, kk < kred}; }
  SRGAN_HD const float* addr(const MnCtx& m, const KCtx& k) const {
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
  SRGAN_HD MnCtx mn_ctx(int mn) const { return {mn, mn < extent}; }
  SRGAN_HD KCtx k_ctx(int kk) const { return {int64_t(kk) * ld, kk < kred}; }
  SRGAN_HD const float* addr(const MnCtx& m, const KCtx& k) const {
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
  SRGAN_HD MnCtx mn_ctx(int m) const {
    const int PQ = g.P * g.Q;
    if (m >= g.N * PQ) return {0, INT_MIN / 2, INT_MIN / 2};  // never inside the image
    const int n = m / PQ, pq = m - n * PQ, p = pq / g.Q, q = pq - p * g.Q;
    return {int64_t(n) * g.H * g.W * g.C, p * g.stride - g.pad, q * g.stride - g.pad};
  }
  SRGAN_HD KCtx k_ctx(int kk) const {
    const int SC = g.S * g.C;
    if (kk >= g.R * SC) return {0, 0, 0, 0};
    const int r = kk / SC, rem = kk - r * SC, s = rem / g.C;
    return {r, s, rem - s * g.C, 1};
  }
  SRGAN_HD const float* addr(const MnCtx& m, const KCtx& k) const {
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
  SRGAN_HD MnCtx mn_ctx(int m) const {
    const int HW = g.H * g.W;
    if (m >= g.N * HW) return {0, INT_MIN / 2, INT_MIN / 2};
    const int n = m / HW, hw = m - n * HW, h = hw / g.W, w = hw - h * g.W;
    return {int64_t(n) * g.P * g.Q * g.K, h + g.pad, w + g.pad};
  }
  SRGAN_HD KCtx k_ctx(int kk) const {
    const int SK = g.S * g.K;
    if (kk >= g.R * SK) return {0, 0, 0, 0};
    const int r = kk / SK, rem = kk - r * SK, s = rem / g.K;
    return {r, s, rem - s * g.K, 1};
  }
  SRGAN_HD const float* addr(const MnCtx& m, const KCtx& k) const {
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
  SRGAN_HD MnCtx mn_ctx(int mn) const {
    const int SC = g.S * g.C;
    if (mn >= g.R * SC) return {0, 0, 0, 0};
    const int r = mn / SC, rem = mn - r * SC, s = rem / g.C;
    return {r, s, rem - s * g.C, 1};
  }
  SRGAN_HD KCtx k_ctx(int kk) const {
    const int PQ = g.P * g.Q;
    if (kk >= g.N * PQ) return {0, INT_MIN / 2, INT_MIN / 2};
    const int n = kk / PQ, pq = kk - n * PQ, p = pq / g.Q, q = pq - p * g.Q;
    return {int64_t(n) * g.H * g.W * g.C, p * g.stride - g.pad, q * g.stride - g.pad};
  }
  SRGAN_HD const float* addr(const MnCtx& m, const KCtx& k) const {
    const int h = k.h0 + m.r, w = k.w0 + m.s;
    if (!m.valid || h < 0 || h >= g.H || w < 0 || w >= g.W) return nullptr;
    return base + k.img + (int64_t(h) * g.W + w) * g.C + m.c;
  }
};

// ---- epilogues -------------------------------------------------------------------------------
// SRGAN_HD void operator()(int m, int n, float v, int split) const, called once per C
// element with m < M, n < N.

// out[m, n] = act(v * scale[n] + bias[n]) + residual[m, n]; act = PReLU with slope[0]
// (slope_mode 1) or slope[n] (mode 2), identity (mode 0). pre (optional) receives the value
// before the activation. scale and residual are for inference (a convolution's bias and an
// eval-mode batch norm folded into scale / bias, the residual block's skip added in the same
// pass: conv2d_affine_act_forward_cuda); absent, they cost one predicated-off branch.
struct BiasActEpi {
  float* out;
  int64_t ldc;
  const float* bias;   // may be nullptr
  const float* slope;  // may be nullptr when slope_mode == 0
  int slope_mode;
  float* pre;          // may be nullptr
  const float* scale = nullptr;     // may be nullptr (1)
  const float* residual = nullptr;  // may be nullptr; (M, ldc) like out
  SRGAN_HD void operator()(int m, int n, float v, int) const {
    if (scale) v *= scale[n];
    if (bias) v += bias[n];
    const int64_t i = int64_t(m) * ldc + n;
    if (pre) pre[i] = v;
    if (slope_mode != 0) {
      const float a = slope_mode == 1 ? slope[0] : slope[n];
      v = leaky_f(v, a);
    }
    if (residual) v += residual[i];
    out[i] = v;
  }
};

// Split-K partial sums: part[split][m][n].
struct PartialEpi {
  float* part;
  int64_t ldc, split_stride;
  SRGAN_HD void operator()(int m, int n, float v, int split) const {
    part[int64_t(split) * split_stride + int64_t(m) * ldc + n] = v;
  }
};

// BLAS semantics: C = alpha * v + beta * C, and C is not read when beta == 0 (so garbage or
// NaN in C does not leak into the result).
struct AlphaBetaEpi {
  float* c;
  int64_t ldc;
  float alpha, beta;
  SRGAN_HD void operator()(int m, int n, float v, int) const {
    const int64_t i = int64_t(m) * ldc + n;
    c[i] = beta == 0.f ? alpha * v : alpha * v + beta * c[i];
  }
};

// ---- shared-memory tiles and the loader ------------------------------------------------------
//   kk contiguous in memory  -> tile stored [mn][BK + 4]    (row = one mn, kk innermost)
//   mn contiguous in memory  -> tile stored [BK][BMN + 8]   (row = one kk, mn innermost)
// The paddings make the mma fragment reads conflict-free: with g = lane/4, t = lane%4 a warp
// reads (mn = g, k = t) at word mn*36 + k (bank 4g + t) or k*72 + mn (bank 8t + g), 32 banks.

template <bool KC, int BMN, int BK>
struct TileLayout {
  static constexpr int kStride = KC ? BK + 4 : BMN + 8;        // floats per smem row
  static constexpr int kFloats = KC ? BMN * (BK + 4) : BK * (BMN + 8);
  SRGAN_HD static int idx(int mn, int k) { return KC ? mn * kStride + k : k * kStride + mn; }
};

// Thread `tid`'s share of copying the (BMN x BK) tile starting at k0 of operand `op` into
// `tile`. mnc holds the block's BMN mn-contexts. VEC is 4 (16-byte copies) or 1. The copy is
// done by copy(dst, src, valid) with VEC floats: cp.async on the GPU (zero-filling when
// !valid; src is then a valid dummy address), a plain copy in the host emulation.
// Coalescing: consecutive threads take consecutive VEC-groups along the contiguous direction.
template <class Op, int BMN, int BK, int NT, int VEC, class Copy>
SRGAN_HD void load_tile_thread(const Op& op, const typename Op::MnCtx* mnc, float* tile, int k0,
                               int tid, const Copy& copy) {
  using L = TileLayout<Op::kContig, BMN, BK>;
  if constexpr (Op::kContig) {
    constexpr int VPR = BK / VEC;         // vectors per mn row
    constexpr int ROWS = NT / VPR;        // mn rows per pass
    static_assert(BK % VEC == 0 && NT % VPR == 0 && BMN % ROWS == 0, "tile/thread mismatch");
    const int kv = tid % VPR, r0 = tid / VPR;
    const int kk = kv * VEC;
    const auto kc = op.k_ctx(k0 + kk);
SRGAN_UNROLL
    for (int i = 0; i < BMN / ROWS; ++i) {
      const int mn = r0 + i * ROWS;
      const float* src = op.addr(mnc[mn], kc);
      copy(tile + L::idx(mn, kk), src ? src : op.base, src != nullptr);
    }
  } else {
    constexpr int VPR = BMN / VEC;        // vectors per kk row
    constexpr int ROWS = NT / VPR;        // kk rows per pass
    static_assert(BMN % VEC == 0 && NT % VPR == 0 && BK % ROWS == 0, "tile/thread mismatch");
    const int mv = tid % VPR, r0 = tid / VPR;
    const int mn = mv * VEC;
    const auto mc = mnc[mn];
SRGAN_UNROLL
    for (int i = 0; i < BK / ROWS; ++i) {
      const int kk = r0 + i * ROWS;
      const float* src = op.addr(mc, op.k_ctx(k0 + kk));
      copy(tile + L::idx(mn, kk), src ? src : op.base, src != nullptr);
    }
  }
}

// k-steps [kt0, kt1) of split z.
SRGAN_HD void split_range(int Kred, int BK, int kt_per_split, int z, int& kt0, int& kt1) {
  const int ktiles = (Kred + BK - 1) / BK;
  kt0 = z * kt_per_split;
  kt1 = kt0 + kt_per_split < ktiles ? kt0 + kt_per_split : ktiles;
}

// ---- mma.sync.m16n8k8 (TF32) fragment coordinates, from the PTX ISA ---------------------------
// g = lane / 4, t = lane % 4:
//   A (16x8, row-major): a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]
//   B (8x8, "col"):      b0 = B[t][g], b1 = B[t+4][g]                 (B[k][n])
//   C (16x8):            c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
SRGAN_HD int mma_a_row(int lane, int r) { return (lane >> 2) + ((r & 1) ? 8 : 0); }
SRGAN_HD int mma_a_col(int lane, int r) { return (lane & 3) + ((r & 2) ? 4 : 0); }
SRGAN_HD int mma_b_k(int lane, int r) { return (lane & 3) + (r ? 4 : 0); }
SRGAN_HD int mma_b_n(int lane) { return lane >> 2; }
SRGAN_HD int mma_c_row(int lane, int r) { return (lane >> 2) + (r >= 2 ? 8 : 0); }
SRGAN_HD int mma_c_col(int lane, int r) { return 2 * (lane & 3) + (r & 1); }

// A warp's MI x NJ mma accumulators (c0..c3 each) set to zero before the k loop.
template <int MI, int NJ>
SRGAN_HD void zero_accumulators(float (&acc)[MI][NJ][4]) {
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;
}

// TF32 warp tiling shared by the kernel and its emulation: warps of 32x32, 2x4 mma tiles each.
constexpr int kWarpM = 32, kWarpN = 32;

// ---- host-side planning (shared with the emulation) -------------------------------------------

enum class Flavour { ffma, tf32 };
constexpr int kTile = 64;  // BM = BN of both flavours
inline int bk_of(Flavour f) { return f == Flavour::ffma ? 16 : 32; }

struct SplitPlan {
  int splits = 1, kt_per_split = 1;
};

// The split-K plan that minimises an H100 cost model, from the shape only (so the sums' order,
// and the bits, are the same on every GPU): waves of `blocks` x splits over 132 SMs holding
// per_sm blocks each, x steps a block x step_us (one step's time with the SM to itself, so
// per_sm blocks sharing an SM take per_sm times as long), plus, with more than one split, the
// partials' DRAM traffic ((splits + 1) x out_elems floats at 2.9 TB/s). 1 to max_splits splits
// of `steps` reduction steps; a count that leaves the same steps a split as a smaller one is
// skipped. Used by v4's multistage GEMM and the streamed halo tile (their callers choose
// max_splits: the steps a split must keep, and when not to split at all).
inline SplitPlan plan_split_k(int64_t blocks, int per_sm, int steps, double step_us, int64_t out_elems,
                              int max_splits) {
  SplitPlan sp;
  sp.kt_per_split = steps > 1 ? steps : 1;
  double best_us = 0;
  for (int s = 1; s <= max_splits || s == 1; ++s) {
    const int per = (steps + s - 1) / s > 1 ? (steps + s - 1) / s : 1;
    if (s > 1 && (steps + per - 1) / per != s) continue;
    const int64_t waves = (blocks * s + 132 * per_sm - 1) / (132 * per_sm);
    const double us = double(waves) * per * step_us * per_sm + (s > 1 ? double(s + 1) * out_elems * 4 / 2.9e6 : 0.0);
    if (s == 1 || us < best_us) best_us = us, sp.kt_per_split = per, sp.splits = s;
  }
  return sp;
}

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

// ---- problem builders: the GEMM view of each pass (shared with the emulation) -----------------

inline bool is_aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline ConvGeom conv_geom(const Conv2dParams& p) {
  return {p.N, p.H, p.W, p.C, p.K, p.R, p.S, p.stride, p.pad, p.P(), p.Q()};
}

template <class OpA, class OpB>
struct Problem {
  int M, N, Kred;
  OpA a;
  OpB b;
};

// forward: M = N*P*Q output pixels, N = K, Kred = R*S*C; A = im2col(x), B = w as (K, R*S*C).
inline Problem<ConvFwdA, RowMajorK> conv_fwd_problem(const Conv2dParams& p, const float* x, const float* w) {
  const int Kred = p.R * p.S * p.C;
  return {p.N * p.P() * p.Q(), p.K, Kred, ConvFwdA{x, conv_geom(p), p.C % 4 == 0 && is_aligned16(x)},
          RowMajorK{w, Kred, p.K, Kred, Kred % 4 == 0 && is_aligned16(w)}};
}
// backward-data: M = N*H*W input pixels, N = C, Kred = R*S*K; A = gather(dy), B = wT as
// (C, R*S*K) with wT[c][r][s][k] = w[k][r][s][c].
inline Problem<ConvBwdDataA, RowMajorK> conv_bwd_data_problem(const Conv2dParams& p, const float* dy,
                                                              const float* wT) {
  const int Kred = p.R * p.S * p.K;
  return {p.N * p.H * p.W, p.C, Kred, ConvBwdDataA{dy, conv_geom(p), p.K % 4 == 0 && is_aligned16(dy)},
          RowMajorK{wT, Kred, p.C, Kred, Kred % 4 == 0 && is_aligned16(wT)}};
}
// backward-weight: M = K, N = R*S*C, Kred = N*P*Q; A = dy^T (dy is (N*P*Q, K)), B = im2col(x).
inline Problem<RowMajorMN, ConvBwdWeightB> conv_bwd_weight_problem(const Conv2dParams& p, const float* x,
                                                                   const float* dy) {
  const int npix = p.N * p.P() * p.Q();
  return {p.K, p.R * p.S * p.C, npix, RowMajorMN{dy, p.K, p.K, npix, p.K % 4 == 0 && is_aligned16(dy)},
          ConvBwdWeightB{x, conv_geom(p), p.C % 4 == 0 && is_aligned16(x)}};
}

// Calls f(Problem<OpA, OpB>) with the operand types matching the transpose flags:
// op(A)(m, k) = A[m*lda + k] (RowMajorK) or A[k*lda + m] (RowMajorMN); op(B)(k, n) =
// B[k*ldb + n] (RowMajorMN) or B[n*ldb + k] (RowMajorK). 16-byte copies need an aligned base
// and a multiple-of-4 leading dimension and contiguous extent.
template <class F>
void with_gemm_problem(const GemmParams& p, const float* A, const float* B, F&& f) {
  const bool a_vec = is_aligned16(A) && p.lda % 4 == 0 && (p.transA ? p.M : p.K) % 4 == 0;
  const bool b_vec = is_aligned16(B) && p.ldb % 4 == 0 && (p.transB ? p.K : p.N) % 4 == 0;
  if (!p.transA && !p.transB)
    f(Problem<RowMajorK, RowMajorMN>{p.M, p.N, p.K, {A, p.lda, p.M, p.K, a_vec}, {B, p.ldb, p.N, p.K, b_vec}});
  else if (!p.transA && p.transB)
    f(Problem<RowMajorK, RowMajorK>{p.M, p.N, p.K, {A, p.lda, p.M, p.K, a_vec}, {B, p.ldb, p.N, p.K, b_vec}});
  else if (p.transA && !p.transB)
    f(Problem<RowMajorMN, RowMajorMN>{p.M, p.N, p.K, {A, p.lda, p.M, p.K, a_vec}, {B, p.ldb, p.N, p.K, b_vec}});
  else
    f(Problem<RowMajorMN, RowMajorK>{p.M, p.N, p.K, {A, p.lda, p.M, p.K, a_vec}, {B, p.ldb, p.N, p.K, b_vec}});
}

}  // namespace srgan::kern::cuda::tg
