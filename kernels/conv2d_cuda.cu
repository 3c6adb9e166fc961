// 2-D convolution on the GPU, NHWC activations and KRSC weights (see conv2d.h).
//
// Variants (ConvAlgo), for forward, backward-data and backward-weight alike:
//   v1_direct              one thread per output element (forward: y[n,p,q,k]; backward-data:
//                          dx[n,h,w,c]), a plain loop over the receptive field; backward-weight:
//                          one warp per dw[k,r,s,c], lanes splitting the N*P*Q sum. Easy to read.
//   v2_smem_tiled          implicit GEMM with 64x64 shared-memory tiles and fp32 FMAs
//                          (tile_gemm.cuh, "ffma" flavour).
//   v3_implicit_gemm_tf32  the same implicit GEMM on tensor cores: mma.sync.m16n8k8 TF32
//                          (tile_gemm.cuh, "tf32" flavour). TF32 keeps 10 mantissa bits of each
//                          input, so results differ from fp32 by ~1e-3 relative; tests allow that.
//   v4_implicit_gemm_tf32_multistage  v3 rebuilt for instruction count (tile_gemm_multistage.cuh):
//                          128x128 / 128x64 tiles of 64x32 warps, ldmatrix fragments, 3-stage
//                          cp.async pipeline with one barrier per k-step, division-free operand
//                          iterators, TF32 by truncation, deterministic split-K. Forward with
//                          C % 4 == 0 and C >= 32, backward-data with K % 4 == 0, K >= 32
//                          (strided: stride^2 stride-1 phases, conv2d_strided_dgrad_cuda.cuh,
//                          for filters at least as wide as the stride), backward-weight with
//                          C % 4 == 0 and K % 4 == 0 (its own kernel: tiles stored along the
//                          rows, LDS.128 fragments); forward with
//                          at most 4 output channels (the 9x9 64->3 tail) in fp32 FMA without
//                          padded work (conv2d_narrow_n_cuda.cuh), and their weight gradient
//                          likewise (conv2d_narrow_n_wgrad_cuda.cuh); the rest run v3
//                          (conv_variants() in conv2d.h says so).
//   v5_implicit_gemm_bf16_multistage  v4's engine and paths with BF16 operands: each fp32 value
//                          rounded to bfloat16 as its fragment is formed, mma.sync.m16n8k16 (twice
//                          the multiply-adds per instruction, twice the TF32 rate on Hopper), fp32
//                          accumulation; tensors stay fp32 in memory. v4's narrow-N paths (fp32) and
//                          v3 (TF32) run what the tile paths do not take.
//   v6_halo_tile_tf32      3x3 stride-1 forward (C = 32 or 64) and backward-data (K = 32 or 64)
//                          from an 18 x 18 input halo in shared memory that all nine taps read,
//                          with the block's 64 filters resident for its whole life (a persistent
//                          grid): inputs cross L2 about 1.3 times instead of 9, weights once per
//                          block (conv2d_halo_cuda.cuh); with 128 or more gathered channels (a
//                          multiple of 16) and at least 16 outputs, the same halo per 256-pixel tile
//                          with the filters streamed beside it one 16-channel chunk at a time,
//                          split-K over the chunks (conv2d_halo_stream_cuda.cuh); the weight gradient of those with 64
//                          input channels from one dy tile and x halo for all nine taps
//                          (conv2d_halo_wgrad_cuda.cuh). And the forward of layers with at most
//                          4 outputs (the 9x9 64->3 tail) on tensor cores, the filter's columns
//                          as GEMM columns (conv2d_tail_halo_cuda.cuh), and their weight
//                          gradient likewise (conv2d_tail_wgrad_cuda.cuh); layers with at most 4
//                          inputs (the 9x9 3->64 head's forward, the tail's backward-data) with
//                          a filter row's (s, c) as one 32-wide reduction (conv2d_narrow_c_cuda.cuh),
//                          and their weight gradient with the whole filter (r, s, c) as GEMM rows
//                          (conv2d_narrow_c_wgrad_cuda.cuh).
//                          TF32 by truncation, like v4, which runs every other shape and pass.
//   v7_halo_tile_bf16      v6 with BF16 operands (mma.m16n8k16, v5's packing), its tail and narrow-C
//                          paths in TF32; v5 runs the rest.
//   v8_halo_wgmma_tf32     v6 with its 3x3 passes gathering 64 channels into a multiple of 64 (forward
//                          and backward-data) on Hopper's own path:
//                          the halo brought by the bulk tensor copy engine (TMA) and multiplied by
//                          wgmma from shared memory (conv2d_halo_wgmma_cuda.cu, sm_90a, so only on
//                          compute capability 9.0); v6 runs the rest, and everything elsewhere.
//   cudnn                  baseline, conv2d_cudnn.cu.
//
// The convolution as a GEMM (M x N, reduction Kred):
//   forward          M = N*P*Q (output pixels)  N = K  Kred = R*S*C   A = im2col(x), B = w^T
//   backward-data    M = N*H*W (input pixels)   N = C  Kred = R*S*K   A = gather(dy), B = wT
//                    (wT[c][r][s][k] = w[k][r][s][c], transposed into the workspace first)
//   backward-weight  M = K                      N = R*S*C  Kred = N*P*Q   A = dy^T, B = im2col(x)
// Backward-weight has a small output and a long reduction, so it splits the reduction over
// blockIdx.z (split-K) and adds the partial sums in a second kernel in a fixed order.
// The bias gradient db[k] = sum over pixels of dy[., k] is a two-stage column reduction
// (column_sum_cuda).
// Nothing here uses floating-point atomics: every result is bitwise reproducible.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/conv2d_fused.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_util.cuh"
#include "kernels/prelu.h"
#include "kernels/scalar_math.h"
#include "kernels/tile_gemm.cuh"
#include "kernels/tile_gemm_multistage.cuh"
#include "kernels/conv2d_narrow_n_cuda.cuh"
#include "kernels/conv2d_narrow_n_wgrad_cuda.cuh"
#include "kernels/conv2d_strided_dgrad_cuda.cuh"
#include "kernels/conv2d_halo_cuda.cuh"
#include "kernels/conv2d_halo_wgmma.h"
#include "kernels/conv2d_halo_stream_cuda.cuh"
#include "kernels/conv2d_tail_halo_cuda.cuh"
#include "kernels/conv2d_tail_wgrad_cuda.cuh"
#include "kernels/conv2d_narrow_c_cuda.cuh"
#include "kernels/conv2d_narrow_c_wgrad_cuda.cuh"
#include "kernels/conv2d_halo_wgrad_cuda.cuh"

