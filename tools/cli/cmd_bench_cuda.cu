// `srgan bench kernels` (CUDA builds): every hand-written kernel variant against its cuDNN /
// cuBLAS baseline on SRGAN's shapes.
//
// Method: each measurement is warmed up (which also runs cuDNN's one-time algorithm search),
// then timed with a CUDA event pair around every call and the median taken (10-50 calls, fewer
// for slow ones). Inputs rotate between several buffer sets whose total exceeds twice the L2
// cache, so a call does not find its inputs already cached by the previous one. Peaks are
// measured on the same card: a 1 GiB device-to-device cudaMemcpy (read + write bytes / time,
// like ../shared/bench/anchor_gpu.py) and cuBLAS SGEMM at 8192^3 in fp32 and TF32.
// Columns: ms (median), TFLOP/s or GB/s (minimal traffic: each tensor read or written once),
// % of the measured peak (fp32 peak for fp32 kernels, TF32 peak for TF32 ones, copy bandwidth
// for memory-bound ops), speed-up over the baseline (baseline ms / ms), and the PyTorch anchor
// from docs (GUIDE.md section 3, H100, 2026-11-26) where one exists.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/adam.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_fused.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/conv2d_fused.h"
#include "kernels/cuda_check.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/gemm_cublas.h"
#include "kernels/linear.h"
#include "kernels/maxpool.h"
#include "kernels/pixel_shuffle.h"
#include "kernels/prelu.h"
#include "kernels/reduce.h"
#include "tools/cli/bench_kernel_rows.h"
#include "tools/cli/bench_kernels_report.h"
#include "tools/cli/bench_kernels.h"

namespace srgan::app {
namespace {
using namespace srgan::kern;

// ---- device buffers filled with pseudo-random values ------------------------------------------

__global__ void fill_kernel(float* p, size_t n, uint32_t seed, float lo, float hi) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed ^ uint32_t(i >> 32) * 40503u;
    h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
    p[i] = lo + (hi - lo) * (float(h >> 8) * (1.0f / 16777216.0f));
  }
}

// fp32 -> bf16 by truncation (the upper 16 bits): operands for the BF16 peak.
__global__ void to_bf16_kernel(const float* in, uint16_t* out, size_t n) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    uint32_t u;
    memcpy(&u, &in[i], 4);
    out[i] = uint16_t(u >> 16);
  }
}

bool g_fill = true;  // false while counting (bench counters): contents do not matter there

struct Buf {
  float* p = nullptr;
  size_t n = 0;
  Buf() = default;
  explicit Buf(size_t count, uint32_t seed = 1, float lo = -1.f, float hi = 1.f) : n(count) {
    CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)));
    if (n && g_fill) {
      fill_kernel<<<1024, 256>>>(p, n, seed, lo, hi);
      SRGAN_LAUNCH_CHECK(nullptr);
    }
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  ~Buf() { if (p) (void)cudaFree(p); }
  operator float*() const { return p; }
};

// R rotating copies of an input.
struct Rot {
  std::vector<Buf> b;
  Rot(int R, size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    for (int i = 0; i < R; ++i) b.emplace_back(n, seed + 7919u * uint32_t(i), lo, hi);
  }
  float* operator[](int r) const { return b[size_t(r) % b.size()].p; }
};

// ---- timing ------------------------------------------------------------------------------------

