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
// Where each part lives: the v1 kernels in conv2d_v1_cuda.cu; the filter transpose of the
// backward-data paths in conv2d_weight_transpose_cuda.cu; the passes of v6, v7 and v8's own
// kernels (halo tiles, tail, narrow-C, halo weight gradient) in conv2d_halo_paths_cuda.cu; here the
// checks, v2 to v5's paths (tile_gemm.cuh, tile_gemm_multistage.cuh and their narrow-N and strided
// backward-data forms) and the dispatch of the three passes.
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
#include "kernels/conv2d_halo_paths.h"
#include "kernels/conv2d_v1.h"
#include "kernels/conv2d_weight_transpose.h"

namespace srgan::kern {
namespace {

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

namespace tg4 = cuda::tg4;

// v4 and v5: the multistage engine (the same paths), with TF32 or BF16 operands; v6, v7 and v8 run
// v4's and v5's paths where their own (conv2d_halo_paths.h) do not apply.
bool multistage(ConvAlgo algo) {
  return algo == ConvAlgo::v4_implicit_gemm_tf32_multistage || algo == ConvAlgo::v5_implicit_gemm_bf16_multistage ||
         conv2d_halo::is_halo_algo(algo);
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
  if (conv2d_halo::bf16_operands(algo))
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
    cuda::transpose_conv_weight(g, j.ph.taps, w, wT, s);
    const tg4::ImplicitA::Params a{dy, j.M, p.P(), p.Q(), p.K, j.ph.taps.R, j.ph.taps.S, j.ph.Hp, j.ph.Wp,
                                   1, j.ph.oh, j.ph.ow, -1};
    const dg::PhaseScatterEpi epi{dx, p.C, p.H, p.W, p.stride, j.ph.a, j.ph.b, j.ph.Hp, j.ph.Wp};
    run_v4(algo, j.M, p.C, j.Kred, j.sp, a, wT, epi, part, s);
  }
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
  if (algo == ConvAlgo::v1_direct) return cuda::conv_v1::forward(geom(p), x, w, epi, s);
  if (conv2d_halo::forward(p, x, w, epi, algo, s)) return;
  if (multistage(algo) && v4_narrow_n_applies(p)) return run_narrow_n(p, x, w, epi, s);
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
  if (algo == ConvAlgo::v1_direct) return cuda::conv_v1::backward_data(g, dy, w, dx, s);
  if (conv2d_halo::backward_data(p, dy, w, dx, algo, s)) return;
  const int64_t wsize = int64_t(p.K) * p.R * p.S * p.C;
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
  cuda::transpose_conv_weight(g, all_taps, w, wT, s);
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
  if (conv2d_halo::backward_weight(p, x, dy, dw, algo, s)) {
    if (db) column_sum_cuda(dy, npix, p.K, db, s);  // after the reduction that read the partials
    return;
  }
  if (multistage(algo) && p.K <= 4) {
    run_narrow_n_wgrad(p, x, dy, dw, s);
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
      if (conv2d_halo::bf16_operands(algo))
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
    cuda::conv_v1::backward_weight(g, x, dy, dw, s);
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