namespace srgan::kern {
namespace {

using cuda::kThreads;
namespace tg = cuda::tg;

void check_params(const Conv2dParams& p, const char* who) {
  if (p.N < 0 || p.H < 1 || p.W < 1 || p.C < 1 || p.K < 1 || p.R < 1 || p.S < 1 || p.stride < 1 ||
      p.pad < 0 || p.P() < 1 || p.Q() < 1)
    throw std::invalid_argument(std::string(who) + ": invalid convolution shape");
  // Index arithmetic inside the kernels uses int for per-pixel and per-weight indices.
  const double big = 2147483647.0;
  if (double(p.N) * p.H * p.W * p.C > big || double(p.N) * p.P() * p.Q() * p.K > big ||
      double(p.N) * p.P() * p.Q() > big || double(p.K) * p.R * p.S * p.C > big)
    throw std::invalid_argument(std::string(who) + ": tensor too large for 32-bit indexing");
}

tg::ConvGeom geom(const Conv2dParams& p) { return tg::conv_geom(p); }

// ---- v1: direct -------------------------------------------------------------------------------

// y[n,p,q,k] = act(b[k] + sum_{r,s,c} x[n, p*st-pad+r, q*st-pad+s, c] * w[k,r,s,c]).
// One thread per output element; k is the fastest index, so a warp shares one input pixel.
__global__ void conv2d_forward_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ x,
                                                const float* __restrict__ w,
                                                tg::BiasActEpi epi) {
  const int64_t total = int64_t(g.N) * g.P * g.Q * g.K;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int k = int(i % g.K);
    const int pix = int(i / g.K);  // (n, p, q)
    const int q = pix % g.Q, p = (pix / g.Q) % g.P, n = pix / (g.P * g.Q);
    float acc = 0.f;
    for (int r = 0; r < g.R; ++r) {
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) continue;
      for (int s = 0; s < g.S; ++s) {
        const int wc = q * g.stride - g.pad + s;
        if (wc < 0 || wc >= g.W) continue;
        const float* xp = x + ((int64_t(n) * g.H + h) * g.W + wc) * g.C;
        const float* wp = w + ((int64_t(k) * g.R + r) * g.S + s) * g.C;
        for (int c = 0; c < g.C; ++c) acc = fmaf(xp[c], wp[c], acc);
      }
    }
    epi(pix, k, acc, 0);
  }
}

// dx[n,h,w,c] = sum_{r,s,k} dy[n,p,q,k] * w[k,r,s,c] over the (p,q) with p*st-pad+r = h and
// q*st-pad+s = w. One thread per input element; c fastest, so weight reads are coalesced.
__global__ void conv2d_backward_data_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ dy,
                                                      const float* __restrict__ w,
                                                      float* __restrict__ dx) {
  const int64_t total = int64_t(g.N) * g.H * g.W * g.C;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int c = int(i % g.C);
    const int pix = int(i / g.C);
    const int wc = pix % g.W, h = (pix / g.W) % g.H, n = pix / (g.W * g.H);
    float acc = 0.f;
    for (int r = 0; r < g.R; ++r) {
      const int pn = h + g.pad - r;  // = p * stride
      if (pn < 0 || pn % g.stride != 0) continue;
      const int p = pn / g.stride;
      if (p >= g.P) continue;
      for (int s = 0; s < g.S; ++s) {
        const int qn = wc + g.pad - s;
        if (qn < 0 || qn % g.stride != 0) continue;
        const int q = qn / g.stride;
        if (q >= g.Q) continue;
        const float* dyp = dy + ((int64_t(n) * g.P + p) * g.Q + q) * g.K;
        const float* wp = w + (int64_t(r) * g.S + s) * g.C + c;  // + k * R*S*C
        const int64_t wk = int64_t(g.R) * g.S * g.C;
        for (int k = 0; k < g.K; ++k) acc = fmaf(dyp[k], wp[k * wk], acc);
      }
    }
    dx[i] = acc;
  }
}

// dw[k,r,s,c] = sum_{n,p,q} dy[n,p,q,k] * x[n, p*st-pad+r, q*st-pad+s, c].
// One warp per weight element: lane l sums pixels l, l+32, ...; then a shuffle reduction.
__global__ void conv2d_backward_weight_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ x,
                                                        const float* __restrict__ dy,
                                                        float* __restrict__ dw) {
  const int64_t total = int64_t(g.K) * g.R * g.S * g.C;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  const int npix = g.N * g.P * g.Q;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < total; i += warps) {
    const int c = int(i % g.C), s = int((i / g.C) % g.S), r = int((i / (int64_t(g.C) * g.S)) % g.R);
    const int k = int(i / (int64_t(g.C) * g.S * g.R));
    float acc = 0.f;
    for (int pix = lane; pix < npix; pix += 32) {
      const int q = pix % g.Q, p = (pix / g.Q) % g.P, n = pix / (g.P * g.Q);
      const int h = p * g.stride - g.pad + r, wc = q * g.stride - g.pad + s;
      if (h < 0 || h >= g.H || wc < 0 || wc >= g.W) continue;
      acc = fmaf(dy[int64_t(pix) * g.K + k], x[((int64_t(n) * g.H + h) * g.W + wc) * g.C + c], acc);
    }
    acc = cuda::warp_sum(acc);
    if (lane == 0) dw[i] = acc;
  }
}

// wT[c][t][u][k] = w[k][r0 + step*t][s0 + step*u][c] over the taps' (t, u) (for the backward-data
// GEMM, whose B operand wants k innermost; all taps: wT[c][r][s][k] = w[k][r][s][c]). Per tap it
// is a transpose of a K x C matrix: a block moves a 32 x 32 tile through shared memory (pitch
// 33: conflict-free both ways), so both the reads (32 consecutive c) and the writes (32
// consecutive k) are whole 128-byte lines. (A thread per element read w with a stride of
// R S C floats: 1 useful float in 8 of each sector.)
// grid: (ceil(C / 32), ceil(K / 32), taps R x S); block (32, 8).
__global__ void conv2d_transpose_weight_kernel(tg::ConvGeom g, cuda::dgrad::Taps taps, const float* __restrict__ w,
                                               float* __restrict__ wT) {
  __shared__ float tile[32][33];  // [k - k0][c - c0]
  const int t = int(blockIdx.z) / taps.S, u = int(blockIdx.z) - t * taps.S;
  const int r = taps.r0 + taps.step * t, s = taps.s0 + taps.step * u;
  const int c0 = int(blockIdx.x) * 32, k0 = int(blockIdx.y) * 32, tx = int(threadIdx.x);
  for (int j = int(threadIdx.y); j < 32; j += 8) {
    const int k = k0 + j, c = c0 + tx;
    if (k < g.K && c < g.C) tile[j][tx] = w[((int64_t(k) * g.R + r) * g.S + s) * g.C + c];
  }
  __syncthreads();
  for (int j = int(threadIdx.y); j < 32; j += 8) {
    const int c = c0 + j, k = k0 + tx;
    if (c < g.C && k < g.K) wT[((int64_t(c) * taps.R + t) * taps.S + u) * g.K + k] = tile[tx][j];
  }
}