// --tiny shrinks every shape: batch 1, sides / 8 (at least 4), GEMM sides / 64 (at least 16).
int tiny_batch(const Env& e, int n) { return e.tiny ? 1 : n; }
int tiny_side(const Env& e, int h) { return e.tiny ? std::max(4, h / 8) : h; }
int tiny_gemm(const Env& e, int n) { return e.tiny ? std::max(16, n / 64) : n; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Median ms of fn(rotation) over adaptive repetitions, each bracketed by CUDA events.
// after_probe (optional) runs once the first timed call has finished (rotation `warm`, the same
// for every variant), to read its outputs.
double time_ms(const Env& env, const std::function<void(int)>& fn, const std::function<void()>& after_probe = {}) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  auto once = [&](int r) {
    CUDA_CHECK(cudaEventRecord(a, nullptr));
    fn(r);
    CUDA_CHECK(cudaEventRecord(b, nullptr));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return double(ms);
  };
  double result = 0.0;
  try {
    const int warm = env.tiny || env.once ? 0 : env.quick ? 1 : 3;
    for (int i = 0; i < warm; ++i) fn(i);
    CUDA_CHECK(cudaDeviceSynchronize());
    const double probe = once(warm);
    if (after_probe) after_probe();
    int iters = env.quick ? 5 : int(std::clamp(400.0 / std::max(probe, 1e-3), 10.0, 50.0));
    if (probe > 50.0) iters = 3;  // very slow variants (v1 at large shapes)
    if (env.tiny) iters = 1;
    if (env.once) iters = 0;  // the probe is the one call
    std::vector<double> t;
    for (int i = 0; i < iters; ++i) t.push_back(once(warm + 1 + i));
    result = t.empty() ? probe : median(t);
  } catch (...) {
    (void)cudaEventDestroy(a);
    (void)cudaEventDestroy(b);
    throw;
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  return result;
}

// Enough rotating input sets that together they exceed twice the L2 cache (2..6 sets).
int rotations(const Env& env, double set_bytes) {
  if (env.counting || env.once) return 1;
  const double want = std::ceil(2.0 * double(env.l2_bytes) / std::max(set_bytes, 1.0));
  return int(std::clamp(want, 2.0, 6.0));
}

// ---- rows --------------------------------------------------------------------------------------

// A tensor a row writes, read back after one call for the result check (bench_output_check.h).
struct OutBuf {
  const char* name;
  const float* p;
  size_t n;
};

std::vector<NamedOutput> download(const std::vector<OutBuf>& outs) {
  std::vector<NamedOutput> got;
  for (const OutBuf& o : outs) {
    NamedOutput d{o.name, std::vector<float>(o.n)};
    CUDA_CHECK(cudaMemcpy(d.values.data(), o.p, o.n * sizeof(float), cudaMemcpyDeviceToHost));
    got.push_back(std::move(d));
  }
  return got;
}

// Times `fn` as a row; a failure (e.g. an unsupported cuDNN configuration) is recorded, not fatal.
// `outs`: what the row writes, checked against the group's reference when the group closes
// (set_baseline); rows without outputs are timed unchecked (single-variant ops, in-place updates).
void add(Report& rep, Row r, const std::function<void(int)>& fn, const std::vector<OutBuf>& outs = {}) {
  if (rep.env.tiny) r.anchor_ms = 0;  // the anchors are for the real shapes
  if (!rep.shape_wanted(r.shape)) return;
  if (rep.sink) {
    rep.sink(rep, std::move(r), fn);
    return;
  }
  std::fprintf(stderr, "  %-22s %-28s %-22s ...", r.op.c_str(), r.shape.c_str(), r.variant.c_str());
  std::vector<NamedOutput> got;
  try {
    r.ms = time_ms(rep.env, fn, [&] { got = download(outs); });
    std::fprintf(stderr, " %.4f ms\n", r.ms);
    if (!outs.empty()) rep.pending_outputs.emplace_back(rep.rows.size(), std::move(got));
  } catch (const std::exception& e) {
    r.error = e.what();
    ++rep.failures;
    std::fprintf(stderr, " FAILED: %s\n", e.what());
    (void)cudaGetLastError();
  }
  rep.rows.push_back(r);
}

// Closes a group of rows (one op, one shape): their speed-up over base_variant, and each row's
// outputs against the reference: base_variant's, or where it did not run (the emulator has no
// cuDNN / cuBLAS) the first row's that did. A row outside the tolerance becomes a failure.
InputRounding rounding_of(Peak p) {
  return p == Peak::bf16 ? InputRounding::bf16 : p == Peak::tf32 ? InputRounding::tf32 : InputRounding::fp32;
}

void set_baseline(Report& rep, size_t first, const std::string& base_variant) {
  double base = 0;
  for (size_t i = first; i < rep.rows.size(); ++i)
    if (rep.rows[i].variant == base_variant && rep.rows[i].error.empty()) base = rep.rows[i].ms;
  for (size_t i = first; i < rep.rows.size(); ++i) rep.rows[i].base_ms = base;

  auto& pend = rep.pending_outputs;
  size_t ref = 0;
  for (size_t k = 0; k < pend.size(); ++k)
    if (rep.rows[pend[k].first].variant == base_variant) ref = k;
  if (!pend.empty()) {
    Row& rr = rep.rows[pend[ref].first];
    rr.is_reference = true;
    for (size_t k = 0; k < pend.size(); ++k) {
      if (k == ref) continue;
      Row& r = rep.rows[pend[k].first];
      const double tol = output_tolerance(coarser(rounding_of(r.peak), rounding_of(rr.peak)));
      const OutputComparison c = compare_outputs(pend[k].second, pend[ref].second, tol);
      r.max_err = c.max_err;
      r.checked_vs = rr.variant;
      if (!c.ok) {
        std::ostringstream os;
        os << "wrong result: " << c.worst << " differs from " << rr.variant << " by " << c.max_err
           << " of its largest value (tolerance " << tol << ")";
        r.error = os.str();
        ++rep.failures;
        std::fprintf(stderr, "  %s %s %s: %s\n", r.op.c_str(), r.shape.c_str(), r.variant.c_str(), r.error.c_str());
      }
    }
  }
  pend.clear();
}

std::string conv_shape(const Conv2dParams& p) {
  std::ostringstream os;
  os << p.N << "x" << p.H << "x" << p.W << "x" << p.C << " " << p.R << "x" << p.S << "->" << p.K;
  if (p.stride != 1) os << " s" << p.stride;
  return os.str();
}

// ---- peaks -------------------------------------------------------------------------------------

// A peak that cannot be measured (cuBLAS failing, say) stays 0, and so does its %peak column.
void measure_peaks(Env& env) {
  std::fprintf(stderr, "measuring peaks...\n");
  try {
    // floats: 256 MiB / 1 GiB (--tiny: 256 KiB)
    const size_t n = env.tiny ? (size_t(1) << 16) : env.quick ? (size_t(64) << 20) : (size_t(256) << 20);
    Buf a(n, 1), b(n, 2);
    const double ms = time_ms(env, [&](int) {
      CUDA_CHECK(cudaMemcpyAsync(b.p, a.p, n * sizeof(float), cudaMemcpyDeviceToDevice, nullptr));
    });
    env.copy_GBps = 2.0 * double(n) * sizeof(float) / (ms * 1e-3) / 1e9;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "copy peak not measured: %s\n", e.what());
    (void)cudaGetLastError();
  }
  try {
    const int n = env.tiny ? 256 : env.quick ? 4096 : 8192;
    Buf A(size_t(n) * n, 3), B(size_t(n) * n, 4), C(size_t(n) * n, 5);
    GemmParams g;
    g.M = g.N = g.K = n;
    g.lda = g.ldb = g.ldc = n;
    for (bool tf32 : {false, true}) {
      gemm_cublas_set_allow_tf32(tf32);
      const double ms = time_ms(env, [&](int) { gemm_cublas(g, A, B, C, nullptr); });
      (tf32 ? env.tf32_TFLOPs : env.fp32_TFLOPs) = 2.0 * double(n) * n * n / (ms * 1e-3) / 1e12;
    }
    gemm_cublas_set_allow_tf32(false);
    // BF16 operands (n x n each, two to a float of A / B), values of [-1, 1) from A and B.
    Buf A16(size_t(n) * n / 2), B16(size_t(n) * n / 2);
    to_bf16_kernel<<<1024, 256>>>(A.p, reinterpret_cast<uint16_t*>(A16.p), size_t(n) * n);
    to_bf16_kernel<<<1024, 256>>>(B.p, reinterpret_cast<uint16_t*>(B16.p), size_t(n) * n);
    SRGAN_LAUNCH_CHECK(nullptr);
    const double ms = time_ms(env, [&](int) { gemm_cublas_bf16_square(n, A16.p, B16.p, C, nullptr); });
    env.bf16_TFLOPs = 2.0 * double(n) * n * n / (ms * 1e-3) / 1e12;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuBLAS peaks not measured: %s\n", e.what());
    gemm_cublas_set_allow_tf32(false);
    (void)cudaGetLastError();
  }
  std::fprintf(stderr, "peaks: copy %.0f GB/s, cuBLAS fp32 %.1f TFLOP/s, TF32 %.1f TFLOP/s, BF16 %.1f TFLOP/s\n",
               env.copy_GBps, env.fp32_TFLOPs, env.tf32_TFLOPs, env.bf16_TFLOPs);
}

