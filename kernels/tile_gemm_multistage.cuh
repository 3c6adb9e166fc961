// The multistage tensor-core GEMM behind conv2d v4 (TF32) and v5 (BF16; internal to kernels/*.cu): the same
// implicit-GEMM view as tile_gemm.cuh (C[m, n] = sum_kk A[m, kk] * B[kk, n]), rebuilt for the
// main loop's instruction count (docs/kernels.md, "v4"):
//   * operand iterators without division: each thread computes its rows' base offsets once per
//     block; the reduction position (r, s, c) then moves by BK = 32 per k-step with additions
//     and one compare per wrap, and the element offset moves with it;
//   * block tiles BM x BN = 128 x 128 (8 warps) or 128 x 64 (4 warps), each warp 64 x 32 =
//     4 x 4 mma.m16n8k8 tiles; fragments come from shared memory by ldmatrix (4 LDSM.x4 for A,
//     2 for B per 8 of reduction, 16 mma);
//   * shared tiles [rows][BK + 4]: a row is 144 bytes, so the 8 rows an ldmatrix matrix reads
//     (and the 8 16-byte pieces a quarter-warp's cp.async writes) fall in 8 different bank
//     groups: one wavefront per matrix;
//   * STAGES (3) cp.async stages and one __syncthreads per k-step: the barrier that makes step
//     kt's tiles visible also tells every thread that step kt-1's stage is free, and that stage
//     is refilled (with step kt + STAGES - 1) right after it;
//   * TF32 by truncation: the fp32 values go to the tensor core as they are, and it reads only
//     their TF32 bits (sign, exponent, 10 mantissa bits), i.e. rounds toward zero. nvcc's own
//     cvt.rna.tf32.f32 compiles on sm_90 to an add of 0x1000 without clearing the low bits
//     (FSETP + IADD in SASS), which relies on the same thing; skipping it saves two instructions
//     per fragment element (24 per 16 mma here). Error per input <= 2^-10 relative, v3's
//     cvt.rna <= 2^-11;
//   * or BF16 (v5, template parameter Mma): the same reads for two k8 halves, two values packed
//     per register by cvt.rn.bf16x2 into mma.m16n8k16 fragments (bf16_a_frag: a permuted
//     reduction), fp32 accumulation; error per input <= 2^-8 relative.
// Split-K: blockIdx.z takes a range of k-steps; the epilogue hears which split it is.
// Operands must allow 16-byte copies (the host checks C % 4, K % 4 and alignment).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#include <stdexcept>

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::tg4 {

constexpr int kBK = 32;        // reduction per k-step
constexpr int kLd = kBK + 4;   // floats per shared row (144 bytes)
constexpr int kStages = 3;
constexpr int kWarpM = 64, kWarpN = 32;

// The pointer as it is: the compiler may not fold it back into base + offset (it would then
// redo the 64-bit address arithmetic in the main loop; keeping the row pointer makes each copy's
// address one IMAD.WIDE).
__device__ __forceinline__ const float* opaque(const float* p) {
#ifndef SRGAN_CUDA_EMU
  asm("" : "+l"(p));
#endif
  return p;
}

// Rows of a (BMN x BK) tile that one of NT threads copies: thread t copies 16-byte vector
// t % 8 of rows t / 8 + i * NT / 8.
template <int BMN, int NT>
struct TileRows {
  static constexpr int kStep = NT / 8;
  static constexpr int kRows = BMN / kStep;
  static_assert(BMN % kStep == 0, "tile/thread mismatch");
};

// ---- operand iterators ---------------------------------------------------------------------
// Each has a Params (host-built, passed to the kernel) and a per-thread state built from
// (params, first row/column of the block, thread index, first k-step) that
//   load(tile)  issues this thread's cp.async copies of the current k-step into `tile`
//               ([BMN][kLd]), zero-filling what lies outside the operand;
//   next()      moves to the next k-step.

// Implicit im2col of an NHWC tensor, forward or backward-data (stride 1, or one phase of a
// strided one: conv2d_strided_dgrad_cuda.cuh):
//   forward:        rows m = (n, p, q), kk = (r, s, c): x[n, p*st - pad_h + r, q*st - pad_w + s, c]
//   backward-data:  rows m = (n, h, w), kk = (r, s, k): dy[n, h + pad_h - r, w + pad_w - s, k]
// Both are base + row_off + SIGN * (r * Win + s) * C + c with the row's pixel (h0 + SIGN r,
// w0 + SIGN s) inside [0, Hin) x [0, Win); SIGN = +1 forward, -1 backward.
// Validity without per-step arithmetic: each row keeps a mask with bit r set where h0 + SIGN r is
// inside the image and bit 16 + s where w0 + SIGN s is; the thread keeps want = bit r | bit 16+s
// of its current (r, s), and a row's element is there when (mask & want) == want (r >= R finds
// no bit: the reduction's tail is zero too). Needs R, S <= 15 and C >= 32 (the host checks).
struct ImplicitA {
  struct Params {
    const float* base;
    int rows;            // M
    int Hin, Win, C;     // the gathered tensor's H, W and channels
    int R, S;
    int Hout, Wout;      // the row index's spatial extent (P, Q forward; H, W backward)
    int stride;          // forward only
    int pad_h, pad_w;    // forward: the padding; backward-data: dy's row / column offset
    int sign;            // +1 forward, -1 backward-data
  };
};

template <int BMN, int NT>
struct ImplicitAIter {
  using TR = TileRows<BMN, NT>;
  const float* row[TR::kRows];  // the row's (h0, w0, channel 0), maybe outside the tensor (padding)
  uint32_t hole[TR::kRows];     // ~mask: invalid r in bits 0-15, invalid s in bits 16-31
  int C, S;
  int r, s, c;     // this thread's reduction position
  uint32_t want;   // bit r | bit 16 + s
  int koff;        // SIGN * (r * Win + s) * C + c
  int s_wrap;      // koff change when s wraps to 0 and r moves on: SIGN * (Win - S) * C
  int c_wrap;      // koff change when c wraps and s moves on: 0 forward, -2C backward
  int dst0;        // this thread's first destination in a tile (floats)

  __device__ ImplicitAIter(const ImplicitA::Params& p, int m0, int tid, int kt0) : C(p.C), S(p.S) {
    const int kv = tid % 8, row0 = tid / 8;
    dst0 = row0 * kLd + kv * 4;
    const int HWo = p.Hout * p.Wout;
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const int m = m0 + row0 + i * TR::kStep;
      row[i] = p.base, hole[i] = ~0u;  // a row past M: nothing valid
      if (m >= p.rows) continue;
      uint32_t mask = 0;
      const int n = m / HWo, hw = m - n * HWo, ho = hw / p.Wout, wo = hw - ho * p.Wout;
      const int h0 = p.sign > 0 ? ho * p.stride - p.pad_h : ho + p.pad_h;
      const int w0 = p.sign > 0 ? wo * p.stride - p.pad_w : wo + p.pad_w;
      row[i] = opaque(p.base + (n * p.Hin * p.Win + h0 * p.Win + w0) * C);
      for (int t = 0; t < p.R; ++t)
        if (unsigned(h0 + p.sign * t) < unsigned(p.Hin)) mask |= 1u << t;
      for (int t = 0; t < p.S; ++t)
        if (unsigned(w0 + p.sign * t) < unsigned(p.Win)) mask |= 1u << (16 + t);
      hole[i] = ~mask;
    }
    const int kk = kt0 * kBK + kv * 4;
    const int SC = S * C;
    r = kk / SC;
    s = (kk - r * SC) / C;
    c = kk - r * SC - s * C;
    want = (1u << r) | (1u << (16 + s));
    koff = p.sign * (r * p.Win + s) * C + c;
    s_wrap = p.sign * (p.Win - S) * C;
    c_wrap = p.sign > 0 ? 0 : -2 * C;
  }

  // A zero-filled copy (src-size 0) reads nothing, so its source address may lie outside the
  // tensor (a padding position): no select, as CUTLASS's iterators do.
  __device__ __forceinline__ void load(float* tile) const {
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const bool ok = (want & hole[i]) == 0;  // one LOP3 with a predicate result
      cp_async16(tile + dst0 + i * TR::kStep * kLd, row[i] + koff, ok);
    }
  }

  // C >= kBK (the host checks), so c wraps at most once per step; want follows with shifts
  // (r reaches at most R <= 15 after the last step: bit 15 at most, in no mask).
  __device__ __forceinline__ void next() {
    c += kBK;
    koff += kBK;
    if (c < C) return;
    c -= C;
    koff += c_wrap;
    if (++s == S) {
      s = 0;
      koff += s_wrap;
      want = ((want & 0xffffu) << 1) | 0x10000u;  // r + 1, s = 0
    } else {
      want += want & 0xffff0000u;  // s + 1
    }
  }
};