// Launches it: wT from w for the taps, on stream s.
void transpose_weight(const tg::ConvGeom& g, const cuda::dgrad::Taps& taps, const float* w, float* wT,
                      cudaStream_t s) {
  const dim3 grid(unsigned((g.C + 31) / 32), unsigned((g.K + 31) / 32), unsigned(taps.R * taps.S));
  conv2d_transpose_weight_kernel<<<grid, dim3(32, 8), 0, s>>>(g, taps, w, wT);
  SRGAN_LAUNCH_CHECK(s);
}

namespace tg4 = cuda::tg4;

// v6 and v7: the halo tile (conv2d_halo_cuda.cuh), with TF32 or BF16 operands.
bool halo_tile(ConvAlgo algo) {
  return algo == ConvAlgo::v6_halo_tile_tf32 || algo == ConvAlgo::v7_halo_tile_bf16 || algo == ConvAlgo::v8_halo_wgmma_tf32;
}

// v4 and v5: the multistage engine (the same paths), with TF32 or BF16 operands; v6 and v7 run
// v4's and v5's paths where their own does not apply.
bool multistage(ConvAlgo algo) {
  return algo == ConvAlgo::v4_implicit_gemm_tf32_multistage || algo == ConvAlgo::v5_implicit_gemm_bf16_multistage ||
         halo_tile(algo);
}
// Whether the tensor cores take BF16 operands (v5, v7) rather than TF32.
bool bf16_operands(ConvAlgo algo) {
  return algo == ConvAlgo::v5_implicit_gemm_bf16_multistage || algo == ConvAlgo::v7_halo_tile_bf16;
}

// The tile_gemm.cuh flavour that runs a variant's other shapes: v3's TF32 for v3 to v7.
tg::Flavour flavour_of(ConvAlgo algo) {
  return algo == ConvAlgo::v3_implicit_gemm_tf32 || multistage(algo) ? tg::Flavour::tf32 : tg::Flavour::ffma;
}

// ---- v4: the multistage engine --------------------------------------------------------------

// The implicit-GEMM A operand of the forward pass (rows: output pixels).
tg4::ImplicitA::Params fwd_a(const Conv2dParams& p, const float* x) {
  return {x, p.N * p.P() * p.Q(), p.H, p.W, p.C, p.R, p.S, p.P(), p.Q(), p.stride, p.pad, p.pad, +1};
}
// ... of backward-data, stride 1 (rows: input pixels; gathers dy).
tg4::ImplicitA::Params bwd_data_a(const Conv2dParams& p, const float* dy) {
  return {dy, p.N * p.H * p.W, p.P(), p.Q(), p.K, p.R, p.S, p.H, p.W, 1, p.pad, p.pad, -1};
}

// 16-byte copies, at least one k-step of channels (one wrap per step), filters of at most
// 15 x 15 (the iterators' validity masks). The weights need not be 16-byte aligned: a model's
// parameters sit back to back in one arena (core/param_arena.h), so most of them are not, and
// forward_impl copies such weights to the (aligned) workspace first.
bool v4_forward_applies(const Conv2dParams& p, const float* x) {
  return p.C % 4 == 0 && p.C >= 32 && p.R <= 15 && p.S <= 15 && tg::is_aligned16(x);
}
bool v4_backward_weight_applies(const Conv2dParams& p, const float* x, const float* dy) {
  return p.K % 4 == 0 && p.C % 4 == 0 && tg::is_aligned16(x) && tg::is_aligned16(dy);
}
// (Its B operand is the transposed copy of the weights in the workspace, always aligned.) A
// strided one runs as stride^2 stride-1 phases (conv2d_strided_dgrad_cuda.cuh), each with at
// least one tap per direction.
bool v4_backward_data_applies(const Conv2dParams& p, const float* dy) {
  return p.K % 4 == 0 && p.K >= 32 && p.R <= 15 && p.S <= 15 && p.R >= p.stride && p.S >= p.stride &&
         tg::is_aligned16(dy);
}

// The narrow-N forward (conv2d_narrow_n_cuda.cuh): at most 4 output channels.
bool v4_narrow_n_applies(const Conv2dParams& p) {
  return p.K <= 4 && p.stride == 1 && p.C % cuda::narrow::kCC == 0 && p.S <= cuda::narrow::kMaxS && p.N <= 65535;
}
// dW (K, R*S*C) for K <= 4 (conv2d_narrow_n_wgrad_cuda.cuh): pixel-split partials in the
// workspace, added in split order.
template <int KN>
void launch_narrow_n_wgrad(const Conv2dParams& p, const float* x, const float* dy, float* dw, cudaStream_t s) {
  namespace nr = cuda::narrow;
  const int rsc = p.R * p.S * p.C;
  const int64_t rows = int64_t(p.N) * p.P();
  const int64_t rows_per = nr::wgrad_rows_per_split(rsc, rows, p.Q());
  const int splits = int((rows + rows_per - 1) / rows_per);
  float* part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(splits) * KN * rsc, s));
  const dim3 grid(unsigned((rsc + nr::kWgradThreads - 1) / nr::kWgradThreads), unsigned(splits));
  nr::conv2d_backward_weight_kernel_v4_narrow_n<KN><<<grid, nr::kWgradThreads, 0, s>>>(geom(p), x, dy, part, rows_per);
  SRGAN_LAUNCH_CHECK(s);
  tg::launch_splitk_reduce(KN, rsc, splits, part, tg::BiasActEpi{dw, rsc, nullptr, nullptr, 0, nullptr}, s);
}
void run_narrow_n_wgrad(const Conv2dParams& p, const float* x, const float* dy, float* dw, cudaStream_t s) {
  switch (p.K) {
    case 1: return launch_narrow_n_wgrad<1>(p, x, dy, dw, s);
    case 2: return launch_narrow_n_wgrad<2>(p, x, dy, dw, s);
    case 3: return launch_narrow_n_wgrad<3>(p, x, dy, dw, s);
    default: return launch_narrow_n_wgrad<4>(p, x, dy, dw, s);
  }
}

template <int KN>
void launch_narrow_n(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi, cudaStream_t s) {
  namespace nr = cuda::narrow;
  const dim3 grid(unsigned((p.Q() + nr::kCols - 1) / nr::kCols), unsigned((p.P() + nr::kRows - 1) / nr::kRows),
                  unsigned(p.N));
  nr::conv2d_forward_kernel_v4_narrow_n<KN, tg::BiasActEpi><<<grid, nr::kThreads, nr::smem_bytes(p.R, p.S), s>>>(
      geom(p), x, w, epi);
  SRGAN_LAUNCH_CHECK(s);
}
void run_narrow_n(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi, cudaStream_t s) {
  switch (p.K) {
    case 1: return launch_narrow_n<1>(p, x, w, epi, s);
    case 2: return launch_narrow_n<2>(p, x, w, epi, s);
    case 3: return launch_narrow_n<3>(p, x, w, epi, s);
    default: return launch_narrow_n<4>(p, x, w, epi, s);
  }
}

tg::SplitPlan v4_plan(int M, int N, int Kred) { return tg4::plan_splits(M, N, Kred, 128, tg4::block_n_for(N), 16); }