// ---- convolution -------------------------------------------------------------------------------

Peak peak_of(ConvMath m) { return m == ConvMath::bf16 ? Peak::bf16 : m == ConvMath::tf32 ? Peak::tf32 : Peak::fp32; }

struct BenchConvVariant {
  const char* name;
  ConvAlgo algo;
  bool cudnn_tf32;
  Peak peak;
};

void bench_conv(Report& rep, const Conv2dParams& p, bool with_v1, double anchor_fwd, double anchor_fb) {
  if (!rep.wanted("conv2d")) return;
  const size_t nx = size_t(p.N) * p.H * p.W * p.C, ny = size_t(p.N) * p.P() * p.Q() * p.K,
               nw = size_t(p.K) * p.R * p.S * p.C;
  const int R = rotations(rep.env, double(nx + ny) * sizeof(float));
  Rot x(R, nx, 11), dy(R, ny, 12);
  Buf w(nw, 13, -0.1f, 0.1f), b(size_t(p.K), 14), y(ny), dx(nx), dw(nw), db{size_t(p.K)};
  // The variant table (conv2d.h): cuDNN twice (fp32 and TF32), v1 only where asked (slow).
  std::vector<BenchConvVariant> vars;
  for (const ConvVariant& v : conv_variants()) {
    if (v.library) {
      vars.push_back({v.name, v.algo, false, Peak::fp32});
      vars.push_back({"cudnn_tf32", v.algo, true, Peak::tf32});
    } else if (v.algo != ConvAlgo::v1_direct || with_v1) {
      vars.push_back({v.name, v.algo, false, peak_of(v.math)});
    }
  }
  const std::string shape = conv_shape(p);
  for (int pass = 0; pass < 2; ++pass) {
    const size_t first = rep.rows.size();
    for (const auto& v : vars) {
      conv2d_cudnn_set_allow_tf32(v.cudnn_tf32);
      Row r;
      r.op = pass == 0 ? "conv2d fwd" : "conv2d fwd+bwd";
      r.shape = shape;
      r.variant = v.name;
      r.work = (pass == 0 ? 1.0 : 3.0) * p.flops();
      r.peak = v.peak;
      r.anchor_ms = pass == 0 ? anchor_fwd : anchor_fb;
      std::vector<OutBuf> outs = {{"y", y, ny}};
      if (pass == 1) outs.insert(outs.end(), {{"dx", dx, nx}, {"dw", dw, nw}, {"db", db, size_t(p.K)}});
      add(rep, r, [&](int i) {
        conv2d_forward_cuda(p, x[i], w, b, y, v.algo, nullptr);
        if (pass == 1) {
          conv2d_backward_data_cuda(p, dy[i], w, dx, v.algo, nullptr);
          conv2d_backward_weight_cuda(p, x[i], dy[i], dw, db, v.algo, nullptr);
        }
      }, outs);
    }
    conv2d_cudnn_set_allow_tf32(false);
    set_baseline(rep, first, "cudnn");
  }
}