// Row-major (rows x ld) matrix with the reduction index contiguous: element (row, kk) =
// base[row * ld + kk], zero for row >= rows or kk >= kred.
struct RowMajorKA {
  struct Params {
    const float* base;
    int rows, ld, kred;
  };
};

template <int BMN, int NT>
struct RowMajorKIter {
  using TR = TileRows<BMN, NT>;
  const float* row[TR::kRows];  // rows past the end read row 0: their columns are never stored
  int kred, kk, dst0;

  __device__ RowMajorKIter(const RowMajorKA::Params& p, int n0, int tid, int kt0) : kred(p.kred) {
    const int kv = tid % 8, row0 = tid / 8;
    dst0 = row0 * kLd + kv * 4;
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const int n = n0 + row0 + i * TR::kStep;
      row[i] = opaque(p.base + (n < p.rows ? int64_t(n) * p.ld : 0));
    }
    kk = kt0 * kBK + kv * 4;
  }
  // Past the reduction's end (the last step) the copies zero-fill and read nothing.
  __device__ __forceinline__ void load(float* tile) const {
    const bool ok = kk < kred;
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) cp_async16(tile + dst0 + i * TR::kStep * kLd, row[i] + kk, ok);
  }
  __device__ __forceinline__ void next() { kk += kBK; }
};