// C = A * B^T (B row-major (N, Kred)) through out; with sp.splits > 1 the split-K partials
// (splits, M, N) go to `part` and a second kernel adds them in split order (deterministic).
template <tg4::Mma P, class Epi>
void run_multistage(int M, int N, int Kred, const tg::SplitPlan& sp, const tg4::ImplicitA::Params& a, const float* b,
                    const Epi& out, float* part, cudaStream_t s) {
  const tg4::RowMajorKA::Params bp{b, N, Kred, Kred};
  if (sp.splits == 1) return tg4::launch_multistage<P>(M, N, Kred, sp, a, bp, out, s);
  const tg::PartialEpi pe{part, N, int64_t(M) * N};
  tg4::launch_multistage<P>(M, N, Kred, sp, a, bp, pe, s);
  tg::launch_splitk_reduce(M, N, sp.splits, part, out, s);
}
// ... for v4 (TF32) or v5 (BF16), or as v6's and v7's fallback.
template <class Epi>
void run_v4(ConvAlgo algo, int M, int N, int Kred, const tg::SplitPlan& sp, const tg4::ImplicitA::Params& a,
            const float* b, const Epi& out, float* part, cudaStream_t s) {
  if (bf16_operands(algo))
    return run_multistage<tg4::Mma::bf16>(M, N, Kred, sp, a, b, out, part, s);
  run_multistage<tg4::Mma::tf32>(M, N, Kred, sp, a, b, out, part, s);
}

// v4 backward-data with stride > 1: each phase (a, b) of dx a stride-1 GEMM over its taps
// (conv2d_strided_dgrad_cuda.cuh). One workspace call: every phase's transposed sub-filter
// (C, Rt, Su, K), then split-K partials for the largest phase (phases run in stream order, so
// they share them).
void backward_data_v4_strided(const Conv2dParams& p, const float* dy, const float* w, float* dx, ConvAlgo algo,
                              cudaStream_t s) {
  namespace dg = cuda::dgrad;
  struct Job {
    dg::Phase ph;
    int M, Kred;
    tg::SplitPlan sp;
    size_t wt_off;
  };
  std::vector<Job> jobs;
  size_t wt_bytes = 0, part_bytes = 0;
  for (int a = 0; a < p.stride; ++a)
    for (int b = 0; b < p.stride; ++b) {
      Job j;
      j.ph = dg::phase_of(p, a, b);
      if (j.ph.Hp == 0 || j.ph.Wp == 0) continue;  // an image smaller than the stride
      j.M = p.N * j.ph.Hp * j.ph.Wp;
      j.Kred = j.ph.taps.R * j.ph.taps.S * p.K;
      j.sp = v4_plan(j.M, p.C, j.Kred);
      j.wt_off = wt_bytes;
      wt_bytes += cuda::align256(sizeof(float) * size_t(p.C) * j.Kred);
      if (j.sp.splits > 1) part_bytes = std::max(part_bytes, sizeof(float) * size_t(j.sp.splits) * j.M * p.C);
      jobs.push_back(j);
    }
  char* ws = static_cast<char*>(cuda::workspace(wt_bytes + part_bytes, s));
  float* part = reinterpret_cast<float*>(ws + wt_bytes);
  const tg::ConvGeom g = geom(p);
  for (const Job& j : jobs) {
    float* wT = reinterpret_cast<float*>(ws + j.wt_off);
    transpose_weight(g, j.ph.taps, w, wT, s);
    const tg4::ImplicitA::Params a{dy, j.M, p.P(), p.Q(), p.K, j.ph.taps.R, j.ph.taps.S, j.ph.Hp, j.ph.Wp,
                                   1, j.ph.oh, j.ph.ow, -1};
    const dg::PhaseScatterEpi epi{dx, p.C, p.H, p.W, p.stride, j.ph.a, j.ph.b, j.ph.Hp, j.ph.Wp};
    run_v4(algo, j.M, p.C, j.Kred, j.sp, a, wT, epi, part, s);
  }
}

// ---- v6: the halo tile (conv2d_halo_cuda.cuh) ------------------------------------------------

// A 3x3 stride-1 pass gathering cin channels into nout outputs: cin = 32 or 64 (within the
// device's shared memory), at least 16 outputs (fewer would waste most of the 64-wide block),
// 16-byte aligned input.
bool v6_applies(const Conv2dParams& p, int cin, int nout, const float* gathered) {
  return p.R == 3 && p.S == 3 && p.stride == 1 && nout >= 16 && tg::is_aligned16(gathered) &&
         cuda::halo::fits(cin, cuda::smem_optin_bytes());
}

// The halo-tile pass: out (N, Hout, Wout, nout) from the gathered (N, Hin, Win, cin) and filters
// (nout, 3, 3, cin), 16-byte aligned; FLIP turns them half a turn (backward-data). TF32 operands
// for v6, BF16 for v7.
template <bool FLIP>
void run_v6(ConvAlgo algo, int N, int Hin, int Win, int cin, int Hout, int Wout, int nout, int pad,
            const float* gathered, const float* w, const tg::BiasActEpi& epi, cudaStream_t s) {
  namespace hl = cuda::halo;
  namespace hw = cuda::halo_wgmma;
  const int sms = cuda::sm_count();
  if (algo == ConvAlgo::v8_halo_wgmma_tf32 && hw::applies(3, 3, 1, cin, nout, gathered, w) && hw::runs_here())
    return hw::launch<FLIP>(hw::Params{gathered, w, N, Hin, Win, Hout, Wout, nout, pad}, epi, sms, s);
  hl::Params hp;
  hp.x = gathered, hp.w = w;
  hp.Hin = Hin, hp.Win = Win, hp.Hout = Hout, hp.Wout = Wout, hp.Nout = nout, hp.pad = pad;
  hp.tiles_w = (Wout + hl::kTile - 1) / hl::kTile;
  hp.tiles_img = (Hout + hl::kTile - 1) / hl::kTile * hp.tiles_w;
  hp.tiles = N * hp.tiles_img;
  if (bf16_operands(algo)) {
    if (cin == 64) return hl::launch_conv3x3_halo<tg4::Mma::bf16, 64, FLIP>(hp, epi, sms, s);
    return hl::launch_conv3x3_halo<tg4::Mma::bf16, 32, FLIP>(hp, epi, sms, s);
  }
  if (cin == 64) return hl::launch_conv3x3_halo<tg4::Mma::tf32, 64, FLIP>(hp, epi, sms, s);
  hl::launch_conv3x3_halo<tg4::Mma::tf32, 32, FLIP>(hp, epi, sms, s);
}

// ---- v6: the halo tile with streamed filters (conv2d_halo_stream_cuda.cuh) ------------------

