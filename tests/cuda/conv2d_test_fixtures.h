// Shared by the CUDA convolution tests (test_conv2d*.cpp): the shape record, the variant lists,
// the double-precision reference of the three passes on fresh random data, the tolerances of each
// variant's arithmetic (TF32 truncation, BF16 rounding, cuDNN's transforms), the bfloat16 rounding
// the BF16 variants are held to, and a helper that runs all three passes of one algorithm.
#pragma once
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/cuda/cuda_test_util.h"

namespace srgan::test::conv {

using namespace srgan::kern;

struct Shape {
  const char* what;
  int N, H, W, C, K, R, S, stride, pad;
};

// Every variant of the table (conv2d.h), ours first; the baselines where with_baselines keeps them.
inline std::vector<ConvAlgo> ours() {
  std::vector<ConvAlgo> v;
  for (const ConvVariant& c : conv_variants())
    if (!c.library) v.push_back(c.algo);
  return v;
}
inline std::vector<ConvAlgo> all_variants() {
  std::vector<ConvAlgo> v = ours();
  for (const ConvVariant& c : conv_variants())
    if (c.library && baselines_available()) v.push_back(c.algo);
  return v;
}
inline const std::vector<ConvAlgo> kAlgos = all_variants();

inline Conv2dParams params(const Shape& s) {
  Conv2dParams p;
  p.N = s.N; p.H = s.H; p.W = s.W; p.C = s.C; p.K = s.K; p.R = s.R; p.S = s.S;
  p.stride = s.stride; p.pad = s.pad;
  return p;
}

// The CUDA emulator runs a kernel some 10^4 times slower than a GPU: there a shape over 5e7 flops
// runs at batch 1, and one still over 2e8 flops is left to the GPU run (false). Batch only adds
// rows to the same tiles; the paths a layer takes (tile sizes, partial tiles, strides, split-K,
// the 16-byte loads) are set by its channels, filter and sides, which stay. Elsewhere the shape
// runs as written (SRGAN_TEST_SMALL keeps only the small ones for compute-sanitizer).
inline bool fit_to_machine(Shape& s) {
  if (small_only() && params(s).flops() > 2e7) return false;
#ifdef SRGAN_CUDA_EMU
  if (params(s).flops() > 5e7) s.N = 1;
  return params(s).flops() <= 2e8;
#else
  return true;
#endif
}

inline std::string describe(const Shape& s) {
  std::ostringstream os;
  os << s.what << ": N=" << s.N << " H=" << s.H << " W=" << s.W << " C=" << s.C << " K=" << s.K
     << " R=" << s.R << " S=" << s.S << " stride=" << s.stride << " pad=" << s.pad;
  return os.str();
}

// The plain loops are the ground truth; for the big shapes the im2col + BLAS path (itself
// tested against the loops in test_kernels_cpu) keeps the reference time to a second or two.
inline bool use_gemm_ref(const Conv2dParams& p) { return p.flops() > 2e8; }

// k = number of products summed into one output of the pass.
inline Tol tol_for(ConvAlgo a, double k) {
  if (a == ConvAlgo::v3_implicit_gemm_tf32) return tol_tf32(k);
  // v4 truncates its inputs to TF32 (relative error <= 2^-10, one-sided) where v3 rounds them
  // (<= 2^-11): twice v3's tolerance. Its fallbacks (v3) pass the same bound. v6 and v8 (the
  // tensor core reads the TF32 bits of wgmma's shared-memory operands) truncate too.
  if (a == ConvAlgo::v4_implicit_gemm_tf32_multistage || a == ConvAlgo::v6_halo_tile_tf32 ||
      a == ConvAlgo::v8_halo_wgmma_tf32) {
    const Tol t = tol_tf32(k);
    return {2 * t.atol, 2 * t.rtol};
  }
  if (a == ConvAlgo::v5_implicit_gemm_bf16_multistage || a == ConvAlgo::v7_halo_tile_bf16) return tol_bf16(k);
  // cuDNN may pick Winograd or FFT algorithms, whose transforms add rounding: 10x looser.
  if (a == ConvAlgo::cudnn) {
    Tol t = tol_fp32(k);
    return {t.atol * 10, t.rtol * 10};
  }
  return tol_fp32(k);
}

struct Data {
  Conv2dParams p;
  size_t nx, nw, ny;
  std::vector<float> x, w, b, dy;
  std::vector<double> y_ref, dx_ref, dw_ref, db_ref;
};

inline Data make(const Shape& s, uint64_t seed) {
  Data d;
  d.p = params(s);
  const Conv2dParams& p = d.p;
  d.nx = size_t(p.N) * p.H * p.W * p.C;
  d.nw = size_t(p.K) * p.R * p.S * p.C;
  d.ny = size_t(p.N) * p.P() * p.Q() * p.K;
  d.x = random_vector<float>(d.nx, seed);
  d.w = random_vector<float>(d.nw, seed + 1);
  d.b = random_vector<float>(size_t(p.K), seed + 2);
  d.dy = random_vector<float>(d.ny, seed + 3);
  const auto x = to_double(d.x), w = to_double(d.w), b = to_double(d.b), dy = to_double(d.dy);
  d.y_ref.resize(d.ny);
  d.dx_ref.resize(d.nx);
  d.dw_ref.resize(d.nw);
  d.db_ref.resize(size_t(p.K));
  if (use_gemm_ref(p)) {
    conv2d_forward_cpu_gemm(p, x.data(), w.data(), b.data(), d.y_ref.data());
    conv2d_backward_data_cpu_gemm(p, dy.data(), w.data(), d.dx_ref.data());
    conv2d_backward_weight_cpu_gemm(p, x.data(), dy.data(), d.dw_ref.data(), d.db_ref.data());
  } else {
    conv2d_forward_cpu_ref(p, x.data(), w.data(), b.data(), d.y_ref.data());
    conv2d_backward_data_cpu_ref(p, dy.data(), w.data(), d.dx_ref.data());
    conv2d_backward_weight_cpu_ref(p, x.data(), dy.data(), d.dw_ref.data(), d.db_ref.data());
  }
  return d;
}

// v with one float in front: its copy at element 1 of a device buffer is 4 bytes past a 16-byte
// boundary, as views and the parameter arena's weights may be.
inline std::vector<float> shifted_by_one(const std::vector<float>& v) {
  std::vector<float> o(v.size() + 1, 0.f);
  std::copy(v.begin(), v.end(), o.begin() + 1);
  return o;
}

// The nearest bfloat16 (8 significant bits), ties to even, written from frexp / nearbyint rather
// than the bit trick of the emulator's cvt.
inline double round_bf16(float v) {
  int e = 0;
  const double m = std::frexp(double(v), &e);  // v = m 2^e, |m| in [0.5, 1)
  return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);
}

// Forward, backward-data and backward-weight of one algorithm into fresh (NaN-poisoned) buffers.
struct PassBufs {
  const Conv2dParams& p;
  DevBuf &x, &w, &bias, &dy, &y, &dx, &dw, &db;
  std::vector<std::vector<float>> run(ConvAlgo algo) {
    y.poison();
    conv2d_forward_cuda(p, x, w, bias, y, algo, nullptr);
    dx.poison();
    conv2d_backward_data_cuda(p, dy, w, dx, algo, nullptr);
    dw.poison();
    db.poison();
    conv2d_backward_weight_cuda(p, x, dy, dw, db, algo, nullptr);
    return {y.download(), dx.download(), dw.download()};
  }
};

inline std::vector<double> rounded_bf16(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = round_bf16(v[i]);
  return r;
}

}  // namespace srgan::test::conv