template <class P, int BMN, int NT> struct IterOf;
template <int BMN, int NT> struct IterOf<ImplicitA::Params, BMN, NT> { using type = ImplicitAIter<BMN, NT>; };
template <int BMN, int NT> struct IterOf<RowMajorKA::Params, BMN, NT> { using type = RowMajorKIter<BMN, NT>; };

// ---- the kernel -------------------------------------------------------------------------------

__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef SRGAN_CUDA_EMU
  const uint32_t b[2] = {b0, b1};
  ::srgan::emu::mma_m16n8k8_tf32(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// The tensor cores' input type, a template parameter of both kernels (the same tiles, copies and
// iterators): TF32 by truncation, mma.m16n8k8; or BF16, mma.m16n8k16 (twice the multiply-adds
// per instruction, twice the rate on Hopper), each fp32 operand rounded to bfloat16 (8
// significant bits, to nearest even) as the fragment is formed: cvt.rn.bf16x2 packs two.
enum class Mma { tf32, bf16 };

// fp32 (lo, hi) -> one register of two bf16, lo in the lower half (cvt.rn.bf16x2 puts its first
// source in the upper half).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
#ifdef SRGAN_CUDA_EMU
  return ::srgan::emu::cvt_rn_bf16x2(hi, lo);
#else
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}
__device__ __forceinline__ uint32_t pack_bf16x2(uint32_t lo, uint32_t hi) {
#ifdef SRGAN_CUDA_EMU
  float l, h;
  __builtin_memcpy(&l, &lo, 4);
  __builtin_memcpy(&h, &hi, 4);
  return pack_bf16x2(l, h);
#else
  return pack_bf16x2(__uint_as_float(lo), __uint_as_float(hi));
#endif
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef SRGAN_CUDA_EMU
  const uint32_t b[2] = {b0, b1};
  ::srgan::emu::mma_m16n8k16_bf16(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// BF16 fragments from the TF32 ones of two k8 halves, by permuting the reduction (the sum does
// not see the order, only that A and B agree): a TF32 fragment gives lane (g, t) the physical
// columns t and t + 4 of each k8, and m16n8k16 wants logical columns (2t, 2t+1) and (2t+8, 2t+9)
// in a lane; so logical 2t, 2t+1, 2t+8, 2t+9 are physical t, t+4, 8+t, 12+t of the k16 step.
//   A: tf32 lo/hi = {(g, t), (g+8, t), (g, t+4), (g+8, t+4)} of k 0-7 / 8-15.
__device__ __forceinline__ void bf16_a_frag(uint32_t (&af)[4], const uint32_t (&lo)[4], const uint32_t (&hi)[4]) {
  af[0] = pack_bf16x2(lo[0], lo[2]);  // row g,     logical k 2t, 2t+1
  af[1] = pack_bf16x2(lo[1], lo[3]);  // row g + 8
  af[2] = pack_bf16x2(hi[0], hi[2]);  // row g,     logical k 2t+8, 2t+9
  af[3] = pack_bf16x2(hi[1], hi[3]);  // row g + 8
}

// The pipeline's prologue, shared by both kernels: k-steps kt0 .. kt0 + STAGES - 2 put in flight
// into stages 0 .. STAGES - 2 (a_stage / b_stage floats apart), one cp.async group each (an empty
// group past kt1, so the main loop's wait counts stay fixed).
template <int STAGES, class IA, class IB>
__device__ __forceinline__ void fill_pipeline(IA& ia, float* As, int a_stage, IB& ib, float* Bs, int b_stage, int kt0,
                                              int kt1) {
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (kt0 + st < kt1) {
      ia.load(As + st * a_stage);
      ib.load(Bs + st * b_stage);
      ia.next();
      ib.next();
    }
    cp_async_commit();
  }
}

template <int BM, int BN>
constexpr int threads_of() { return (BM / kWarpM) * (BN / kWarpN) * 32; }
template <int BM, int BN>
constexpr int smem_bytes_of() { return kStages * (BM + BN) * kLd * 4; }

template <Mma P, int BM, int BN, class PA, class PB, class Epi>
__global__ void __launch_bounds__(threads_of<BM, BN>(), 1)
tile_gemm_multistage_kernel(int M, int N, int Kred, int kt_per_split, PA pa, PB pb, Epi epi) {
  constexpr int NT = threads_of<BM, BN>(), WARPS_N = BN / kWarpN;
  constexpr int MI = kWarpM / 16, NJ = kWarpN / 8;  // 4 x 4 mma tiles per warp
  extern __shared__ __align__(16) float smem[];
  float* const As = smem;                          // [kStages][BM][kLd]
  float* const Bs = smem + kStages * BM * kLd;     // [kStages][BN][kLd]

  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int m0 = int(blockIdx.x) * BM, n0 = int(blockIdx.y) * BN;
  int kt0, kt1;
  tg::split_range(Kred, kBK, kt_per_split, int(blockIdx.z), kt0, kt1);
  typename IterOf<PA, BM, NT>::type ia(pa, m0, tid, kt0);
  typename IterOf<PB, BN, NT>::type ib(pb, n0, tid, kt0);

  // This lane's ldmatrix row in stage 0 for k8 step 0 (later steps add 8 floats, later m/n
  // tiles 16 rows: immediate offsets); moved from stage to stage with the read index.
  const int wm0 = (warp / WARPS_N) * kWarpM, wn0 = (warp % WARPS_N) * kWarpN;
  const float* a_frag = As + (wm0 + (lane & 7) + ((lane >> 3) & 1) * 8) * kLd + (lane >> 4) * 4;
  const float* b_frag = Bs + (wn0 + (lane >> 4) * 8 + (lane & 7)) * kLd + ((lane >> 3) & 1) * 4;

  float acc[MI][NJ][4];
  tg::zero_accumulators(acc);

  fill_pipeline<kStages>(ia, As, BM * kLd, ib, Bs, BN * kLd, kt0, kt1);
  // The main loop, unrolled by the stage count so every stage address is a constant offset:
  // sub-step st reads stage st and refills stage st - 1 (mod kStages), the one step kt - 1 read.
  for (int kt = kt0; kt < kt1; kt += kStages) {
#pragma unroll
    for (int st = 0; st < kStages; ++st) {
      if (kt + st >= kt1) break;
      cp_async_wait<kStages - 2>();  // this thread's copies of step kt + st have landed
      __syncthreads();               // everyone's have; everyone is done with the previous step
      const int ws = st == 0 ? kStages - 1 : st - 1;
      if (kt + st + kStages - 1 < kt1) {
        ia.load(As + ws * BM * kLd);
        ib.load(Bs + ws * BN * kLd);
        ia.next();
        ib.next();
      }
      cp_async_commit();
      const float* as = a_frag + st * BM * kLd;
      const float* bs = b_frag + st * BN * kLd;
      if constexpr (P == Mma::tf32) {
#pragma unroll
        for (int k8 = 0; k8 < kBK; k8 += 8) {
          uint32_t af[MI][4], bf[NJ / 2][4];
#pragma unroll
          for (int i = 0; i < MI; ++i) ldmatrix<4>(af[i], as + i * 16 * kLd + k8);
#pragma unroll
          for (int jj = 0; jj < NJ / 2; ++jj) ldmatrix<4>(bf[jj], bs + jj * 16 * kLd + k8);
#pragma unroll
          for (int i = 0; i < MI; ++i)
#pragma unroll
            for (int j = 0; j < NJ; ++j)
              mma_tf32(acc[i][j], af[i], bf[j / 2][(j & 1) * 2], bf[j / 2][(j & 1) * 2 + 1]);
        }
      } else {
        // BF16: the same ldmatrix reads for two k8 halves, packed (bf16_a_frag): 12 LDSM, 24
        // conversions and 16 mma.m16n8k16 per 16 of reduction.
#pragma unroll
        for (int k16 = 0; k16 < kBK; k16 += 16) {
          uint32_t af[MI][4], bf[NJ][2];
#pragma unroll
          for (int i = 0; i < MI; ++i) {
            uint32_t lo[4], hi[4];
            ldmatrix<4>(lo, as + i * 16 * kLd + k16);
            ldmatrix<4>(hi, as + i * 16 * kLd + k16 + 8);
            bf16_a_frag(af[i], lo, hi);
          }
#pragma unroll
          for (int jj = 0; jj < NJ / 2; ++jj) {
            uint32_t lo[4], hi[4];  // n tiles 2jj, 2jj + 1: {(t, g), (t+4, g)} each, of k 0-7 / 8-15
            ldmatrix<4>(lo, bs + jj * 16 * kLd + k16);
            ldmatrix<4>(hi, bs + jj * 16 * kLd + k16 + 8);
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              bf[2 * jj + h][0] = pack_bf16x2(lo[2 * h], lo[2 * h + 1]);  // logical k 2t, 2t+1
              bf[2 * jj + h][1] = pack_bf16x2(hi[2 * h], hi[2 * h + 1]);  // logical k 2t+8, 2t+9
            }
          }
#pragma unroll
          for (int i = 0; i < MI; ++i)
#pragma unroll
            for (int j = 0; j < NJ; ++j) mma_bf16(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
      }
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + wm0 + i * 16 + tg::mma_c_row(lane, e);
        const int n = n0 + wn0 + j * 8 + tg::mma_c_col(lane, e);
        if (m < M && n < N) epi(m, n, acc[i][j][e], int(blockIdx.z));
      }
}

// ---- the mn-contiguous flavour (backward-weight) ------------------------------------------------
// Backward-weight reduces over pixels, and both its operands are contiguous along their row /
// column index, not along the reduction: A = dy^T (dy is (pixels, K)), B = im2col(x)^T along
// (r, s, c). ldmatrix cannot transpose 32-bit elements, so tiles are stored [BK][BMN] (one
// reduction index per row) and fragments are read with LDS.128 after two permutations that the
// sum does not see:
//   rows: a warp's 64 rows are read as 8 per lane, natural rows wm0 + 8g .. + 7 for lane group
//     g = lane / 4; fragment row g of m16 tile i is natural row 8g + 2i, row g + 8 is 8g + 2i + 1;
//   columns: natural columns wn0 + 4g .. + 3; column g of n8 tile j is natural 4g + j.
// So A needs 4 LDS.128 and B 2 per 8 of reduction (16 mma), and the epilogue maps back.
// Banks: 16-byte chunk q of reduction row k is stored at chunk q ^ swz(k), swz_A(k) in
// {0, 1, 4, 5}, swz_B(k) in {0, 2, 4, 6} by k mod 4: the 8 lanes of each LDS.128 phase (g in
// {0, 1}, t = k mod 4 in 0..3) then hit 8 different bank groups, and a copy's 8 consecutive
// chunks of one row stay 8 different ones.

__device__ __forceinline__ uint32_t bits(float f) {
#ifdef SRGAN_CUDA_EMU
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
#else
  return __float_as_uint(f);
#endif
}

__device__ __forceinline__ int swz_a(int k) { return (k & 1) | ((k & 2) << 1); }
__device__ __forceinline__ int swz_b(int k) { return (k & 3) << 1; }

// Thread t copies 16-byte chunk t % (BMN / 4) of reduction rows t / (BMN / 4) + i * NT / (BMN / 4).
template <int BMN, int NT>
struct MnRows {
  static constexpr int kChunks = BMN / 4;
  static constexpr int kStep = NT / kChunks;
  static constexpr int kRows = kBK / kStep;
  static_assert(NT % kChunks == 0 && kBK % kStep == 0, "tile/thread mismatch");
};

// A of backward-weight: element (m = output channel, kk = pixel) = dy[pixel * K + m].
struct DyT {
  struct Params {
    const float* dy;
    int K, pixels;
  };
};

template <int BMN, int NT, int SW>
struct DyTIter {
  using TR = MnRows<BMN, NT>;
  const float* ptr;  // row 0's chunk, this k-step
  int64_t step;      // kBK rows of dy
  int row_stride;    // TR::kStep rows of dy, in floats
  int left;          // pixels from this thread's first row to the end (<= 0: none)
  bool col_ok;
  int dst[TR::kRows];

  __device__ DyTIter(const DyT::Params& p, int m0, int tid, int kt0) {
    const int q = tid % TR::kChunks, r0 = tid / TR::kChunks;
    const int m = m0 + 4 * q;
    col_ok = m < p.K;
    const int pix = kt0 * kBK + r0;
    ptr = p.dy + int64_t(pix) * p.K + (col_ok ? m : 0);
    step = int64_t(kBK) * p.K;
    row_stride = TR::kStep * p.K;
    left = p.pixels - pix;
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const int k = r0 + i * TR::kStep;
      dst[i] = k * BMN + 4 * (q ^ (SW == 0 ? swz_a(k) : swz_b(k)));
    }
  }
  __device__ __forceinline__ void load(float* tile) const {
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const bool ok = col_ok && i * TR::kStep < left;
      cp_async16(tile + dst[i], ptr + i * row_stride, ok);
    }
  }
  __device__ __forceinline__ void next() {
    ptr += step;
    left -= kBK;
  }
};

// B of backward-weight: element (kk = pixel (img, p, q), n = (r, s, c)) =
// x[img, p*st - pad + r, q*st - pad + s, c]. The thread's column chunk (r, s, c) is fixed; each
// of its rows keeps its pixel as (img, hb = p*st - pad, wb = q*st - pad) and the element offset
// of that origin, and moves kBK pixels on per k-step by additions.
struct XCol {
  struct Params {
    const float* x;
    int N, H, W, C, R, S, P, Q, stride, pad;
  };
};

template <int BMN, int NT, int SW>
struct XColIter {
  using TR = MnRows<BMN, NT>;
  const float* x;
  int koff;  // (r * W + s) * C + c of this thread's column chunk
  int rr, ss;
  bool col_ok;
  int img[TR::kRows], hb[TR::kRows], wb[TR::kRows], off[TR::kRows];
  int dst[TR::kRows];
  int N, H, W, C, Q, st, wend, hend, hp, wstep, hwrap, imgwrap, wq;

  __device__ XColIter(const XCol::Params& p, int n0, int tid, int kt0)
      : x(p.x), N(p.N), H(p.H), W(p.W), C(p.C), Q(p.Q), st(p.stride) {
    const int q = tid % TR::kChunks, r0 = tid / TR::kChunks;
    const int n = n0 + 4 * q;
    col_ok = n < p.R * p.S * p.C;
    const int SC = p.S * p.C;
    rr = col_ok ? n / SC : 0;
    ss = col_ok ? (n - rr * SC) / p.C : 0;
    const int c = col_ok ? n - rr * SC - ss * p.C : 0;
    koff = (rr * W + ss) * C + c;
    wend = p.Q * st - p.pad;          // wb past the row's last output column
    hend = p.P * st - p.pad;
    hp = p.P * st;
    wstep = kBK * st;                 // wb per k-step (kBK pixels on, before wraps)
    wq = p.Q * st;                    // wb back by this on a wrap
    hwrap = (st * W - p.Q * st) * C;  // offset change of a wrap to the next output row
    imgwrap = (H * W - p.P * st * W) * C;  // ... to the next image
    const int PQ = p.P * p.Q;
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const int k = r0 + i * TR::kStep;
      dst[i] = k * BMN + 4 * (q ^ (SW == 0 ? swz_a(k) : swz_b(k)));
      const int pix = kt0 * kBK + k;
      img[i] = pix / PQ;
      const int pq = pix - img[i] * PQ, pp = pq / p.Q, qq = pq - pp * p.Q;
      hb[i] = pp * st - p.pad;
      wb[i] = qq * st - p.pad;
      off[i] = ((img[i] * H + hb[i]) * W + wb[i]) * C;
    }
  }
  __device__ __forceinline__ void load(float* tile) const {
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      const bool ok = col_ok && img[i] < N && unsigned(hb[i] + rr) < unsigned(H) && unsigned(wb[i] + ss) < unsigned(W);
      cp_async16(tile + dst[i], x + (off[i] + koff), ok);
    }
  }
  __device__ __forceinline__ void next() {
#pragma unroll
    for (int i = 0; i < TR::kRows; ++i) {
      wb[i] += wstep;
      off[i] += wstep * C;
      while (wb[i] >= wend) {  // once per output row passed (Q >= kBK: at most once)
        wb[i] -= wq;
        hb[i] += st;
        off[i] += hwrap;
        if (hb[i] >= hend) {  // past the last output row: the next image's first
          hb[i] -= hp;
          ++img[i];
          off[i] += imgwrap;
        }
      }
    }
  }
};

