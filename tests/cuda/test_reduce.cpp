// Reductions and losses on the GPU (sum, MSE, BCE-with-logits forward and backward, column sums)
// against the double CPU reference, beyond test_elementwise.cpp: every n around the stage-1 block
// size (8191..8193), the generator's output size 16*96*96*3 and odd neighbours, n large enough
// that stage 1 is capped at 1024 blocks, n = 1; BCE logits up to |x| = 1e4 (where the naive
// formula overflows) with 0/1 and soft targets; a negative device-side upstream gradient;
// 16-byte-misaligned inputs and outputs (scalar paths); sentinel zones around every output
// (a scalar result must write one float, not more); and the same bits on a rerun.
#include <sstream>

#include "kernels/column_sum.h"
#include "kernels/reduce.h"
#include "kernels/scalar_math.h"
#include "tests/cuda/cuda_guard.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

constexpr double u = 0x1p-24;   // float unit roundoff
constexpr double ud = 0x1p-53;  // double unit roundoff

// A scalar accumulated in double on both sides from the same double terms, in different orders,
// then rounded to float once: |err| <= n * ud * sum|terms| (any summation order) + the final
// rounding, u * |result| (or half the subnormal spacing 2^-149 below 2^-126), with a factor 2 margin.
Tol tol_scalar(int64_t n, double sum_abs) { return {2 * double(n) * ud * sum_abs + 0x1p-149, 2 * u}; }

const int64_t kSizes[] = {1, 2, 3, 5, 8191, 8192, 8193, 16 * 96 * 96 * 3 - 1, 16 * 96 * 96 * 3,
                          16 * 96 * 96 * 3 + 1, 1024 * 8192 + 5};

struct LogitRange {
  const char* what;
  double lo, hi;
  bool hard_targets;  // targets exactly 0 or 1 (the GAN labels), else uniform in [0, 1]
};
const LogitRange kLogits[] = {{"unit logits, soft targets", -1, 1, false},
                              {"|x| <= 100, 0/1 targets", -100, 100, true},
                              {"|x| <= 1e4, 0/1 targets", -1e4, 1e4, true},
                              {"|x| <= 30, soft targets", -30, 30, false}};

}  // namespace

TEST_CASE("sum and MSE and BCE CUDA around the block split with large logits and misaligned views", "[cuda][reduce]") {
  uint64_t seed = 9700;
  for (int64_t n : kSizes) {
    if (small_only() && n > 100000) continue;
    for (int shift : {0, 1}) {
      for (const LogitRange& lr : kLogits) {
        if (n > 1000000 && (shift || lr.lo > -50)) continue;  // the big sizes: aligned, two ranges
        std::ostringstream os;
        os << "n=" << n << " shift=" << shift << " " << lr.what;
        INFO(os.str());
        const size_t sz = size_t(n);
        const auto a = random_vector<float>(sz, seed++, lr.lo, lr.hi);
        std::vector<float> t = random_vector<float>(sz, seed++, 0.0, 1.0);
        if (lr.hard_targets)
          for (float& e : t) e = e < 0.5f ? 0.0f : 1.0f;
        const auto ad = to_double(a), td = to_double(t);
        Guarded ab(a, shift), tb(t, shift), out(1, shift), d(sz, shift);
        DevBuf g(std::vector<float>{-0.625f});  // upstream gradient on the device (exact in binary)

        double s_abs = 0, sq_abs = 0, bce_abs = 0;
        for (size_t i = 0; i < sz; ++i) {
          s_abs += std::fabs(ad[i]);
          sq_abs += (ad[i] - td[i]) * (ad[i] - td[i]);
          bce_abs += bce_logits_f(ad[i], td[i]);  // every term is >= 0
        }
        out.poison();
        sum_cuda(n, ab, out, nullptr);
        const auto s1 = out.download();
        SRGAN_CHECK_CLOSE(compare(s1, std::vector<double>{sum_cpu<double>(n, ad.data())}, tol_scalar(n, s_abs)));
        SRGAN_CHECK_GUARDS(out);
        out.poison();
        sum_cuda(n, ab, out, nullptr);
        SRGAN_CHECK_CLOSE(same_bits(out.download(), s1));

        out.poison();
        mse_forward_cuda(n, ab, tb, out, nullptr);
        SRGAN_CHECK_CLOSE(compare(out.download(), std::vector<double>{mse_forward_cpu<double>(n, ad.data(), td.data())},
                                  tol_scalar(n, sq_abs / double(n))));
        SRGAN_CHECK_GUARDS(out);

        out.poison();
        bce_logits_forward_cuda(n, ab, tb, out, nullptr);
        const auto b1 = out.download();
        INFO("BCE forward: a non-finite value means the stable form max(x,0) - x t + log1p(exp(-|x|)) was not used");
        SRGAN_CHECK_CLOSE(compare(b1, std::vector<double>{bce_logits_forward_cpu<double>(n, ad.data(), td.data())},
                                  tol_scalar(n, bce_abs / double(n))));
        SRGAN_CHECK_GUARDS(out);
        out.poison();
        bce_logits_forward_cuda(n, ab, tb, out, nullptr);
        SRGAN_CHECK_CLOSE(same_bits(out.download(), b1));

        // Backward: both sides evaluate the same double expression and round once to float, so
        // only the device's exp (a few double ulps) can move a result across a float rounding
        // boundary: 1 float ulp (2u relative), plus 1e-12 of the scale k for values that cancel
        // to ~0 (sigmoid(x) - t with t ~ sigmoid(x)).
        std::vector<double> ref(sz);
        mse_backward_cpu<double>(n, ad.data(), td.data(), -0.625, ref.data());
        d.poison();
        mse_backward_cuda(n, ab, tb, g, d, nullptr);
        // MSE: k = 2 g / n and k * (a - b), in double in the same order: the same float.
        const std::vector<float> mse_f(ref.begin(), ref.end());
        SRGAN_CHECK_CLOSE(same_bits(d.download(), mse_f));
        SRGAN_CHECK_GUARDS(d);
        bce_logits_backward_cpu<double>(n, ad.data(), td.data(), -0.625, ref.data());
        d.poison();
        bce_logits_backward_cuda(n, ab, tb, g, d, nullptr);
        SRGAN_CHECK_CLOSE(compare(d.download(), ref, Tol{1e-12 * 0.625 / double(n), 2 * u}));
        SRGAN_CHECK_GUARDS(d);
        // Inputs are read only.
        SRGAN_CHECK_GUARDS(ab);
        SRGAN_CHECK_GUARDS(tb);
      }
    }
  }
}

