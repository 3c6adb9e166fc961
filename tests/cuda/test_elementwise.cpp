// Elementwise ops, reductions, losses and Adam on the GPU against the CPU reference: sizes with
// float4 tails, misaligned views, in-place use, NaN-poisoned outputs, and run-to-run determinism
// of the reductions.
#include "kernels/adam.h"
#include "kernels/column_sum.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {
const int64_t kSizes[] = {1, 3, 4, 7, 1000, 16 * 96 * 96 * 3 + 1};

std::vector<float> drop(std::vector<float> v, int k) {
  v.erase(v.begin(), v.begin() + k);
  return v;
}
}  // namespace

TEST_CASE("elementwise CUDA ops match the CPU", "[cuda][elementwise]") {
  uint64_t seed = 1300;
  for (int64_t n : kSizes) {
    for (int off : {0, 1}) {
      INFO("n=" << n << " offset=" << off);
      const size_t m = size_t(n) + off;
      const auto a = random_vector<float>(m, seed++), b = random_vector<float>(m, seed++);
      DevBuf ab(a), bb(b), y(m);
      std::vector<float> ref(n);
      // add, mul and scale by a power of two round once, like the CPU: exact.
      add_cpu<float>(n, a.data() + off, b.data() + off, ref.data());
      y.poison();
      add_cuda(n, ab.get() + off, bb.get() + off, y.get() + off, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(y.download(), off), ref));
      mul_cpu<float>(n, a.data() + off, b.data() + off, ref.data());
      y.poison();
      mul_cuda(n, ab.get() + off, bb.get() + off, y.get() + off, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(y.download(), off), ref));
      scale_cpu<float>(n, a.data() + off, -0.5, ref.data());
      y.poison();
      scale_cuda(n, ab.get() + off, -0.5f, y.get() + off, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(y.download(), off), ref));
      fill_cpu<float>(n, 2.5, ref.data());
      y.poison();
      fill_cuda(n, 2.5f, y.get() + off, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(y.download(), off), ref));
      // axpy: the GPU may fuse the multiply-add (one rounding instead of two): 1 ulp of ~2.
      std::vector<float> yref(b.begin() + off, b.end());
      axpy_cpu<float>(n, 0.3, a.data() + off, yref.data());
      y.upload(b);
      axpy_cuda(n, 0.3f, ab.get() + off, y.get() + off, nullptr);
      SRGAN_CHECK_CLOSE(all_close(drop(y.download(), off), yref, 5e-7, 0.0));
      // y = s * g for a device scalar g.
      DevBuf g(std::vector<float>{1.5f});
      y.poison();
      broadcast_scalar_cuda(n, g, -2.f, y.get() + off, nullptr);
      fill_cpu<float>(n, -3.0, ref.data());
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(y.download(), off), ref));
      // In place: scale x by 2 into itself (core's sum -> mean does this).
      DevBuf z(a);
      scale_cuda(n, z.get() + off, 2.f, z.get() + off, nullptr);
      scale_cpu<float>(n, a.data() + off, 2.0, ref.data());
      SRGAN_CHECK_CLOSE(bitwise_equal(drop(z.download(), off), ref));
    }
  }
}

TEST_CASE("channel affine CUDA matches the CPU", "[cuda][elementwise]") {
  struct Case { int64_t M; int C; };
  uint64_t seed = 1400;
  for (Case c : {Case{1, 3}, Case{97, 3}, Case{50, 8}, Case{16 * 96 * 96, 3}, Case{33, 64}}) {
    INFO("M=" << c.M << " C=" << c.C);
    const size_t n = size_t(c.M) * c.C;
    const auto x = random_vector<float>(n, seed++), sc = random_vector<float>(c.C, seed++),
               sh = random_vector<float>(c.C, seed++);
    std::vector<float> ref(n);
    channel_affine_cpu<float>(c.M, c.C, x.data(), sc.data(), sh.data(), ref.data());
    DevBuf xb(x), sb(sc), hb(sh), y(n);
    y.poison();
    channel_affine_cuda(c.M, c.C, xb, sb, hb, y, nullptr);
    // x * s + t may be one fused rounding on the GPU: 1 ulp of values below 2.
    SRGAN_CHECK_CLOSE(all_close(y.download(), ref, 5e-7, 0.0));
  }
}