template <class P, int BMN, int NT, int SW> struct MnIterOf;
template <int BMN, int NT, int SW> struct MnIterOf<DyT::Params, BMN, NT, SW> { using type = DyTIter<BMN, NT, SW>; };
template <int BMN, int NT, int SW> struct MnIterOf<XCol::Params, BMN, NT, SW> { using type = XColIter<BMN, NT, SW>; };

// Four consecutive outputs (m, n .. n + 3) of the backward-weight GEMM, n % 4 == 0. Split-K
// partials (its usual epilogue) go in one 16-byte store where all four are in range and the row
// is 16-byte aligned: a warp's store then writes 8 rows x 64 bytes, 32 sectors for 512 bytes,
// where four scalar stores wrote 32 sectors for 128 bytes each. Other epilogues, one at a time.
template <class Epi>
__device__ __forceinline__ void store4(const Epi& epi, int m, int n, int N, const float (&v)[4], int split) {
  if constexpr (std::is_same_v<Epi, tg::PartialEpi>) {
    float* const dst = epi.part + int64_t(split) * epi.split_stride + int64_t(m) * epi.ldc + n;
    if (n + 3 < N && (reinterpret_cast<uintptr_t>(dst) & 15) == 0) return st4(dst, 0, make_float4(v[0], v[1], v[2], v[3]));
  }
#pragma unroll
  for (int j = 0; j < 4; ++j)
    if (n + j < N) epi(m, n + j, v[j], split);
}

