// The library baselines called directly (conv2d_*_cudnn, gemm_cublas, batchnorm_*_cudnn) in both
// math modes: fp32 (the default) and TF32 allowed (the benchmark's "cudnn_tf32" / cuBLAS TF32
// rows), including switching the mode back and forth (cuDNN caches one plan per shape and mode:
// the fp32 result after a TF32 run must be fp32-accurate again). Also the shared per-thread
// scratch workspace (kernels/cuda_context.h): ops needing small and large workspaces interleaved
// give the same bits as run alone, and two host threads running ops at once (each with its own
// handles and workspace) get the right answers. All against double CPU references.
#include <thread>

#include "kernels/batchnorm_cudnn.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/cuda_context.h"
#include "kernels/gemm_cublas.h"
#include "kernels/reduce.h"
#include "tests/cuda/cuda_guard.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

// cuDNN may pick Winograd or FFT algorithms whose transforms add rounding: 10x the plain bound
// (as test_conv2d.cu), on top of TF32's when allowed.
Tol tol_cudnn(bool tf32, double k) {
  Tol t = tf32 ? tol_tf32(k) : tol_fp32(k);
  return {10 * t.atol, 10 * t.rtol};
}

struct ConvCase {
  const char* what;
  Conv2dParams p;
};
Conv2dParams conv(int N, int H, int W, int C, int K, int R, int stride, int pad) {
  Conv2dParams p;
  p.N = N; p.H = H; p.W = W; p.C = C; p.K = K; p.R = R; p.S = R; p.stride = stride; p.pad = pad;
  return p;
}

struct ConvRef {
  std::vector<float> x, w, b, dy;
  std::vector<double> y, dx, dw, db;
};
ConvRef conv_ref(const Conv2dParams& p, uint64_t seed) {
  ConvRef r;
  const size_t nx = size_t(p.N) * p.H * p.W * p.C, nw = size_t(p.K) * p.R * p.S * p.C;
  const size_t ny = size_t(p.N) * p.P() * p.Q() * p.K;
  r.x = random_vector<float>(nx, seed);
  r.w = random_vector<float>(nw, seed + 1);
  r.b = random_vector<float>(size_t(p.K), seed + 2);
  r.dy = random_vector<float>(ny, seed + 3);
  const auto x = to_double(r.x), w = to_double(r.w), b = to_double(r.b), dy = to_double(r.dy);
  r.y.resize(ny);
  r.dx.resize(nx);
  r.dw.resize(nw);
  r.db.resize(size_t(p.K));
  conv2d_forward_cpu_gemm<double>(p, x.data(), w.data(), b.data(), r.y.data());
  conv2d_backward_data_cpu_gemm<double>(p, dy.data(), w.data(), r.dx.data());
  conv2d_backward_weight_cpu_gemm<double>(p, x.data(), dy.data(), r.dw.data(), r.db.data());
  return r;
}

}  // namespace