// conv + bias + PReLU: fused epilogue against conv then a separate PReLU kernel.
void bench_conv_prelu(Report& rep, const Conv2dParams& p) {
  if (!rep.wanted("conv2d+prelu")) return;
  const size_t nx = size_t(p.N) * p.H * p.W * p.C, ny = size_t(p.N) * p.P() * p.Q() * p.K,
               nw = size_t(p.K) * p.R * p.S * p.C;
  const int R = rotations(rep.env, double(nx + ny) * sizeof(float));
  Rot x(R, nx, 21);
  Buf w(nw, 22, -0.1f, 0.1f), b(size_t(p.K), 23), a(1, 24), y(ny), z(ny);
  PreluParams pp;
  pp.M = int64_t(p.N) * p.P() * p.Q();
  pp.C = p.K;
  pp.per_channel = false;
  const size_t first = rep.rows.size();
  Row r;
  r.op = "conv2d+prelu fwd";
  r.shape = conv_shape(p);
  r.work = p.flops();
  r.peak = Peak::fp32;
  r.variant = "cudnn + prelu";
  const std::vector<OutBuf> outs = {{"y", y, ny}, {"pre", z, ny}};
  add(rep, r, [&](int i) {
    conv2d_bias_prelu_forward_cuda(p, x[i], w, b, a, false, y, z, ConvAlgo::cudnn, nullptr);
  }, outs);
  r.peak = Peak::tf32;
  r.variant = "v3 + prelu (unfused)";
  add(rep, r, [&](int i) {
    conv2d_forward_cuda(p, x[i], w, b, z, ConvAlgo::v3_implicit_gemm_tf32, nullptr);
    prelu_forward_cuda(pp, z, a, y, nullptr);
  }, outs);
  r.variant = "v3 fused epilogue";
  add(rep, r, [&](int i) {
    conv2d_bias_prelu_forward_cuda(p, x[i], w, b, a, false, y, z, ConvAlgo::v3_implicit_gemm_tf32, nullptr);
  }, outs);
  r.variant = "v4 fused epilogue";
  add(rep, r, [&](int i) {
    conv2d_bias_prelu_forward_cuda(p, x[i], w, b, a, false, y, z, ConvAlgo::v4_implicit_gemm_tf32_multistage, nullptr);
  }, outs);
  set_baseline(rep, first, "cudnn + prelu");
}

// ---- memory-bound ops ----------------------------------------------------------------------------

std::string nhwc(int N, int H, int W, int C) {
  std::ostringstream os;
  os << N << "x" << H << "x" << W << "x" << C;
  return os.str();
}