template <Mma P, int BM, int BN, class PA, class PB, class Epi>
__global__ void __launch_bounds__(threads_of<BM, BN>(), 1)
tile_gemm_multistage_mn_kernel(int M, int N, int Kred, int kt_per_split, PA pa, PB pb, Epi epi) {
  constexpr int NT = threads_of<BM, BN>(), WARPS_N = BN / kWarpN;
  constexpr int MI = kWarpM / 16, NJ = kWarpN / 8;
  extern __shared__ __align__(16) float smem[];
  float* const As = smem;                       // [kStages][kBK][BM], chunks swizzled
  float* const Bs = smem + kStages * kBK * BM;  // [kStages][kBK][BN]

  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int m0 = int(blockIdx.x) * BM, n0 = int(blockIdx.y) * BN;
  int kt0, kt1;
  tg::split_range(Kred, kBK, kt_per_split, int(blockIdx.z), kt0, kt1);
  typename MnIterOf<PA, BM, NT, 0>::type ia(pa, m0, tid, kt0);
  typename MnIterOf<PB, BN, NT, 1>::type ib(pb, n0, tid, kt0);

  const int wm0 = (warp / WARPS_N) * kWarpM, wn0 = (warp % WARPS_N) * kWarpN;
  // Lane reads, for reduction row k = k8 + t (+4): A chunks wm0/4 + 2g (+1), B chunk wn0/4 + g,
  // swizzled by k mod 4 = t.
  const int a_off0 = 4 * ((wm0 / 4 + 2 * g) ^ swz_a(t)), a_off1 = 4 * ((wm0 / 4 + 2 * g + 1) ^ swz_a(t));
  const int b_off = 4 * ((wn0 / 4 + g) ^ swz_b(t));

  float acc[MI][NJ][4];
  tg::zero_accumulators(acc);

  fill_pipeline<kStages>(ia, As, kBK * BM, ib, Bs, kBK * BN, kt0, kt1);
  for (int kt = kt0; kt < kt1; kt += kStages) {
#pragma unroll
    for (int st = 0; st < kStages; ++st) {
      if (kt + st >= kt1) break;
      cp_async_wait<kStages - 2>();
      __syncthreads();
      const int ws = st == 0 ? kStages - 1 : st - 1;
      if (kt + st + kStages - 1 < kt1) {
        ia.load(As + ws * kBK * BM);
        ib.load(Bs + ws * kBK * BN);
        ia.next();
        ib.next();
      }
      cp_async_commit();
      const float* as = As + st * kBK * BM;
      const float* bs = Bs + st * kBK * BN;
      // This lane's values of reduction rows k + t and k + t + 4 (h = 0, 1): A rows 8g..8g+7
      // (natural order), B columns 4g..4g+3.
      auto read = [&](int k, float (&av)[2][8], float (&bv)[2][4]) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float* ar = as + (k + t + 4 * h) * BM;
          const float4 lo = lds128(ar + a_off0), hi = lds128(ar + a_off1);
          const float4 b = lds128(bs + (k + t + 4 * h) * BN + b_off);
          av[h][0] = lo.x, av[h][1] = lo.y, av[h][2] = lo.z, av[h][3] = lo.w;
          av[h][4] = hi.x, av[h][5] = hi.y, av[h][6] = hi.z, av[h][7] = hi.w;
          bv[h][0] = b.x, bv[h][1] = b.y, bv[h][2] = b.z, bv[h][3] = b.w;
        }
      };
      if constexpr (P == Mma::tf32) {
#pragma unroll
        for (int k8 = 0; k8 < kBK; k8 += 8) {
          float av[2][8], bv[2][4];
          read(k8, av, bv);
#pragma unroll
          for (int i = 0; i < MI; ++i) {
            const uint32_t af[4] = {bits(av[0][2 * i]), bits(av[0][2 * i + 1]), bits(av[1][2 * i]),
                                    bits(av[1][2 * i + 1])};
#pragma unroll
            for (int j = 0; j < NJ; ++j) mma_tf32(acc[i][j], af, bits(bv[0][j]), bits(bv[1][j]));
          }
        }
      } else {
        // BF16: two k8 halves packed as in bf16_a_frag (physical k t, t+4 of a half are logical
        // 2t, 2t+1): 12 LDS.128, 24 conversions, 16 mma.m16n8k16 per 16 of reduction.
#pragma unroll
        for (int k16 = 0; k16 < kBK; k16 += 16) {
          float alo[2][8], blo[2][4], ahi[2][8], bhi[2][4];
          read(k16, alo, blo);
          read(k16 + 8, ahi, bhi);
          uint32_t bf[NJ][2];
#pragma unroll
          for (int j = 0; j < NJ; ++j) bf[j][0] = pack_bf16x2(blo[0][j], blo[1][j]), bf[j][1] = pack_bf16x2(bhi[0][j], bhi[1][j]);
#pragma unroll
          for (int i = 0; i < MI; ++i) {
            const uint32_t af[4] = {pack_bf16x2(alo[0][2 * i], alo[1][2 * i]), pack_bf16x2(alo[0][2 * i + 1], alo[1][2 * i + 1]),
                                    pack_bf16x2(ahi[0][2 * i], ahi[1][2 * i]), pack_bf16x2(ahi[0][2 * i + 1], ahi[1][2 * i + 1])};
#pragma unroll
            for (int j = 0; j < NJ; ++j) mma_bf16(acc[i][j], af, bf[j][0], bf[j][1]);
          }
        }
      }
    }
  }
  cp_async_wait<0>();

  // Element e of tile (i, j) is (m, n) = (8 g + 2 i + e / 2, 4 (2 t + e % 2) + j) from the warp's
  // corner: for each of its rows a lane holds 8 consecutive columns, two runs of j = 0..3.
  static_assert(NJ == 4, "a run of 4 columns is the NJ tiles");
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int m = m0 + wm0 + 8 * g + 2 * i + (e >> 1);
      const int n = n0 + wn0 + 4 * (2 * t + (e & 1));
      const float v[4] = {acc[i][0][e], acc[i][1][e], acc[i][2][e], acc[i][3][e]};
      if (m < M) store4(epi, m, n, N, v, int(blockIdx.z));
    }
}

