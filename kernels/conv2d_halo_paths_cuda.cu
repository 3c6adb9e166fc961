// The passes of conv2d v6, v7 and v8 that their own kernels run (see conv2d_halo_paths.h): for
// each path, when it applies (`*_applies`) and its host side (`run_*`: the kernel's parameters,
// workspace and split-K reduction), then the three entry points that try them in order.
#include "kernels/conv2d_halo_paths.h"

#include "kernels/conv2d_halo_cuda.cuh"
#include "kernels/conv2d_halo_stream_cuda.cuh"
#include "kernels/conv2d_halo_wgmma.h"
#include "kernels/conv2d_halo_wgrad_cuda.cuh"
#include "kernels/conv2d_narrow_c_cuda.cuh"
#include "kernels/conv2d_narrow_c_wgrad_cuda.cuh"
#include "kernels/conv2d_tail_halo_cuda.cuh"
#include "kernels/conv2d_tail_wgrad_cuda.cuh"
#include "kernels/conv2d_weight_transpose.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"
#include "kernels/tile_gemm.cuh"
#include "kernels/tile_gemm_multistage.cuh"

namespace srgan::kern::conv2d_halo {
namespace {

namespace tg = cuda::tg;
namespace tg4 = cuda::tg4;

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

}  // namespace

bool is_halo_algo(ConvAlgo algo) {
  return algo == ConvAlgo::v6_halo_tile_tf32 || algo == ConvAlgo::v7_halo_tile_bf16 ||
         algo == ConvAlgo::v8_halo_wgmma_tf32;
}

bool forward(const Conv2dParams& p, const float* x, const float* w, const tg::BiasActEpi& epi, ConvAlgo algo,
             cudaStream_t s) {
  if (!is_halo_algo(algo)) return false;
  const bool tail = v6_tail_applies(p, x);
  if (tail || v6_applies(p, p.C, p.K, x)) {
    // Misaligned weights (the parameter arena) go to the workspace first, as for v4.
    if (!tg::is_aligned16(w)) {
      const size_t w_bytes = sizeof(float) * size_t(p.K) * p.R * p.S * p.C;
      void* ws = cuda::workspace(w_bytes, s);
      CUDA_CHECK(cudaMemcpyAsync(ws, w, w_bytes, cudaMemcpyDeviceToDevice, s));
      w = static_cast<const float*>(ws);
    }
    if (tail) run_v6_tail(p, x, w, epi, s);
    else run_v6<false>(algo, p.N, p.H, p.W, p.C, p.P(), p.Q(), p.K, p.pad, x, w, epi, s);
    return true;
  }
  if (tg::is_aligned16(x) && v6_stream_applies(p, false)) {
    // One workspace call: an aligned copy of misaligned weights, then the split-K partials.
    cuda::halo_stream::Params hp = stream_params(p, false, x, w);
    const size_t w_bytes = tg::is_aligned16(w) ? 0 : cuda::align256(sizeof(float) * size_t(p.K) * 9 * p.C);
    const size_t part_bytes = stream_part_bytes(hp);
    char* ws = w_bytes + part_bytes ? static_cast<char*>(cuda::workspace(w_bytes + part_bytes, s)) : nullptr;
    if (w_bytes) {
      CUDA_CHECK(cudaMemcpyAsync(ws, w, sizeof(float) * size_t(p.K) * 9 * p.C, cudaMemcpyDeviceToDevice, s));
      hp.w = reinterpret_cast<const float*>(ws);
    }
    run_v6_stream<false>(algo, hp, epi, reinterpret_cast<float*>(ws + w_bytes), s);
    return true;
  }
  if (v6_narrow_c_applies(p.C, p.K, p)) {
    run_v6_narrow_c_forward(p, x, w, epi, s);
    return true;
  }
  return false;
}

bool backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx, ConvAlgo algo, cudaStream_t s) {
  if (!is_halo_algo(algo)) return false;
  const tg::ConvGeom g = tg::conv_geom(p);
  const int64_t wsize = int64_t(p.K) * p.R * p.S * p.C;
  const tg::BiasActEpi epi{dx, p.C, nullptr, nullptr, 0, nullptr};
  if (v6_applies(p, p.K, p.C, dy)) {
    // dx = dy correlated with the transposed filter (C, 3, 3, K) turned half a turn; dy's pixel
    // (h - (2 - pad) + r, w - (2 - pad) + s) meets tap (2 - r, 2 - s).
    float* wT = static_cast<float*>(cuda::workspace(sizeof(float) * size_t(wsize), s));
    cuda::transpose_conv_weight(g, cuda::dgrad::Taps{0, 0, 1, 3, 3}, w, wT, s);
    run_v6<true>(algo, p.N, p.P(), p.Q(), p.K, p.H, p.W, p.C, 2 - p.pad, dy, wT, epi, s);
    return true;
  }
  if (tg::is_aligned16(dy) && v6_stream_applies(p, true)) {
    // One workspace call: wT (C, 3, 3, K) as above, then the split-K partials.
    const size_t wt_bytes = cuda::align256(sizeof(float) * size_t(wsize));
    cuda::halo_stream::Params hp = stream_params(p, true, dy, nullptr);
    char* ws = static_cast<char*>(cuda::workspace(wt_bytes + stream_part_bytes(hp), s));
    float* wT = reinterpret_cast<float*>(ws);
    cuda::transpose_conv_weight(g, cuda::dgrad::Taps{0, 0, 1, 3, 3}, w, wT, s);
    hp.w = wT;
    run_v6_stream<true>(algo, hp, epi, reinterpret_cast<float*>(ws + wt_bytes), s);
    return true;
  }
  if (v6_narrow_c_dgrad_applies(p)) {
    run_v6_narrow_c_dgrad(p, dy, w, dx, s);
    return true;
  }
  return false;
}

bool backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw, ConvAlgo algo, cudaStream_t s) {
  if (!is_halo_algo(algo)) return false;
  if (p.K <= 4) {  // the tail's, or v4's narrow-N weight gradient (the caller's)
    if (!v6_tail_wgrad_applies(p, x)) return false;
    run_v6_tail_wgrad(p, x, dy, dw, s);
    return true;
  }
  if (v6_halo_wgrad_applies(p, x, dy)) {
    run_v6_halo_wgrad(p, x, dy, dw, s);
    return true;
  }
  if (v6_narrow_c_wgrad_applies(p, dy)) {
    run_v6_narrow_c_wgrad(p, x, dy, dw, s);
    return true;
  }
  return false;
}

}  // namespace srgan::kern::conv2d_halo