void bench_batchnorm(Report& rep, int N, int H, int W, int C, double anchor_fwd, double anchor_fb) {
  if (!rep.wanted("batchnorm")) return;  // also batchnorm+prelu
  N = tiny_batch(rep.env, N), H = tiny_side(rep.env, H), W = tiny_side(rep.env, W);
  BatchNormParams p;
  p.M = int64_t(N) * H * W;
  p.C = C;
  const size_t n = size_t(p.M) * C;
  const int R = rotations(rep.env, 2.0 * n * sizeof(float));
  Rot x(R, n, 31, -1.f, 3.f), dy(R, n, 32);
  Buf g(size_t(C), 33, 0.5f, 1.5f), be(size_t(C), 34), y(n), mean{size_t(C)}, istd{size_t(C)},
      rm(size_t(C), 35), rv(size_t(C), 36, 0.5f, 2.f), dx(n), dg{size_t(C)}, db{size_t(C)};
  for (int pass = 0; pass < 2; ++pass) {
    const size_t first = rep.rows.size();
    for (BatchNormAlgo algo : {BatchNormAlgo::cudnn, BatchNormAlgo::v1_two_pass}) {
      Row r;
      r.op = pass == 0 ? "batchnorm train fwd" : "batchnorm train fwd+bwd";
      r.shape = nhwc(N, H, W, C);
      r.variant = algo == BatchNormAlgo::cudnn ? "cudnn" : "v1_two_pass";
      r.work = (pass == 0 ? 2.0 : 5.0) * n * sizeof(float);
      r.peak = Peak::mem;
      r.anchor_ms = pass == 0 ? anchor_fwd : anchor_fb;
      // The saved statistics are each algorithm's own business (cuDNN's layout may differ); the
      // running statistics accumulate over calls. What the layer computes is compared.
      std::vector<OutBuf> outs = {{"y", y, n}};
      if (pass == 1) outs.insert(outs.end(), {{"dx", dx, n}, {"dgamma", dg, size_t(C)}, {"dbeta", db, size_t(C)}});
      add(rep, r, [&](int i) {
        batchnorm_forward_train_cuda(p, x[i], g, be, y, mean, istd, rm, rv, algo, nullptr);
        if (pass == 1) batchnorm_backward_train_cuda(p, x[i], dy[i], g, mean, istd, dx, dg, db, algo, nullptr);
      }, outs);
    }
    set_baseline(rep, first, "cudnn");
  }
  {
    // SRResNet's residual block applies PReLU right after batch norm: fused apply pass against
    // batch norm then a separate PReLU kernel (one shared slope, as nn.PReLU()).
    Buf a(1, 37, 0.f, 0.5f), z(n);
    PreluParams pp;
    pp.M = p.M;
    pp.C = C;
    const size_t first = rep.rows.size();
    Row r;
    r.op = "batchnorm+prelu fwd";
    r.shape = nhwc(N, H, W, C);
    r.work = 2.0 * n * sizeof(float);
    r.peak = Peak::mem;
    r.variant = "cudnn + prelu";
    const std::vector<OutBuf> outs = {{"y", y, n}, {"pre", z, n}};
    add(rep, r, [&](int i) {
      batchnorm_forward_train_cuda(p, x[i], g, be, z, mean, istd, rm, rv, BatchNormAlgo::cudnn, nullptr);
      prelu_forward_cuda(pp, z, a, y, nullptr);
    }, outs);
    r.variant = "v1 + prelu (unfused)";
    add(rep, r, [&](int i) {
      batchnorm_forward_train_cuda(p, x[i], g, be, z, mean, istd, rm, rv, BatchNormAlgo::v1_two_pass, nullptr);
      prelu_forward_cuda(pp, z, a, y, nullptr);
    }, outs);
    r.variant = "v1 fused";
    add(rep, r, [&](int i) {
      batchnorm_prelu_forward_train_cuda(p, x[i], g, be, a, false, y, z, mean, istd, rm, rv, nullptr);
    }, outs);
    set_baseline(rep, first, "cudnn + prelu");
  }
  Row r;
  r.op = "batchnorm eval fwd";
  r.shape = nhwc(N, H, W, C);
  r.variant = "v1";
  r.work = 2.0 * n * sizeof(float);
  r.peak = Peak::mem;
  add(rep, r, [&](int i) { batchnorm_forward_eval_cuda(p, x[i], g, be, rm, rv, y, nullptr); });
}

void bench_prelu(Report& rep, int N, int H, int W, int C, double anchor_fwd, double anchor_fb) {
  if (!rep.wanted("prelu")) return;
  N = tiny_batch(rep.env, N), H = tiny_side(rep.env, H), W = tiny_side(rep.env, W);
  const size_t n = size_t(N) * H * W * C;
  const int R = rotations(rep.env, 2.0 * n * sizeof(float));
  Rot x(R, n, 41), dy(R, n, 42);
  Buf a(size_t(C), 43, 0.f, 0.5f), y(n), dx(n), da{size_t(C)};
  for (bool per_channel : {false, true}) {
    PreluParams p;
    p.M = int64_t(N) * H * W;
    p.C = C;
    p.per_channel = per_channel;
    for (int pass = 0; pass < 2; ++pass) {
      Row r;
      r.op = pass == 0 ? "prelu fwd" : "prelu fwd+bwd";
      r.shape = nhwc(N, H, W, C);
      r.variant = per_channel ? "v1 per-channel" : "v1 one slope";
      r.work = (pass == 0 ? 2.0 : 5.0) * n * sizeof(float);
      r.peak = Peak::mem;
      r.anchor_ms = per_channel ? 0 : (pass == 0 ? anchor_fwd : anchor_fb);
      add(rep, r, [&](int i) {
        prelu_forward_cuda(p, x[i], a, y, nullptr);
        if (pass == 1) prelu_backward_cuda(p, x[i], a, dy[i], dx, da, nullptr);
      });
    }
  }
}