// ---- host side ----------------------------------------------------------------------------------

// Split count from the shape only: tg::plan_split_k's cost model with this GEMM's blocks (1 an
// SM for 128 x 128, 2 for 128 x 64, 3 for 64 x 128) and k-steps (0.35 us for 128 x 128 x 32 at
// 398 TFLOP/s over 132 SMs). Each split at least 4 k-steps, at most max_splits. (The first rule,
// about two blocks per SM, split the discriminator's 6 x 6 512->512 forward 14 ways, and its
// partials then cost more than the GEMM.) Small problems, whose partials are cheap, still split
// as far as the k-steps allow. Where the tiles alone fill every SM there is no split: these
// launches are bound by L2 or DRAM, which the model leaves out, and by wave rounding alone it
// split VGG conv1_1's backward-data (1,152 tiles) in 2, making it slower.
inline tg::SplitPlan plan_splits(int M, int N, int Kred, int BM, int BN, int max_splits) {
  const int64_t tiles = int64_t((M + BM - 1) / BM) * ((N + BN - 1) / BN);
  const int ktiles = (Kred + kBK - 1) / kBK;
  const int per_sm = BM * BN >= 128 * 128 ? 1 : (BM == 128 ? 2 : 3);
  const int max_s = tiles >= 132 * per_sm ? 1 : std::min((ktiles + 3) / 4, max_splits);
  return tg::plan_split_k(tiles, per_sm, ktiles, double(BM) * BN * kBK / 1.508e6, int64_t(M) * N, max_s);
}