TEST_CASE("BCE CUDA at single extreme logits", "[cuda][reduce]") {
  // n = 1 with the logit at +-1e4, +-100, +-20 and 0 against targets 0, 1 and 0.5: the loss is
  // |x| or ~0 (e.g. log1p(exp(-100)) = 3.7e-44, a float subnormal), the gradient exactly
  // +-1 * g or ~0. Same tolerances as above.
  DevBuf g(std::vector<float>{1.0f});
  for (float x : {1e4f, -1e4f, 100.f, -100.f, 20.f, -20.f, 0.f}) {
    for (float t : {0.f, 1.f, 0.5f}) {
      INFO("x=" << x << " t=" << t);
      Guarded xb(std::vector<float>{x}), tb(std::vector<float>{t}), out(1), d(1);
      bce_logits_forward_cuda(1, xb, tb, out, nullptr);
      const double ref = bce_logits_forward_cpu<double>(1, std::vector<double>{x}.data(), std::vector<double>{t}.data());
      SRGAN_CHECK_CLOSE(compare(out.download(), std::vector<double>{ref}, tol_scalar(1, ref)));
      bce_logits_backward_cuda(1, xb, tb, g, d, nullptr);
      double dref = 0;
      bce_logits_backward_cpu<double>(1, std::vector<double>{x}.data(), std::vector<double>{t}.data(), 1.0, &dref);
      SRGAN_CHECK_CLOSE(compare(d.download(), std::vector<double>{dref}, Tol{1e-12, 2 * u}));
      SRGAN_CHECK_GUARDS(out);
      SRGAN_CHECK_GUARDS(d);
    }
  }
}

TEST_CASE("column sums CUDA on odd widths and misaligned views both tall and wide", "[cuda][reduce]") {
  struct Case { int64_t rows; int cols; };
  // The bias gradients of SRGAN's layers (generator tail K = 3 at 16x96x96, D's 1024 -> 1 head,
  // the 64- and 512-channel convolutions), widths that break the float4 path, and a single row.
  const Case cases[] = {{1, 5},           {3, 1},           {1000003, 1},    {16 * 96 * 96, 3}, {16, 1},
                        {16, 1024},       {7, 4},           {257, 6},        {16 * 6 * 6, 512}, {16 * 24 * 24, 64},
                        {33, 1030},       {2, 4099}};
  uint64_t seed = 9900;
  for (const Case& c : cases) {
    const size_t n = size_t(c.rows) * c.cols;
    if (small_only() && n > 200000) continue;
    for (int shift : {0, 1}) {
      INFO("rows=" << c.rows << " cols=" << c.cols << " shift=" << shift);
      const auto x = random_vector<float>(n, seed++);
      std::vector<double> ref(size_t(c.cols), 0.0);
      for (int64_t r = 0; r < c.rows; ++r)
        for (int j = 0; j < c.cols; ++j) ref[size_t(j)] += x[size_t(r) * c.cols + j];
      Guarded xb(x, shift), out(size_t(c.cols), shift);
      column_sum_cuda(xb, c.rows, c.cols, out, nullptr);
      const auto o1 = out.download();
      // fp32 partial sums over bands of rows, combined in double (tol_fp32: k = rows terms).
      SRGAN_CHECK_CLOSE(compare(o1, ref, tol_fp32(double(c.rows))));
      SRGAN_CHECK_GUARDS(out);
      SRGAN_CHECK_GUARDS(xb);
      out.poison();
      column_sum_cuda(xb, c.rows, c.cols, out, nullptr);
      SRGAN_CHECK_CLOSE(same_bits(out.download(), o1));
    }
  }
}