void bench_pixel_shuffle(Report& rep, int N, int H, int W, int C, double anchor_fwd, double anchor_fb) {
  if (!rep.wanted("pixel_shuffle")) return;
  N = tiny_batch(rep.env, N), H = tiny_side(rep.env, H), W = tiny_side(rep.env, W);
  PixelShuffleParams p;
  p.N = N; p.H = H; p.W = W; p.C = C; p.r = 2;
  const size_t n = size_t(N) * H * W * C;
  const int R = rotations(rep.env, n * sizeof(float));
  Rot x(R, n, 51), dy(R, n, 52);
  Buf y(n), dx(n);
  for (int pass = 0; pass < 2; ++pass) {
    Row r;
    r.op = pass == 0 ? "pixel_shuffle fwd" : "pixel_shuffle fwd+bwd";
    r.shape = nhwc(N, H, W, C) + " r2";
    r.variant = "v1";
    r.work = (pass == 0 ? 2.0 : 4.0) * n * sizeof(float);
    r.peak = Peak::mem;
    r.anchor_ms = pass == 0 ? anchor_fwd : anchor_fb;
    add(rep, r, [&](int i) {
      pixel_shuffle_forward_cuda(p, x[i], y, nullptr);
      if (pass == 1) pixel_shuffle_backward_cuda(p, dy[i], dx, nullptr);
    });
  }
}

void bench_misc(Report& rep) {
  const int N = tiny_batch(rep.env, 16), H = tiny_side(rep.env, 96), W = H, C = 64;
  const size_t n = size_t(N) * H * W * C;
  const int R = rotations(rep.env, 2.0 * n * sizeof(float));
  if (rep.wanted("leaky_relu")) {
    Rot x(R, n, 61), dy(R, n, 62);
    Buf y(n), dx(n);
    ActivationParams p;
    p.n = int64_t(n);
    p.kind = Activation::leaky_relu;
    for (int pass = 0; pass < 2; ++pass) {
      Row r;
      r.op = pass == 0 ? "leaky_relu fwd" : "leaky_relu fwd+bwd";
      r.shape = nhwc(N, H, W, C);
      r.variant = "v1";
      r.work = (pass == 0 ? 2.0 : 5.0) * n * sizeof(float);
      r.peak = Peak::mem;
      add(rep, r, [&](int i) {
        activation_forward_cuda(p, x[i], y, nullptr);
        if (pass == 1) activation_backward_cuda(p, x[i], y, dy[i], dx, nullptr);
      });
    }
  }
  if (rep.wanted("maxpool")) {
    MaxPoolParams p;
    p.N = N; p.H = H; p.W = W; p.C = C;
    const size_t ny = size_t(N) * p.P() * p.Q() * C;
    Rot x(R, n, 63), dy(R, ny, 64);
    Buf y(ny), dx(n);
    Row r;
    r.op = "maxpool2x2 fwd";
    r.shape = nhwc(N, H, W, C);
    r.variant = "v1";
    r.work = double(n + ny) * sizeof(float);
    r.peak = Peak::mem;
    add(rep, r, [&](int i) { maxpool2x2_forward_cuda(p, x[i], y, nullptr); });
    r.op = "maxpool2x2 bwd";
    r.work = double(2 * n + ny) * sizeof(float);
    add(rep, r, [&](int i) { maxpool2x2_backward_cuda(p, x[i], dy[i], dx, nullptr); });
  }
  if (rep.wanted("add")) {
    Rot a(R, n, 65), b(R, n, 66);
    Buf y(n);
    Row r;
    r.op = "add (residual)";
    r.shape = nhwc(N, H, W, C);
    r.variant = "v1";
    r.work = 3.0 * n * sizeof(float);
    r.peak = Peak::mem;
    add(rep, r, [&](int i) { add_cuda(int64_t(n), a[i], b[i], y, nullptr); });
  }
  if (rep.wanted("sum")) {
    Rot a(R, n, 67);
    Buf out(1);
    Row r;
    r.op = "sum";
    r.shape = nhwc(N, H, W, C);
    r.variant = "v1 two-stage";
    r.work = double(n) * sizeof(float);
    r.peak = Peak::mem;
    add(rep, r, [&](int i) { sum_cuda(int64_t(n), a[i], out, nullptr); });
  }
  if (rep.wanted("mse")) {
    const size_t m = size_t(N) * H * W * 3;
    Rot a(R, m, 68), b(R, m, 69);
    Buf out(1), g(1, 70), da(m);
    Row r;
    r.op = "mse fwd+bwd";
    r.shape = nhwc(N, H, W, 3);
    r.variant = "v1";
    r.work = 5.0 * m * sizeof(float);
    r.peak = Peak::mem;
    add(rep, r, [&](int i) {
      mse_forward_cuda(int64_t(m), a[i], b[i], out, nullptr);
      mse_backward_cuda(int64_t(m), a[i], b[i], g, da, nullptr);
    });
  }
  if (rep.wanted("adam")) {
    // About the size of the discriminator's parameter arena (its first linear layer alone is
    // 18432 x 1024); one fused launch reads param, grad, m, v and writes param, m, v.
    const size_t np = rep.env.tiny ? size_t(1) << 12 : size_t(24) << 20;
    Buf prm(np, 71), grad(np, 72), m(np, 73, 0.f, 0.1f), v(np, 74, 0.f, 0.1f);
    AdamParams ap;
    ap.n = int64_t(np);
    Row r;
    r.op = "adam step";
    r.shape = "n=" + std::to_string(np);
    r.variant = "v1 fused";
    r.work = 7.0 * np * sizeof(float);
    r.peak = Peak::mem;
    add(rep, r, [&](int) { adam_step_cuda(ap, prm, grad, m, v, nullptr); });
  }
}

