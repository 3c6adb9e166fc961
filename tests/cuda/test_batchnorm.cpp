// Batch norm on the GPU against the CPU reference (double): training forward (batch statistics,
// saved mean / inverse std, running-statistics update), eval forward, training and eval
// backward, for BatchNormAlgo::v1_two_pass and the cuDNN baseline, over odd shapes and SRGAN's
// (16x24x24x64, 16x96x96x64, the discriminator's 512 channels at 6x6), NaN-poisoned outputs.
// Inputs have mean ~1 so the variance computation must not lose digits to cancellation.
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_fused.h"
#include "kernels/prelu.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {
const char* name(BatchNormAlgo a) { return a == BatchNormAlgo::cudnn ? "cudnn" : "v1_two_pass"; }

// A few float roundings in the statistics and in the affine map, on values of order 1-3:
// 2e-5 absolute + 1e-5 relative. cuDNN's internal order is unknown to us: 5x looser.
Tol tol_elem(BatchNormAlgo a) { return a == BatchNormAlgo::cudnn ? Tol{1e-4, 5e-5} : Tol{2e-5, 1e-5}; }
}  // namespace

TEST_CASE("batchnorm CUDA matches the CPU reference", "[cuda][batchnorm]") {
  struct Case { int64_t M; int C; };
  // 90000 x 96: more float4s than one pass of the largest grid (1056 x 256 threads), with C not
  // a divisor of a block's 1024 elements: the channel-stationary maps must size their grid so
  // that each thread's channels stay the same from one pass to the next.
  const Case cases[] = {{2, 1}, {37, 3}, {1000, 5}, {130, 64}, {16 * 24 * 24, 64},
                        {16 * 96 * 96, 64}, {16 * 6 * 6, 512}, {16 * 12 * 12, 256}, {7, 1030}, {90000, 96}};
  uint64_t seed = 800;
  for (const Case& c : cases) {
    const size_t n = size_t(c.M) * c.C;
    BatchNormParams p;
    p.M = c.M;
    p.C = c.C;
    p.eps = 1e-5;
    p.momentum = 0.1;
    const auto x = random_vector<float>(n, seed++, -1.0, 3.0), dy = random_vector<float>(n, seed++);
    const auto gamma = random_vector<float>(size_t(c.C), seed++, 0.5, 1.5);
    const auto beta = random_vector<float>(size_t(c.C), seed++);
    const auto rm0 = random_vector<float>(size_t(c.C), seed++), rv0 = random_vector<float>(size_t(c.C), seed++, 0.5, 2.0);
    const auto xd = to_double(x), dyd = to_double(dy), gd = to_double(gamma), bd = to_double(beta);
    std::vector<double> y_ref(n), mean_ref(c.C), istd_ref(c.C), rm_ref = to_double(rm0), rv_ref = to_double(rv0);
    batchnorm_forward_train_cpu<double>(p, xd.data(), gd.data(), bd.data(), y_ref.data(), mean_ref.data(),
                                        istd_ref.data(), rm_ref.data(), rv_ref.data());
    std::vector<double> dx_ref(n), dg_ref(c.C), db_ref(c.C);
    batchnorm_backward_train_cpu<double>(p, xd.data(), dyd.data(), gd.data(), mean_ref.data(), istd_ref.data(),
                                         dx_ref.data(), dg_ref.data(), db_ref.data());
    DevBuf xb(x), dyb(dy), gb(gamma), bb(beta), y(n), mean(size_t(c.C)), istd(size_t(c.C)),
        rm(size_t(c.C)), rv(size_t(c.C)), dx(n), dg(size_t(c.C)), db(size_t(c.C));
    for (BatchNormAlgo algo : with_baselines<BatchNormAlgo>({BatchNormAlgo::v1_two_pass}, {BatchNormAlgo::cudnn})) {
      if (algo == BatchNormAlgo::cudnn && c.M < 2) continue;  // cuDNN needs more than one value
      INFO("M=" << c.M << " C=" << c.C << " algo " << name(algo));
      y.poison(); mean.poison(); istd.poison();
      rm.upload(rm0);
      rv.upload(rv0);
      batchnorm_forward_train_cuda(p, xb, gb, bb, y, mean, istd, rm, rv, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(y.download(), y_ref, tol_elem(algo)));
      // Statistics: fp32 partial sums over M rows, combined in double.
      SRGAN_CHECK_CLOSE(compare(mean.download(), mean_ref, Tol{1e-6, 1e-5}));
      SRGAN_CHECK_CLOSE(compare(istd.download(), istd_ref, Tol{1e-6, 1e-5}));
      SRGAN_CHECK_CLOSE(compare(rm.download(), rm_ref, Tol{1e-6, 1e-5}));
      SRGAN_CHECK_CLOSE(compare(rv.download(), rv_ref, Tol{1e-6, 1e-5}));

      // Without running statistics (nullptr): the rest must still be written.
      y.poison(); mean.poison(); istd.poison();
      batchnorm_forward_train_cuda(p, xb, gb, bb, y, mean, istd, nullptr, nullptr, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(y.download(), y_ref, tol_elem(algo)));
      SRGAN_CHECK_CLOSE(compare(istd.download(), istd_ref, Tol{1e-6, 1e-5}));

      dx.poison(); dg.poison(); db.poison();
      // Backward from the saved statistics of this algorithm's own forward.
      batchnorm_backward_train_cuda(p, xb, dyb, gb, mean, istd, dx, dg, db, algo, nullptr);
      SRGAN_CHECK_CLOSE(compare(dx.download(), dx_ref, tol_elem(algo)));
      SRGAN_CHECK_CLOSE(compare(dg.download(), dg_ref, tol_fp32(double(c.M) * 4)));  // |dy*xhat| <~ 4
      SRGAN_CHECK_CLOSE(compare(db.download(), db_ref, tol_fp32(double(c.M))));
    }

    INFO("M=" << c.M << " C=" << c.C << " eval");
    std::vector<double> ye_ref(n);
    const auto rmd = to_double(rm0), rvd = to_double(rv0);
    batchnorm_forward_eval_cpu<double>(p, xd.data(), gd.data(), bd.data(), rmd.data(), rvd.data(), ye_ref.data());
    rm.upload(rm0);
    rv.upload(rv0);
    y.poison();
    batchnorm_forward_eval_cuda(p, xb, gb, bb, rm, rv, y, nullptr);
    SRGAN_CHECK_CLOSE(compare(y.download(), ye_ref, tol_elem(BatchNormAlgo::v1_two_pass)));
    std::vector<double> dxe_ref(n), dge_ref(c.C), dbe_ref(c.C);
    batchnorm_backward_eval_cpu<double>(p, xd.data(), dyd.data(), gd.data(), rmd.data(), rvd.data(),
                                        dxe_ref.data(), dge_ref.data(), dbe_ref.data());
    dx.poison(); dg.poison(); db.poison();
    batchnorm_backward_eval_cuda(p, xb, dyb, gb, rm, rv, dx, dg, db, nullptr);
    SRGAN_CHECK_CLOSE(compare(dx.download(), dxe_ref, tol_elem(BatchNormAlgo::v1_two_pass)));
    SRGAN_CHECK_CLOSE(compare(dg.download(), dge_ref, tol_fp32(double(c.M) * 8)));  // |xhat| <~ 8 here
    SRGAN_CHECK_CLOSE(compare(db.download(), dbe_ref, tol_fp32(double(c.M))));
  }
}