TEST_CASE("cuDNN convolution called directly in fp32 and TF32 with mode switches", "[cuda][cudnn]") {
  const ConvCase cases[] = {{"odd C5 K7 s2", conv(2, 13, 11, 5, 7, 3, 2, 1)},
                            {"G head 9x9 3->64", conv(2, 24, 24, 3, 64, 9, 1, 4)},
                            {"G body 3x3 64->64", conv(4, 24, 24, 64, 64, 3, 1, 1)},
                            {"D 128->128 s2", conv(2, 24, 24, 128, 128, 3, 2, 1)}};
  uint64_t seed = 9800;
  for (const ConvCase& c : cases) {
    if (small_only() && c.p.flops() > 2e7) continue;
    const Conv2dParams& p = c.p;
    INFO(c.what);
    ConvRef r = conv_ref(p, seed);
    seed += 10;
    Guarded x(r.x), w(r.w), b(r.b), dy(r.dy), y(r.y.size()), dx(r.dx.size()), dw(r.dw.size()), db(r.db.size());
    const double kf = double(p.R) * p.S * p.C, kd = double(p.R) * p.S * p.K, kw = double(p.N) * p.P() * p.Q();
    // fp32, TF32, fp32 again: the third pass must not reuse the TF32 plan.
    for (bool tf32 : {false, true, false}) {
      INFO("allow_tf32 " << tf32);
      conv2d_cudnn_set_allow_tf32(tf32);
      CHECK(conv2d_cudnn_allow_tf32() == tf32);
      y.poison();
      conv2d_forward_cudnn(p, x, w, b, y, nullptr);
      SRGAN_CHECK_CLOSE(compare(y.download(), r.y, tol_cudnn(tf32, kf)));
      SRGAN_CHECK_GUARDS(y);
      dx.poison();
      conv2d_backward_data_cudnn(p, dy, w, dx, nullptr);
      SRGAN_CHECK_CLOSE(compare(dx.download(), r.dx, tol_cudnn(tf32, kd)));
      SRGAN_CHECK_GUARDS(dx);
      dw.poison();
      db.poison();
      conv2d_backward_weight_cudnn(p, x, dy, dw, db, nullptr);
      SRGAN_CHECK_CLOSE(compare(dw.download(), r.dw, tol_cudnn(tf32, kw)));
      SRGAN_CHECK_CLOSE(compare(db.download(), r.db, tol_cudnn(false, kw)));  // a plain sum, never TF32
      SRGAN_CHECK_GUARDS(dw);
      SRGAN_CHECK_GUARDS(db);
      // No bias: forward leaves out the add; backward-weight leaves db alone.
      y.poison();
      conv2d_forward_cudnn(p, x, w, nullptr, y, nullptr);
      const auto y_nb = y.download();
      std::vector<double> ref_nb(r.y.size());
      for (size_t i = 0; i < ref_nb.size(); ++i) ref_nb[i] = r.y[i] - r.b[i % size_t(p.K)];
      SRGAN_CHECK_CLOSE(compare(y_nb, ref_nb, tol_cudnn(tf32, kf + 1)));
      db.poison();
      conv2d_backward_weight_cudnn(p, x, dy, dw, nullptr, nullptr);
      CHECK(std::isnan(db.download()[0]));
    }
  }
  conv2d_cudnn_set_allow_tf32(false);
}