// ---- GEMM -------------------------------------------------------------------------------------

void bench_linear(Report& rep, int M, int In, int Out) {
  if (!rep.wanted("linear")) return;
  M = tiny_batch(rep.env, M), In = tiny_gemm(rep.env, In), Out = tiny_gemm(rep.env, Out);
  LinearParams p;
  p.M = M; p.In = In; p.Out = Out;
  const int R = rotations(rep.env, double(size_t(M) * In + size_t(Out) * In) * sizeof(float));
  Rot x(R, size_t(M) * In, 81), w(R, size_t(Out) * In, 82, -0.01f, 0.01f);
  Buf b(size_t(Out), 83), y(size_t(M) * Out), dy(size_t(M) * Out, 84), dx(size_t(M) * In), dw(size_t(Out) * In),
      db{size_t(Out)};
  struct V { const char* name; GemmAlgo algo; bool tf32; Peak peak; };
  const V vars[] = {{"cublas", GemmAlgo::cublas, false, Peak::fp32},
                    {"cublas_tf32", GemmAlgo::cublas, true, Peak::tf32},
                    {"v1_smem_tiled", GemmAlgo::v1_smem_tiled, false, Peak::fp32},
                    {"v2_tf32_mma", GemmAlgo::v2_tf32_mma, false, Peak::tf32}};
  std::ostringstream shape;
  shape << M << "x" << In << "->" << Out;
  for (int pass = 0; pass < 2; ++pass) {
    const size_t first = rep.rows.size();
    for (const V& v : vars) {
      gemm_cublas_set_allow_tf32(v.tf32);
      Row r;
      r.op = pass == 0 ? "linear fwd" : "linear fwd+bwd";
      r.shape = shape.str();
      r.variant = v.name;
      r.work = (pass == 0 ? 2.0 : 6.0) * double(M) * In * Out;
      r.peak = v.peak;
      std::vector<OutBuf> outs = {{"y", y, y.n}};
      if (pass == 1) outs.insert(outs.end(), {{"dx", dx, dx.n}, {"dw", dw, dw.n}, {"db", db, db.n}});
      add(rep, r, [&](int i) {
        linear_forward_cuda(p, x[i], w[i], b, y, v.algo, nullptr);
        if (pass == 1) {
          linear_backward_data_cuda(p, dy, w[i], dx, v.algo, nullptr);
          linear_backward_weight_cuda(p, x[i], dy, dw, db, v.algo, nullptr);
        }
      }, outs);
    }
    gemm_cublas_set_allow_tf32(false);
    set_baseline(rep, first, "cublas");
  }
}