// The pass as the kernel sees it: forward gathers x into K outputs; backward-data gathers dy
// into C outputs with the transposed filters, the pad mirrored (2 - pad).
cuda::halo_stream::Params stream_params(const Conv2dParams& p, bool data, const float* gathered, const float* w) {
  cuda::halo_stream::Params hp;
  hp.x = gathered, hp.w = w, hp.N = p.N;
  if (data) {
    hp.Hin = p.P(), hp.Win = p.Q(), hp.Cin = p.K, hp.Hout = p.H, hp.Wout = p.W, hp.Nout = p.C, hp.pad = 2 - p.pad;
  } else {
    hp.Hin = p.H, hp.Win = p.W, hp.Cin = p.C, hp.Hout = p.P(), hp.Wout = p.Q(), hp.Nout = p.K, hp.pad = p.pad;
  }
  hp.chunks_per_split = cuda::halo_stream::chunks_per_split(int64_t(hp.N) * hp.Hout * hp.Wout, hp.Nout, hp.Cin);
  return hp;
}

// A 3x3 stride-1 pass gathering 128 or more channels (those with 32 or 64 take the resident
// filters above) into at least 16 outputs (fewer would waste most of the 64-wide block), from a
// 16-byte aligned tensor.
bool v6_stream_applies(const Conv2dParams& p, bool data) {
  if (p.R != 3 || p.S != 3 || p.stride != 1) return false;
  const cuda::halo_stream::Params hp = stream_params(p, data, nullptr, nullptr);
  return hp.Cin >= 128 && hp.Nout >= 16 &&
         cuda::halo_stream::applies(hp.N, hp.Hin, hp.Win, hp.Cin, hp.Hout, hp.Wout, hp.Nout, cuda::smem_optin_bytes());
}

// Bytes of split-K partials the pass needs (0 with one split).
size_t stream_part_bytes(const cuda::halo_stream::Params& hp) {
  const int splits = cuda::halo_stream::splits_of(hp);
  return splits > 1 ? sizeof(float) * size_t(splits) * hp.N * hp.Hout * hp.Wout * hp.Nout : 0;
}

// The pass through epi, with the split-K partials in `part` (stream_part_bytes of them) when
// the chunks are split. TF32 operands for v6, BF16 for v7.
template <bool FLIP>
void run_v6_stream(ConvAlgo algo, const cuda::halo_stream::Params& hp, const tg::BiasActEpi& epi, float* part,
                   cudaStream_t s) {
  namespace hs = cuda::halo_stream;
  auto launch = [&](const auto& e) {
    if (bf16_operands(algo)) hs::launch_conv3x3_halo_stream<tg4::Mma::bf16, FLIP>(hp, e, s);
    else hs::launch_conv3x3_halo_stream<tg4::Mma::tf32, FLIP>(hp, e, s);
  };
  const int splits = hs::splits_of(hp), M = hp.N * hp.Hout * hp.Wout;
  if (splits == 1) return launch(epi);
  launch(tg::PartialEpi{part, hp.Nout, int64_t(M) * hp.Nout});
  tg::launch_splitk_reduce(M, hp.Nout, splits, part, epi, s);
}

// The tail path of v6 and v7 (conv2d_tail_halo_cuda.cuh, TF32 for both): at most 4 output
// channels, the 9x9 64->3 tail, forward only.
bool v6_tail_applies(const Conv2dParams& p, const float* x) {
  return cuda::tail::applies(p.K, p.R, p.S, p.C, p.stride) && p.N <= 65535 && tg::is_aligned16(x) &&
         cuda::tail::kSmemBytes <= cuda::smem_optin_bytes();
}
void run_v6_tail(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi, cudaStream_t s) {
  cuda::tail::Params tp;
  tp.x = x, tp.w = w;
  tp.N = p.N, tp.H = p.H, tp.W = p.W, tp.C = p.C, tp.K = p.K, tp.R = p.R, tp.S = p.S, tp.pad = p.pad;
  tp.P = p.P(), tp.Q = p.Q(), tp.cols_out = cuda::tail::kCols - p.S + 1;
  cuda::tail::launch_conv_tail_halo(tp, epi, s);
}

// Its weight gradient (conv2d_tail_wgrad_cuda.cuh, TF32 for v6 and v7): per-block partials,
// added in split order.
bool v6_tail_wgrad_applies(const Conv2dParams& p, const float* x) {
  return cuda::tail::wgrad_applies(p.K, p.R, p.S, p.C, p.stride) && p.N <= 65535 && tg::is_aligned16(x) &&
         cuda::tail::kWgSmemBytes <= cuda::smem_optin_bytes();
}
void run_v6_tail_wgrad(const Conv2dParams& p, const float* x, const float* dy, float* dw, cudaStream_t s) {
  cuda::tail::WgradParams tp = cuda::tail::wgrad_plan(p.N, p.H, p.W, p.C, p.K, p.R, p.S, p.pad, p.P(), p.Q());
  const int rsc = p.R * p.S * p.C, splits = cuda::tail::wgrad_splits(tp);
  tp.x = x, tp.dy = dy;
  tp.part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(splits) * p.K * rsc, s));
  cuda::tail::launch_conv_tail_wgrad(tp, s);
  tg::launch_splitk_reduce(p.K, rsc, splits, tp.part, tg::BiasActEpi{dw, rsc, nullptr, nullptr, 0, nullptr}, s);
}

// The narrow-C path of v6 and v7 (conv2d_narrow_c_cuda.cuh, TF32 for both): at most 4 input
// channels and 64k outputs (the 9x9 3->64 head's forward), and the same shape seen from
// backward-data (the 9x9 64->3 tail's: dy has 3 channels, dx 64), weights read through strides.
bool v6_narrow_c_applies(int cin, int cout, const Conv2dParams& p) {
  return p.stride == 1 && cuda::narrow_c::applies(cin, cout, p.R, p.S) && p.N <= 65535 &&
         cuda::narrow_c::kSmemBytes <= cuda::smem_optin_bytes();
}
void run_v6_narrow_c_forward(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi,
                             cudaStream_t s) {
  cuda::narrow_c::Params np{};
  np.x = x, np.w = w;
  np.w_base = 0, np.sK = int64_t(p.R) * p.S * p.C, np.sR = int64_t(p.S) * p.C, np.sS = p.C, np.sC = 1;
  np.N = p.N, np.H = p.H, np.W = p.W, np.C = p.C, np.K = p.K, np.R = p.R, np.S = p.S;
  np.pad_h = np.pad_w = p.pad, np.P = p.P(), np.Q = p.Q();
  cuda::narrow_c::launch_conv_narrow_c(np, epi, s);
}
// dx (N, H, W, C) = dy (N, P, Q, K) correlated with w'[c][r][s][k] = w[k][R-1-r][S-1-s][c] and
// padding (R - 1 - pad, S - 1 - pad).
bool v6_narrow_c_dgrad_applies(const Conv2dParams& p) {
  return v6_narrow_c_applies(p.K, p.C, p) && p.pad <= p.R - 1 && p.pad <= p.S - 1;
}
void run_v6_narrow_c_dgrad(const Conv2dParams& p, const float* dy, const float* w, float* dx, cudaStream_t s) {
  cuda::narrow_c::Params np{};
  np.x = dy, np.w = w;
  const int64_t sc = int64_t(p.S) * p.C;
  np.w_base = (p.R - 1) * sc + int64_t(p.S - 1) * p.C, np.sK = 1, np.sR = -sc, np.sS = -p.C, np.sC = p.R * sc;
  np.N = p.N, np.H = p.P(), np.W = p.Q(), np.C = p.K, np.K = p.C, np.R = p.R, np.S = p.S;
  np.pad_h = p.R - 1 - p.pad, np.pad_w = p.S - 1 - p.pad, np.P = p.H, np.Q = p.W;
  cuda::narrow_c::launch_conv_narrow_c(np, tg::BiasActEpi{dx, p.C, nullptr, nullptr, 0, nullptr}, s);
}