TEST_CASE("cuBLAS GEMM called directly in fp32 and TF32", "[cuda][cublas]") {
  struct Case { bool ta, tb; int M, N, K; double alpha, beta; };
  const Case cases[] = {{false, false, 7, 5, 3, 1.0, 0.0},     {true, false, 65, 33, 129, 1.0, 0.0},
                        {false, true, 16, 1024, 4608, 1.0, 0.0}, {true, true, 31, 97, 300, -2.0, 0.5},
                        {false, true, 16, 1, 1024, 1.0, 0.0}};
  uint64_t seed = 9850;
  for (const Case& c : cases) {
    if (small_only() && double(c.M) * c.N * c.K > 2e6) continue;
    INFO("transA=" << c.ta << " transB=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K);
    GemmParams p;
    p.transA = c.ta; p.transB = c.tb; p.M = c.M; p.N = c.N; p.K = c.K;
    p.lda = c.ta ? c.M : c.K;
    p.ldb = c.tb ? c.K : c.N;
    p.ldc = c.N;
    p.alpha = c.alpha;
    p.beta = c.beta;
    const auto A = random_vector<float>(size_t(c.M) * c.K, seed++), B = random_vector<float>(size_t(c.K) * c.N, seed++);
    const auto C0 = random_vector<float>(size_t(c.M) * c.N, seed++);
    std::vector<double> ref = to_double(C0);
    const auto Ad = to_double(A), Bd = to_double(B);
    gemm_cpu_ref<double>(p, Ad.data(), Bd.data(), ref.data());
    Guarded a(A), b(B), cb(C0.size());
    for (bool tf32 : {false, true, false}) {
      INFO("allow_tf32 " << tf32);
      gemm_cublas_set_allow_tf32(tf32);
      CHECK(gemm_cublas_allow_tf32() == tf32);
      if (c.beta == 0.0) cb.poison();  // C is not read when beta == 0
      else cb.upload(C0);
      gemm_cublas(p, a, b, cb, nullptr);
      const double k = c.K + (c.beta != 0.0 ? 1 : 0), scale = std::fabs(c.alpha) + std::fabs(c.beta);
      Tol t = tf32 ? tol_tf32(k) : tol_fp32(k);
      SRGAN_CHECK_CLOSE(compare(cb.download(), ref, Tol{t.atol * scale, t.rtol}));
      SRGAN_CHECK_GUARDS(cb);
    }
  }
  gemm_cublas_set_allow_tf32(false);
}

TEST_CASE("cuDNN batch norm called directly", "[cuda][cudnn][batchnorm]") {
  struct Case { int64_t M; int C; };
  uint64_t seed = 9870;
  for (Case c : {Case{2, 3}, Case{130, 64}, Case{16 * 6 * 6, 512}, Case{16 * 24 * 24, 64}}) {
    INFO("M=" << c.M << " C=" << c.C);
    BatchNormParams p;
    p.M = c.M;
    p.C = c.C;
    p.momentum = 0.25;  // not PyTorch's 0.1, so a hard-coded factor would show
    const size_t n = size_t(c.M) * c.C;
    const auto x = random_vector<float>(n, seed++, -1.0, 3.0), dy = random_vector<float>(n, seed++);
    const auto g = random_vector<float>(size_t(c.C), seed++, 0.5, 1.5), be = random_vector<float>(size_t(c.C), seed++);
    const auto rm0 = random_vector<float>(size_t(c.C), seed++), rv0 = random_vector<float>(size_t(c.C), seed++, 0.5, 2.0);
    const auto xd = to_double(x), dyd = to_double(dy), gd = to_double(g), bd = to_double(be);
    std::vector<double> y_ref(n), mean_ref(size_t(c.C)), istd_ref(size_t(c.C)), rm_ref = to_double(rm0), rv_ref = to_double(rv0);
    batchnorm_forward_train_cpu<double>(p, xd.data(), gd.data(), bd.data(), y_ref.data(), mean_ref.data(),
                                        istd_ref.data(), rm_ref.data(), rv_ref.data());
    std::vector<double> dx_ref(n), dg_ref(size_t(c.C)), db_ref(size_t(c.C));
    batchnorm_backward_train_cpu<double>(p, xd.data(), dyd.data(), gd.data(), mean_ref.data(), istd_ref.data(),
                                         dx_ref.data(), dg_ref.data(), db_ref.data());
    Guarded xb(x), dyb(dy), gb(g), bb(be), y(n), mean(size_t(c.C)), istd(size_t(c.C)), rm(rm0), rv(rv0);
    Guarded dx(n), dg(size_t(c.C)), db(size_t(c.C));
    batchnorm_forward_train_cudnn(p, xb, gb, bb, y, mean, istd, rm, rv, nullptr);
    // cuDNN's internal order is unknown: the element tolerance of test_batchnorm.cpp (5x ours).
    SRGAN_CHECK_CLOSE(compare(y.download(), y_ref, Tol{1e-4, 5e-5}));
    SRGAN_CHECK_CLOSE(compare(mean.download(), mean_ref, Tol{1e-6, 1e-5}));
    SRGAN_CHECK_CLOSE(compare(istd.download(), istd_ref, Tol{1e-6, 1e-5}));
    SRGAN_CHECK_CLOSE(compare(rm.download(), rm_ref, Tol{1e-6, 1e-5}));
    SRGAN_CHECK_CLOSE(compare(rv.download(), rv_ref, Tol{1e-6, 1e-5}));  // unbiased variance, as PyTorch
    batchnorm_backward_train_cudnn(p, xb, dyb, gb, mean, istd, dx, dg, db, nullptr);
    SRGAN_CHECK_CLOSE(compare(dx.download(), dx_ref, Tol{1e-4, 5e-5}));
    SRGAN_CHECK_CLOSE(compare(dg.download(), dg_ref, tol_fp32(double(c.M) * 4)));  // |dy * xhat| <~ 4
    SRGAN_CHECK_CLOSE(compare(db.download(), db_ref, tol_fp32(double(c.M))));
    for (const Guarded* o : {&y, &mean, &istd, &rm, &rv, &dx, &dg, &db}) SRGAN_CHECK_GUARDS(*o);
  }
}

TEST_CASE("the per-thread workspace: interleaved sizes and two host threads", "[cuda][workspace]") {
  // Split-K backward-weight (large workspace), a scalar sum (tiny workspace) and cuDNN (its own
  // size) interleaved: each result must have the bits it has when run alone.
  const Conv2dParams p = conv(4, 48, 48, 64, 64, 3, 2, 1);
  ConvRef r = conv_ref(p, 4711);
  Guarded x(r.x), dy(r.dy), dw(r.dw.size()), db(r.db.size()), s(1);
  const double kw = double(p.N) * p.P() * p.Q();
  conv2d_backward_weight_cuda(p, x, dy, dw, db, ConvAlgo::v2_smem_tiled, nullptr);
  const auto dw_alone = dw.download();
  SRGAN_CHECK_CLOSE(compare(dw_alone, r.dw, tol_fp32(kw)));
  sum_cuda(int64_t(r.x.size()), x, s, nullptr);
  const auto s_alone = s.download();
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    s.poison();
    sum_cuda(int64_t(r.x.size()), x, s, nullptr);
    dw.poison();
    conv2d_backward_weight_cuda(p, x, dy, dw, db, ConvAlgo::v2_smem_tiled, nullptr);
    Guarded dw_c(r.dw.size());
    conv2d_backward_weight_cuda(p, x, dy, dw_c, nullptr, ConvAlgo::cudnn, nullptr);
    SRGAN_CHECK_CLOSE(same_bits(s.download(), s_alone));
    SRGAN_CHECK_CLOSE(same_bits(dw.download(), dw_alone));
    SRGAN_CHECK_CLOSE(compare(dw_c.download(), r.dw, tol_cudnn(false, kw)));
  }
  // A direct request: at least the bytes asked for, 256-byte aligned, and growing works.
  void* w1 = cuda::workspace(1000, nullptr);
  CHECK(reinterpret_cast<uintptr_t>(w1) % 256 == 0);
  void* w2 = cuda::workspace(size_t(64) << 20, nullptr);
  CHECK(reinterpret_cast<uintptr_t>(w2) % 256 == 0);
  CUDA_CHECK(cudaMemset(w2, 0, size_t(64) << 20));  // all of it is ours
  CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(cuda::sm_count() > 0);

  // Two host threads at once, each with its own handles and workspace, on the legacy stream.
  // (No Catch2 assertion inside the threads; an exception is carried out as a message.)
  std::vector<float> dw_t[2];
  std::string err[2];
  std::thread t[2];
  for (int i = 0; i < 2; ++i)
    t[i] = std::thread([&, i] {
      try {
        Guarded dwi(r.dw.size()), dbi(r.db.size());
        conv2d_backward_weight_cuda(p, x, dy, dwi, dbi, i == 0 ? ConvAlgo::v2_smem_tiled : ConvAlgo::cudnn, nullptr);
        dw_t[i] = dwi.download();
      } catch (const std::exception& e) {
        err[i] = e.what();
      }
    });
  for (auto& th : t) th.join();
  CHECK(err[0] == "");
  CHECK(err[1] == "");
  SRGAN_CHECK_CLOSE(same_bits(dw_t[0], dw_alone));
  SRGAN_CHECK_CLOSE(compare(dw_t[1], r.dw, tol_cudnn(false, kw)));
}