void bench_gemm_square(Report& rep, int n) {
  if (!rep.wanted("gemm")) return;
  n = tiny_gemm(rep.env, n);
  Buf A(size_t(n) * n, 91), B(size_t(n) * n, 92), C(size_t(n) * n);
  GemmParams g;
  g.M = g.N = g.K = n;
  g.lda = g.ldb = g.ldc = n;
  struct V { const char* name; GemmAlgo algo; bool tf32; Peak peak; };
  const V vars[] = {{"cublas", GemmAlgo::cublas, false, Peak::fp32},
                    {"cublas_tf32", GemmAlgo::cublas, true, Peak::tf32},
                    {"v1_smem_tiled", GemmAlgo::v1_smem_tiled, false, Peak::fp32},
                    {"v2_tf32_mma", GemmAlgo::v2_tf32_mma, false, Peak::tf32}};
  const size_t first = rep.rows.size();
  for (const V& v : vars) {
    gemm_cublas_set_allow_tf32(v.tf32);
    Row r;
    r.op = "gemm";
    r.shape = std::to_string(n) + "^3";
    r.variant = v.name;
    r.work = 2.0 * double(n) * n * n;
    r.peak = v.peak;
    add(rep, r, [&](int) { gemm_cuda(g, A, B, C, v.algo, nullptr); }, {{"C", C, C.n}});
  }
  gemm_cublas_set_allow_tf32(false);
  set_baseline(rep, first, "cublas");
}

Conv2dParams conv(const Env& e, int N, int H, int C, int K, int R, int stride) {
  Conv2dParams p;
  p.N = tiny_batch(e, N); p.H = p.W = tiny_side(e, H);
  p.C = C; p.K = K; p.R = R; p.S = R; p.stride = stride; p.pad = R / 2;
  return p;
}

}  // namespace

int bench_kernels_cuda(const KernelBenchOptions& opt) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::fprintf(stderr, "srgan bench kernels: no CUDA device found\n");
    return 1;
  }
  Report rep;
  rep.env.quick = opt.quick;
  rep.env.tiny = opt.tiny;
  rep.env.once = opt.once;
  rep.filter = opt.filter;
  rep.shape = opt.shape;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  rep.env.device = prop.name;
  rep.env.l2_bytes = size_t(prop.l2CacheSize);
  measure_peaks(rep.env);
  add_kernel_rows(rep, opt.quick);
  print_kernel_table(rep);
  if (!opt.json.empty()) {
    write_kernel_json(rep, opt.json);
    std::fprintf(stderr, "wrote %s\n", opt.json.c_str());
  }
  if (rep.failures) std::fprintf(stderr, "%d measurement(s) failed (see the table)\n", rep.failures);
  return rep.failures ? 3 : 0;
}

void add_kernel_rows(Report& rep, bool quick) {
  g_fill = !rep.env.counting;
  // The issue's goal shapes first, with the PyTorch anchors (GUIDE.md section 3).
  bench_conv(rep, conv(rep.env, 16, 24, 64, 64, 3, 1), true, 0.084, 0.249);
  bench_conv(rep, conv(rep.env, 16, 96, 64, 64, 3, 1), false, 0.41, 1.41);
  bench_batchnorm(rep, 16, 96, 96, 64, 0.15, 0.42);
  bench_prelu(rep, 16, 96, 96, 64, 0.056, 0.158);
  bench_pixel_shuffle(rep, 16, 96, 96, 256, 0.155, 0.305);
  if (!quick) {
    // The rest of SRGAN: generator head / upsamplers / tail, discriminator, and the 24x24 and
    // 48x48 versions of the memory-bound ops.
    struct ConvShape { int H, C, K, R, stride; bool with_prelu; };  // batch 16
    const ConvShape shapes[] = {
        {24, 3, 64, 9, 1, true},     {24, 64, 256, 3, 1, true},  {48, 64, 256, 3, 1, true},  // G head, upsamplers
        {96, 64, 3, 9, 1, false},                                                             // G tail
        {96, 3, 64, 3, 1, false},    {96, 64, 64, 3, 2, false},  {48, 64, 128, 3, 1, false},  // D
        {48, 128, 128, 3, 2, false}, {24, 128, 256, 3, 1, false}, {24, 256, 256, 3, 2, false},
        {12, 256, 512, 3, 1, false}, {12, 512, 512, 3, 2, false}};
    for (const ConvShape& c : shapes) bench_conv(rep, conv(rep.env, 16, c.H, c.C, c.K, c.R, c.stride), false, 0, 0);
    for (const ConvShape& c : shapes)  // conv + bias + PReLU where the generator has it
      if (c.with_prelu) bench_conv_prelu(rep, conv(rep.env, 16, c.H, c.C, c.K, c.R, c.stride));
    bench_batchnorm(rep, 16, 24, 24, 64, 0, 0);
    bench_prelu(rep, 16, 24, 24, 64, 0, 0);
    bench_pixel_shuffle(rep, 16, 24, 24, 256, 0, 0);
    bench_pixel_shuffle(rep, 16, 48, 48, 256, 0, 0);
    bench_misc(rep);
    bench_linear(rep, 16, 512 * 6 * 6, 1024);
    bench_gemm_square(rep, 4096);
  }
  g_fill = true;
}

}  // namespace srgan::app