// The 3x3 64-channel weight gradient of v6 and v7 (conv2d_halo_wgrad_cuda.cuh, TF32 for both):
// one dy tile and one x halo per unit for all nine taps, per-block partials added in split order.
bool v6_halo_wgrad_applies(const Conv2dParams& p, const float* x, const float* dy) {
  return cuda::halo_wgrad::applies(p.R, p.S, p.stride, p.pad, p.C, p.K, p.W) && tg::is_aligned16(x) &&
         tg::is_aligned16(dy) && p.K / cuda::halo_wgrad::kSlice <= 65535 &&
         cuda::halo_wgrad::kSmemBytes <= cuda::smem_optin_bytes();
}
void run_v6_halo_wgrad(const Conv2dParams& p, const float* x, const float* dy, float* dw, cudaStream_t s) {
  namespace hw = cuda::halo_wgrad;
  hw::Params hp = hw::plan(p.N, p.H, p.W, p.K);
  hp.x = x, hp.dy = dy;
  hp.part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(hp.splits) * p.K * hw::kRSC, s));
  hw::launch_conv3x3_halo_wgrad(hp, s);
  tg::launch_splitk_reduce(p.K, hw::kRSC, hp.splits, hp.part,
                           tg::BiasActEpi{dw, hw::kRSC, nullptr, nullptr, 0, nullptr}, s);
}

// Their weight gradient (conv2d_narrow_c_wgrad_cuda.cuh, TF32 for v6 and v7): per-warp partials,
// added in split order.
bool v6_narrow_c_wgrad_applies(const Conv2dParams& p, const float* dy) {
  return p.stride == 1 && cuda::narrow_c::wgrad_applies(p.C, p.K, p.R, p.S) && p.N <= 65535 &&
         tg::is_aligned16(dy) && cuda::narrow_c::kWgMaxSmemBytes <= cuda::smem_optin_bytes();
}
void run_v6_narrow_c_wgrad(const Conv2dParams& p, const float* x, const float* dy, float* dw, cudaStream_t s) {
  cuda::narrow_c::WgradParams np =
      cuda::narrow_c::wgrad_plan(p.N, p.H, p.W, p.C, p.K, p.R, p.S, p.pad, p.P(), p.Q());
  const int rsc = p.R * p.S * p.C, splits = cuda::narrow_c::wgrad_splits(np);
  np.x = x, np.dy = dy;
  np.part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(splits) * p.K * rsc, s));
  cuda::narrow_c::launch_conv_narrow_c_wgrad(np, s);
  tg::launch_splitk_reduce(p.K, rsc, splits, np.part, tg::BiasActEpi{dw, rsc, nullptr, nullptr, 0, nullptr}, s);
}

void check_algo(ConvAlgo algo, const char* who) {
  switch (algo) {
    case ConvAlgo::v1_direct:
    case ConvAlgo::v2_smem_tiled:
    case ConvAlgo::v3_implicit_gemm_tf32:
    case ConvAlgo::v4_implicit_gemm_tf32_multistage:
    case ConvAlgo::v5_implicit_gemm_bf16_multistage:
    case ConvAlgo::v6_halo_tile_tf32:
    case ConvAlgo::v7_halo_tile_bf16:
    case ConvAlgo::v8_halo_wgmma_tf32:
    case ConvAlgo::cudnn: return;
  }
  throw std::invalid_argument(std::string(who) + ": unknown ConvAlgo " + std::to_string(int(algo)));
}

// The epilogue as its own elementwise pass over a finished convolution output, in place (each
// element read and written by one thread): the cuDNN baseline of the fused forwards.
struct ApplyEpilogueF {
  tg::BiasActEpi epi;
  int N;
  __device__ void operator()(int64_t i) const { epi(int(i / N), int(i % N), epi.out[i], 0); }
  __device__ void vec4(int64_t j) const {  // not used (launched scalar): map_kernel wants it
    for (int64_t i = 4 * j; i < 4 * j + 4; ++i) (*this)(i);
  }
};

// Forward of our variants through an epilogue (bias, PReLU, the inference affine and residual:
// tg::BiasActEpi), which every path applies where it stores the result.
void forward_impl(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi, ConvAlgo algo,
                  cudaStream_t s) {
  const tg::ConvGeom g = geom(p);
  if (algo == ConvAlgo::v1_direct) {
    const int64_t total = int64_t(p.N) * p.P() * p.Q() * p.K;
    conv2d_forward_kernel_v1_direct<<<cuda::grid_for(total, kThreads, 65536), kThreads, 0, s>>>(g, x, w, epi);
    SRGAN_LAUNCH_CHECK(s);
    return;
  }
  const bool tail = halo_tile(algo) && v6_tail_applies(p, x);
  if (multistage(algo) && v4_narrow_n_applies(p) && !tail) return run_narrow_n(p, x, w, epi, s);
  if (tail || (halo_tile(algo) && v6_applies(p, p.C, p.K, x))) {
    // Misaligned weights (the parameter arena) go to the workspace first, as for v4.
    if (!tg::is_aligned16(w)) {
      const size_t w_bytes = sizeof(float) * size_t(p.K) * p.R * p.S * p.C;
      void* ws = cuda::workspace(w_bytes, s);
      CUDA_CHECK(cudaMemcpyAsync(ws, w, w_bytes, cudaMemcpyDeviceToDevice, s));
      w = static_cast<const float*>(ws);
    }
    if (tail) return run_v6_tail(p, x, w, epi, s);
    return run_v6<false>(algo, p.N, p.H, p.W, p.C, p.P(), p.Q(), p.K, p.pad, x, w, epi, s);
  }
  if (halo_tile(algo) && tg::is_aligned16(x) && v6_stream_applies(p, false)) {
    // One workspace call: an aligned copy of misaligned weights, then the split-K partials.
    cuda::halo_stream::Params hp = stream_params(p, false, x, w);
    const size_t w_bytes = tg::is_aligned16(w) ? 0 : cuda::align256(sizeof(float) * size_t(p.K) * 9 * p.C);
    const size_t part_bytes = stream_part_bytes(hp);
    char* ws = w_bytes + part_bytes ? static_cast<char*>(cuda::workspace(w_bytes + part_bytes, s)) : nullptr;
    if (w_bytes) {
      CUDA_CHECK(cudaMemcpyAsync(ws, w, sizeof(float) * size_t(p.K) * 9 * p.C, cudaMemcpyDeviceToDevice, s));
      hp.w = reinterpret_cast<const float*>(ws);
    }
    return run_v6_stream<false>(algo, hp, epi, reinterpret_cast<float*>(ws + w_bytes), s);
  }
  if (halo_tile(algo) && v6_narrow_c_applies(p.C, p.K, p)) return run_v6_narrow_c_forward(p, x, w, epi, s);
  if (multistage(algo) && v4_forward_applies(p, x)) {
    const int M = p.N * p.P() * p.Q(), Kred = p.R * p.S * p.C;
    const tg::SplitPlan sp = v4_plan(M, p.K, Kred);
    // One workspace call: an aligned copy of misaligned weights (K, R, S, C), then the split-K
    // partials (splits, M, K).
    const bool copy_w = !tg::is_aligned16(w);
    const size_t w_bytes = copy_w ? cuda::align256(sizeof(float) * size_t(p.K) * Kred) : 0;
    const size_t part_bytes = sp.splits > 1 ? sizeof(float) * size_t(sp.splits) * M * p.K : 0;
    char* ws = w_bytes + part_bytes ? static_cast<char*>(cuda::workspace(w_bytes + part_bytes, s)) : nullptr;
    if (copy_w) {
      CUDA_CHECK(cudaMemcpyAsync(ws, w, sizeof(float) * size_t(p.K) * Kred, cudaMemcpyDeviceToDevice, s));
      w = reinterpret_cast<const float*>(ws);
    }
    float* part = sp.splits > 1 ? reinterpret_cast<float*>(ws + w_bytes) : nullptr;
    return run_v4(algo, M, p.K, Kred, sp, fwd_a(p, x), w, epi, part, s);
  }
  const auto pr = tg::conv_fwd_problem(p, x, w);
  const tg::Flavour f = flavour_of(algo);
  tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, tg::plan_splits(f, pr.M, pr.N, pr.Kred, 1), pr.a, pr.b, epi, s);
}

}  // namespace