TEST_CASE("fused batchnorm + PReLU equals the unfused composition", "[cuda][batchnorm][fused]") {
  struct Case { int64_t M; int C; };
  const Case cases[] = {{37, 3}, {130, 64}, {16 * 24 * 24, 64}, {7, 1030}};
  uint64_t seed = 850;
  for (const Case& c : cases) {
    const size_t n = size_t(c.M) * c.C;
    BatchNormParams p;
    p.M = c.M;
    p.C = c.C;
    const auto x = random_vector<float>(n, seed++, -1.0, 3.0);
    const auto gamma = random_vector<float>(size_t(c.C), seed++, 0.5, 1.5), beta = random_vector<float>(size_t(c.C), seed++);
    const auto rm0 = random_vector<float>(size_t(c.C), seed++), rv0 = random_vector<float>(size_t(c.C), seed++, 0.5, 2.0);
    DevBuf xb(x), gb(gamma), bb(beta), rm(rm0), rv(rv0), rm2(rm0), rv2(rv0);
    DevBuf z(n), y_ref(n), y(n), pre(n), mean(size_t(c.C)), istd(size_t(c.C)), mean2(size_t(c.C)), istd2(size_t(c.C));
    for (bool per_channel : {false, true}) {
      INFO("M=" << c.M << " C=" << c.C << " per_channel=" << per_channel);
      const auto slope_h = random_vector<float>(per_channel ? size_t(c.C) : 1, seed++, -0.5, 0.5);
      DevBuf slope(slope_h);
      PreluParams pp;
      pp.M = c.M;
      pp.C = c.C;
      pp.per_channel = per_channel;
      // Training: unfused BN then PReLU, against the fused pass (fresh running stats for both).
      rm.upload(rm0); rv.upload(rv0); rm2.upload(rm0); rv2.upload(rv0);
      z.poison(); y_ref.poison(); y.poison(); pre.poison();
      batchnorm_forward_train_cuda(p, xb, gb, bb, z, mean, istd, rm, rv, BatchNormAlgo::v1_two_pass, nullptr);
      prelu_forward_cuda(pp, z, slope, y_ref, nullptr);
      batchnorm_prelu_forward_train_cuda(p, xb, gb, bb, slope, per_channel, y, pre, mean2, istd2, rm2, rv2, nullptr);
      // Same statistics kernels and the same per-element expression: bit for bit.
      SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), y_ref.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(pre.download(), z.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(mean2.download(), mean.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(istd2.download(), istd.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(rm2.download(), rm.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(rv2.download(), rv.download()));
      y.poison();
      batchnorm_prelu_forward_train_cuda(p, xb, gb, bb, slope, per_channel, y, nullptr, mean2, istd2, nullptr,
                                         nullptr, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), y_ref.download()));
      // Eval.
      rm.upload(rm0); rv.upload(rv0);
      z.poison(); y_ref.poison(); y.poison(); pre.poison();
      batchnorm_forward_eval_cuda(p, xb, gb, bb, rm, rv, z, nullptr);
      prelu_forward_cuda(pp, z, slope, y_ref, nullptr);
      batchnorm_prelu_forward_eval_cuda(p, xb, gb, bb, rm, rv, slope, per_channel, y, pre, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), y_ref.download()));
      SRGAN_CHECK_CLOSE(bitwise_equal(pre.download(), z.download()));
    }
  }
}