TEST_CASE("reductions and losses CUDA match the CPU (double) and are deterministic", "[cuda][reduce]") {
  uint64_t seed = 1500;
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(5), int64_t(8193), int64_t(16 * 96 * 96 * 3), int64_t(9437185)}) {
    INFO("n=" << n);
    const auto a = random_vector<float>(size_t(n), seed++), b = random_vector<float>(size_t(n), seed++, 0.0, 1.0);
    DevBuf ab(a), bb(b), out(1), g(std::vector<float>{0.75f}), d{size_t(n)};
    // Sums accumulate in double on both sides; only the final rounding to float differs.
    const Tol t{1e-6, 2e-7};
    out.poison();
    sum_cuda(n, ab, out, nullptr);
    const auto s1 = out.download();
    SRGAN_CHECK_CLOSE(compare(s1, std::vector<double>{sum_cpu<float>(n, a.data())}, t));
    out.poison();
    sum_cuda(n, ab, out, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(out.download(), s1));

    out.poison();
    mse_forward_cuda(n, ab, bb, out, nullptr);
    SRGAN_CHECK_CLOSE(compare(out.download(), std::vector<double>{mse_forward_cpu<float>(n, a.data(), b.data())}, t));
    out.poison();
    bce_logits_forward_cuda(n, ab, bb, out, nullptr);
    SRGAN_CHECK_CLOSE(
        compare(out.download(), std::vector<double>{bce_logits_forward_cpu<float>(n, a.data(), b.data())}, t));

    if (n == 0) continue;
    std::vector<double> ref(n);
    std::vector<float> reff(n);
    mse_backward_cpu<float>(n, a.data(), b.data(), 0.75, reff.data());
    d.poison();
    mse_backward_cuda(n, ab, bb, g, d, nullptr);
    // Both compute k = 2 g / n and k * (a - b) in double, rounded once to float.
    SRGAN_CHECK_CLOSE(all_close(d.download(), reff, 0.0, 1.2e-7));
    bce_logits_backward_cpu<float>(n, a.data(), b.data(), 0.75, reff.data());
    d.poison();
    bce_logits_backward_cuda(n, ab, bb, g, d, nullptr);
    // The GPU evaluates sigmoid in float (the CPU in double): a few float ulps of g / n.
    SRGAN_CHECK_CLOSE(all_close(d.download(), reff, 1e-6 / double(n), 1e-6));
  }
}

TEST_CASE("column sums CUDA match the CPU (double)", "[cuda][reduce]") {
  struct Case { int64_t rows; int cols; };
  uint64_t seed = 1600;
  for (Case c : {Case{0, 4}, Case{1, 1}, Case{37, 3}, Case{16 * 96 * 96, 64}, Case{5, 1030}, Case{16, 1024}}) {
    INFO("rows=" << c.rows << " cols=" << c.cols);
    const auto x = random_vector<float>(size_t(c.rows) * c.cols, seed++);
    std::vector<double> ref(c.cols, 0.0);
    for (int64_t r = 0; r < c.rows; ++r)
      for (int j = 0; j < c.cols; ++j) ref[j] += x[size_t(r) * c.cols + j];
    DevBuf xb(x), out(size_t(c.cols));
    out.poison();
    column_sum_cuda(xb, c.rows, c.cols, out, nullptr);
    SRGAN_CHECK_CLOSE(compare(out.download(), ref, tol_fp32(double(c.rows))));
  }
}

TEST_CASE("adam CUDA matches the CPU over several steps", "[cuda][adam]") {
  uint64_t seed = 1700;
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1 << 20) + 3}) {
    for (int off : {0, 1}) {
      INFO("n=" << n << " offset=" << off);
      const size_t m = size_t(n) + off;
      auto p_ref = random_vector<float>(m, seed++);
      std::vector<float> m_ref(m, 0.f), v_ref(m, 0.f);
      DevBuf pb(p_ref), mb(m), vb(m), gb(m);
      CUDA_CHECK(cudaMemset(mb, 0, mb.bytes()));
      CUDA_CHECK(cudaMemset(vb, 0, vb.bytes()));
      AdamParams ap;
      ap.n = n;
      ap.lr = 1e-3;
      for (int64_t step = 1; step <= 3; ++step) {
        ap.step = step;
        const auto g = random_vector<float>(m, seed++);
        gb.upload(g);
        adam_step_cpu<float>(ap, p_ref.data() + off, g.data() + off, m_ref.data() + off, v_ref.data() + off);
        adam_step_cuda(ap, pb.get() + off, gb.get() + off, mb.get() + off, vb.get() + off, nullptr);
      }
      // Same float formula; the GPU may fuse multiply-adds: a few ulps of values below 1, and
      // of updates of size lr.
      SRGAN_CHECK_CLOSE(all_close(drop(pb.download(), off), drop(p_ref, off), 1e-6, 1e-6));
      SRGAN_CHECK_CLOSE(all_close(drop(mb.download(), off), drop(m_ref, off), 1e-7, 1e-6));
      SRGAN_CHECK_CLOSE(all_close(drop(vb.download(), off), drop(v_ref, off), 1e-8, 1e-5));
    }
  }
}