void conv2d_forward_cuda(const Conv2dParams& p, const float* x, const float* w, const float* b,
                         float* y, ConvAlgo algo, Stream s) {
  check_params(p, "conv2d_forward_cuda");
  check_algo(algo, "conv2d_forward_cuda");
  if (p.N == 0) return;
  if (algo == ConvAlgo::cudnn) return conv2d_forward_cudnn(p, x, w, b, y, s);
  forward_impl(p, x, w, tg::BiasActEpi{y, p.K, b, nullptr, 0, nullptr}, algo, s);
}

void conv2d_bias_prelu_forward_cuda(const Conv2dParams& p, const float* x, const float* w,
                                    const float* b, const float* slope, bool per_channel, float* y,
                                    float* pre, ConvAlgo algo, Stream s) {
  check_params(p, "conv2d_bias_prelu_forward_cuda");
  check_algo(algo, "conv2d_bias_prelu_forward_cuda");
  if (p.N == 0) return;
  if (algo == ConvAlgo::cudnn) {
    // Unfused baseline: cuDNN writes the pre-activation (into pre, or into y and PReLU runs in
    // place, which is safe because prelu_forward is elementwise).
    float* z = pre ? pre : y;
    conv2d_forward_cudnn(p, x, w, b, z, s);
    PreluParams pp;
    pp.M = int64_t(p.N) * p.P() * p.Q();
    pp.C = p.K;
    pp.per_channel = per_channel;
    prelu_forward_cuda(pp, z, slope, y, s);
    return;
  }
  forward_impl(p, x, w, tg::BiasActEpi{y, p.K, b, slope, per_channel ? 2 : 1, pre}, algo, s);
}

void conv2d_affine_act_forward_cuda(const Conv2dParams& p, const float* x, const float* w, const float* scale,
                                    const float* shift, const float* slope, bool per_channel,
                                    const float* residual, float* y, ConvAlgo algo, Stream s) {
  check_params(p, "conv2d_affine_act_forward_cuda");
  check_algo(algo, "conv2d_affine_act_forward_cuda");
  if (p.N == 0) return;
  tg::BiasActEpi epi{y, p.K, shift, slope, slope ? (per_channel ? 2 : 1) : 0, nullptr};
  epi.scale = scale;
  epi.residual = residual;
  if (algo == ConvAlgo::cudnn) {
    conv2d_forward_cudnn(p, x, w, nullptr, y, s);
    cuda::launch_map(int64_t(p.N) * p.P() * p.Q() * p.K, false, ApplyEpilogueF{epi, p.K}, s);
    return;
  }
  forward_impl(p, x, w, epi, algo, s);
}

void conv2d_backward_data_cuda(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                               ConvAlgo algo, Stream s) {
  check_params(p, "conv2d_backward_data_cuda");
  check_algo(algo, "conv2d_backward_data_cuda");
  if (p.N == 0) return;
  if (algo == ConvAlgo::cudnn) return conv2d_backward_data_cudnn(p, dy, w, dx, s);
  const tg::ConvGeom g = geom(p);
  if (algo == ConvAlgo::v1_direct) {
    const int64_t total = int64_t(p.N) * p.H * p.W * p.C;
    conv2d_backward_data_kernel_v1_direct<<<cuda::grid_for(total, kThreads, 65536), kThreads, 0, s>>>(g, dy, w, dx);
    SRGAN_LAUNCH_CHECK(s);
    return;
  }
  const int64_t wsize = int64_t(p.K) * p.R * p.S * p.C;
  if (halo_tile(algo) && v6_applies(p, p.K, p.C, dy)) {
    // dx = dy correlated with the transposed filter (C, 3, 3, K) turned half a turn; dy's pixel
    // (h - (2 - pad) + r, w - (2 - pad) + s) meets tap (2 - r, 2 - s).
    float* wT = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(wsize), s));
    transpose_weight(g, cuda::dgrad::Taps{0, 0, 1, 3, 3}, w, wT, s);
    return run_v6<true>(algo, p.N, p.P(), p.Q(), p.K, p.H, p.W, p.C, 2 - p.pad,
                        dy, wT, tg::BiasActEpi{dx, p.C, nullptr, nullptr, 0, nullptr}, s);
  }
  if (halo_tile(algo) && tg::is_aligned16(dy) && v6_stream_applies(p, true)) {
    // One workspace call: wT (C, 3, 3, K) as above, then the split-K partials.
    const size_t wt_bytes = cuda::align256(sizeof(float) * size_t(wsize));
    cuda::halo_stream::Params hp = stream_params(p, true, dy, nullptr);
    char* ws = static_cast<char*>(cuda::workspace(wt_bytes + stream_part_bytes(hp), s));
    float* wT = reinterpret_cast<float*>(ws);
    transpose_weight(g, cuda::dgrad::Taps{0, 0, 1, 3, 3}, w, wT, s);
    hp.w = wT;
    return run_v6_stream<true>(algo, hp, tg::BiasActEpi{dx, p.C, nullptr, nullptr, 0, nullptr},
                               reinterpret_cast<float*>(ws + wt_bytes), s);
  }
  if (halo_tile(algo) && v6_narrow_c_dgrad_applies(p)) return run_v6_narrow_c_dgrad(p, dy, w, dx, s);
  const bool v4 = multistage(algo) && v4_backward_data_applies(p, dy);
  if (v4 && p.stride > 1) return backward_data_v4_strided(p, dy, w, dx, algo, s);
  const int M = p.N * p.H * p.W, Kred = p.R * p.S * p.K;
  const tg::SplitPlan sp4 = v4 ? v4_plan(M, p.C, Kred) : tg::SplitPlan{};
  // One workspace call for both: wT (C, R, S, K), then the split-K partials (splits, M, C).
  const size_t wt_bytes = cuda::align256(sizeof(float) * size_t(wsize));
  const size_t part_bytes = sp4.splits > 1 ? sizeof(float) * size_t(sp4.splits) * M * p.C : 0;
  char* ws = static_cast<char*>(cuda::workspace(wt_bytes + part_bytes, s));
  float* wT = reinterpret_cast<float*>(ws);
  const cuda::dgrad::Taps all_taps{0, 0, 1, p.R, p.S};
  transpose_weight(g, all_taps, w, wT, s);
  const tg::BiasActEpi epi{dx, p.C, nullptr, nullptr, 0, nullptr};
  if (v4) return run_v4(algo, M, p.C, Kred, sp4, bwd_data_a(p, dy), wT, epi, reinterpret_cast<float*>(ws + wt_bytes), s);
  const auto pr = tg::conv_bwd_data_problem(p, dy, wT);
  const tg::Flavour f = flavour_of(algo);
  tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, tg::plan_splits(f, pr.M, pr.N, pr.Kred, 1), pr.a, pr.b, epi, s);
}