// The eval-mode fold for inference (batchnorm_fold_eval_cuda): scale = gamma / sqrt(var + eps),
// shift = (bias - mean) * scale + beta, against the CPU version in double, with and without a
// convolution bias; 70 channels (more than one warp, not a multiple of 32).
TEST_CASE("batchnorm eval fold CUDA matches the CPU in double", "[cuda][batchnorm][fused]") {
  const int C = 70;
  BatchNormParams p;
  p.C = C;
  p.eps = 1e-3;
  const auto g = random_vector<float>(C, 11, 0.5, 2.0), be = random_vector<float>(C, 12),
             rm = random_vector<float>(C, 13), rv = random_vector<float>(C, 14, 0.0, 3.0),
             b = random_vector<float>(C, 15);
  DevBuf gd(g), bed(be), rmd(rm), rvd(rv), bd(b), scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  const auto g2 = to_double(g), be2 = to_double(be), rm2 = to_double(rm), rv2 = to_double(rv), b2 = to_double(b);
  for (bool with_bias : {true, false}) {
    INFO("conv bias " << with_bias);
    std::vector<double> sc(C), sh(C);
    batchnorm_fold_eval_cpu<double>(p, g2.data(), be2.data(), rm2.data(), rv2.data(), with_bias ? b2.data() : nullptr,
                                    sc.data(), sh.data());
    scale.poison();
    shift.poison();
    batchnorm_fold_eval_cuda(p, gd, bed, rmd, rvd, with_bias ? bd.get() : nullptr, scale, shift, nullptr);
    SRGAN_CHECK_CLOSE(compare(scale.download(), sc, Tol{1e-7, 1e-6}));
    SRGAN_CHECK_CLOSE(compare(shift.download(), sh, Tol{1e-7, 1e-6}));
  }
}