// 128 x 128 tiles when N > 64, else 128 x 64.
inline int block_n_for(int N) { return N > 64 ? 128 : 64; }

template <Mma P, int BM, int BN, class PA, class PB, class Epi>
void launch_multistage_tile(int M, int N, int Kred, const tg::SplitPlan& sp, const PA& pa, const PB& pb,
                            const Epi& epi, cudaStream_t s) {
  constexpr int smem = smem_bytes_of<BM, BN>();
  allow_dynamic_smem<&tile_gemm_multistage_kernel<P, BM, BN, PA, PB, Epi>>(smem);
  const int64_t gx = (int64_t(M) + BM - 1) / BM, gy = (int64_t(N) + BN - 1) / BN;
  if (gx < 1 || gy < 1) return;
  if (gy > 65535 || sp.splits > 65535 || gx > 2147483647)
    throw std::invalid_argument("tile_gemm_multistage: problem too large for the grid");
  const dim3 grid(unsigned(gx), unsigned(gy), unsigned(sp.splits));
  tile_gemm_multistage_kernel<P, BM, BN, PA, PB, Epi><<<grid, threads_of<BM, BN>(), smem, s>>>(
      M, N, Kred, sp.kt_per_split, pa, pb, epi);
  SRGAN_LAUNCH_CHECK(s);
}