void conv2d_backward_weight_cuda(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                                 float* db, ConvAlgo algo, Stream s) {
  check_params(p, "conv2d_backward_weight_cuda");
  check_algo(algo, "conv2d_backward_weight_cuda");
  if (p.N == 0) {
    // Nothing to sum: the gradients are zero, for every variant (cuDNN rejects empty tensors, and
    // the paths that put the images on a grid axis would launch an empty grid).
    CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(float) * size_t(p.K) * p.R * p.S * p.C, s));
    if (db) CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * size_t(p.K), s));
    return;
  }
  if (algo == ConvAlgo::cudnn) return conv2d_backward_weight_cudnn(p, x, dy, dw, db, s);
  const tg::ConvGeom g = geom(p);
  const int npix = p.N * p.P() * p.Q();
  const int RSC = p.R * p.S * p.C;
  if (multistage(algo) && p.K <= 4) {
    if (halo_tile(algo) && v6_tail_wgrad_applies(p, x))
      run_v6_tail_wgrad(p, x, dy, dw, s);
    else
      run_narrow_n_wgrad(p, x, dy, dw, s);
    if (db) column_sum_cuda(dy, npix, p.K, db, s);  // after the reduction that read the partials
    return;
  }
  if (halo_tile(algo) && v6_halo_wgrad_applies(p, x, dy)) {
    run_v6_halo_wgrad(p, x, dy, dw, s);
    if (db) column_sum_cuda(dy, npix, p.K, db, s);  // after the reduction that read the partials
    return;
  }
  if (halo_tile(algo) && v6_narrow_c_wgrad_applies(p, dy)) {
    run_v6_narrow_c_wgrad(p, x, dy, dw, s);
    if (db) column_sum_cuda(dy, npix, p.K, db, s);  // after the reduction that read the partials
    return;
  }
  if (multistage(algo) && v4_backward_weight_applies(p, x, dy)) {
    // dW (K, R*S*C) = dy^T (K, pixels) * im2col(x) (pixels, R*S*C), split over the pixels.
    const tg::SplitPlan sp = tg4::plan_splits(p.K, RSC, npix, tg4::block_m_mn_for(p.K), 128, 64);
    const tg4::DyT::Params a{dy, p.K, npix};
    const tg4::XCol::Params b{x, p.N, p.H, p.W, p.C, p.R, p.S, p.P(), p.Q(), p.stride, p.pad};
    const tg::BiasActEpi out{dw, RSC, nullptr, nullptr, 0, nullptr};
    auto launch = [&](const auto& epi) {
      if (bf16_operands(algo))
        return tg4::launch_multistage_mn<tg4::Mma::bf16>(p.K, RSC, npix, sp, a, b, epi, s);
      tg4::launch_multistage_mn<tg4::Mma::tf32>(p.K, RSC, npix, sp, a, b, epi, s);
    };
    if (sp.splits == 1) {
      launch(out);
    } else {
      float* part = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(sp.splits) * p.K * RSC, s));
      launch(tg::PartialEpi{part, RSC, int64_t(p.K) * RSC});
      tg::launch_splitk_reduce(p.K, RSC, sp.splits, part, out, s);
    }
    if (db) column_sum_cuda(dy, npix, p.K, db, s);  // after the reduction that read the partials
    return;
  }
  const tg::Flavour f = flavour_of(algo);
  const tg::SplitPlan sp = algo == ConvAlgo::v1_direct ? tg::SplitPlan{} : tg::plan_splits(f, p.K, RSC, npix, 64);

  // Split-K partials (splits, K, R*S*C) live in the workspace.
  float* part = sp.splits > 1
                    ? static_cast<float*>(cuda::workspace(sizeof(float) * size_t(sp.splits) * p.K * RSC, s))
                    : nullptr;

  if (algo == ConvAlgo::v1_direct) {
    const int64_t warps = int64_t(p.K) * RSC;
    conv2d_backward_weight_kernel_v1_direct<<<cuda::grid_for(warps * 32, kThreads, 65536), kThreads, 0, s>>>(g, x, dy, dw);
    SRGAN_LAUNCH_CHECK(s);
  } else {
    const auto pr = tg::conv_bwd_weight_problem(p, x, dy);
    const tg::BiasActEpi out{dw, RSC, nullptr, nullptr, 0, nullptr};
    if (sp.splits == 1) {
      tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, sp, pr.a, pr.b, out, s);
    } else {
      const tg::PartialEpi pe{part, RSC, int64_t(p.K) * RSC};
      tg::launch_tile_gemm(f, pr.M, pr.N, pr.Kred, sp, pr.a, pr.b, pe, s);
      tg::launch_splitk_reduce(p.K, RSC, sp.splits, part, out, s);
    }
  }
  // db[k] = sum over pixels of dy[., k]. It may reuse the workspace: stream order puts it
  // after the split-K reduction that last read the partials.
  if (db) column_sum_cuda(dy, npix, p.K, db, s);
}

}  // namespace srgan::kern
