// PReLU on the GPU against the CPU reference: forward, and backward with the slope gradient (a
// reduction over rows, per channel or over everything for a single slope), over odd shapes and
// SRGAN's (16x24x24x64, 16x96x96x64, the 48x48 upsampler output), NaN-poisoned outputs.
#include "kernels/prelu.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

TEST_CASE("prelu CUDA matches the CPU reference", "[cuda][prelu]") {
  struct Case { int64_t M; int C; };
  const Case cases[] = {{1, 1}, {37, 3}, {1000, 5}, {129, 64}, {16 * 24 * 24, 64}, {16 * 48 * 48, 64},
                        {16 * 96 * 96, 64}, {16 * 6 * 6, 512}, {3, 1030}};
  uint64_t seed = 700;
  for (const Case& c : cases) {
    if (small_only() && c.M * c.C > 100000) continue;
    for (bool per_channel : {false, true}) {
      INFO("M=" << c.M << " C=" << c.C << " per_channel=" << per_channel);
      PreluParams p;
      p.M = c.M;
      p.C = c.C;
      p.per_channel = per_channel;
      const size_t n = size_t(c.M) * c.C, na = per_channel ? size_t(c.C) : 1;
      const auto x = random_vector<float>(n, seed++), dy = random_vector<float>(n, seed++);
      const auto a = random_vector<float>(na, seed++, -0.5, 0.5);
      const auto xd = to_double(x), ad = to_double(a), dyd = to_double(dy);
      std::vector<double> y_ref(n), dx_ref(n), da_ref(na);
      prelu_forward_cpu<double>(p, xd.data(), ad.data(), y_ref.data());
      prelu_backward_cpu<double>(p, xd.data(), ad.data(), dyd.data(), dx_ref.data(), da_ref.data());
      DevBuf xb(x), ab(a), dyb(dy), y(n), dx(n), da(na);
      y.poison();
      prelu_forward_cuda(p, xb, ab, y, nullptr);
      // One float multiply (or a copy) per element, rounded once, exactly as the double
      // reference rounded to float: bit-exact.
      SRGAN_CHECK_CLOSE(compare_rounded_once(y.download(), y_ref));
      dx.poison();
      da.poison();
      prelu_backward_cuda(p, xb, ab, dyb, dx, da, nullptr);
      SRGAN_CHECK_CLOSE(compare_rounded_once(dx.download(), dx_ref));  // same argument
      // Slope gradient: fp32 partial sums of up to M*C products, added in double.
      SRGAN_CHECK_CLOSE(compare(da.download(), da_ref, tol_fp32(double(c.M) * (per_channel ? 1 : c.C))));
      // Deterministic: the same bits on a second run.
      const auto da1 = da.download();
      da.poison();
      prelu_backward_cuda(p, xb, ab, dyb, dx, da, nullptr);
      SRGAN_CHECK_CLOSE(bitwise_equal(da.download(), da1));
    }
  }
}

TEST_CASE("prelu forward in place", "[cuda][prelu]") {
  PreluParams p;
  p.M = 333;
  p.C = 12;
  p.per_channel = true;
  const auto x = random_vector<float>(size_t(p.M) * p.C, 9), a = random_vector<float>(12, 10);
  std::vector<float> ref(x.size());
  prelu_forward_cpu(p, x.data(), a.data(), ref.data());
  DevBuf xb(x), ab(a);
  prelu_forward_cuda(p, xb, ab, xb, nullptr);
  SRGAN_CHECK_CLOSE(bitwise_equal(xb.download(), ref));
}