// The backward-weight flavour: BM = 64 for M <= 64 (one warp row), else 128; BN = 128.
template <Mma P, int BM, int BN, class PA, class PB, class Epi>
void launch_multistage_mn_tile(int M, int N, int Kred, const tg::SplitPlan& sp, const PA& pa, const PB& pb,
                               const Epi& epi, cudaStream_t s) {
  constexpr int smem = kStages * kBK * (BM + BN) * 4;
  allow_dynamic_smem<&tile_gemm_multistage_mn_kernel<P, BM, BN, PA, PB, Epi>>(smem);
  const int64_t gx = (int64_t(M) + BM - 1) / BM, gy = (int64_t(N) + BN - 1) / BN;
  if (gx < 1 || gy < 1) return;
  if (gy > 65535 || sp.splits > 65535 || gx > 2147483647)
    throw std::invalid_argument("tile_gemm_multistage: problem too large for the grid");
  const dim3 grid(unsigned(gx), unsigned(gy), unsigned(sp.splits));
  tile_gemm_multistage_mn_kernel<P, BM, BN, PA, PB, Epi><<<grid, threads_of<BM, BN>(), smem, s>>>(
      M, N, Kred, sp.kt_per_split, pa, pb, epi);
  SRGAN_LAUNCH_CHECK(s);
}
inline int block_m_mn_for(int M) { return M > 64 ? 128 : 64; }
template <Mma P, class PA, class PB, class Epi>
void launch_multistage_mn(int M, int N, int Kred, const tg::SplitPlan& sp, const PA& pa, const PB& pb, const Epi& epi,
                          cudaStream_t s) {
  if (block_m_mn_for(M) == 128) launch_multistage_mn_tile<P, 128, 128>(M, N, Kred, sp, pa, pb, epi, s);
  else launch_multistage_mn_tile<P, 64, 128>(M, N, Kred, sp, pa, pb, epi, s);
}

// C = A * B through epi, tiles chosen by N; split-K partials (when sp.splits > 1) go to the
// caller's PartialEpi and launch_splitk_reduce.
template <Mma P, class PA, class PB, class Epi>
void launch_multistage(int M, int N, int Kred, const tg::SplitPlan& sp, const PA& pa, const PB& pb, const Epi& epi,
                       cudaStream_t s) {
  if (block_n_for(N) == 128) launch_multistage_tile<P, 128, 128>(M, N, Kred, sp, pa, pb, epi, s);
  else launch_multistage_tile<P, 128, 64>(M, N, Kred, sp, pa, pb, epi, s);
}

}  // namespace srgan::kern::cuda::tg4
