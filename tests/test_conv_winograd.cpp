// The CPU Winograd convolution (kernels/conv2d_cpu_winograd.cpp), F(2x2, 3x3) and F(4x4, 3x3):
// forward, backward-data and backward-weight (F(3x3, 2x2) / F(3x3, 4x4)), against the plain-loop
// reference on fresh random inputs: odd sizes that leave partial tiles, images smaller than one
// tile, pad 0/1/2, several blocks of tiles, and SRResNet's real shapes. Outputs are poisoned with NaN first, so an unwritten element fails.
//
// Two kinds of check:
//  * double: the transforms are exact algebra, so Winograd in double must equal the reference to
//    rounding (1e-10 relative to the sum of |terms|); this catches any wrong tap, tile or pad.
//  * float: rounding in the transformed domain grows with the transform coefficients (up to 8 in
//    F(4x4)'s A, 5 in its B), so the error is bounded relative to S = sum over taps of |x| |w|
//    (forward; likewise for backward-data), the size of the terms being added, or for the weight
//    gradient the largest such sum among the 9 taps of the same (k, c):
//    |out - ref| <= rtol_m * S with rtol_2 = 2e-6 and rtol_4 = 3e-5. Measured worst cases over
//    this grid, all three passes: 3.4e-7 and 5.9e-6, so the limits leave 5-6x headroom for other
//    inputs; dropping one tap's term would be ~1/(9C) of S, over 10x either limit for C <= 256.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/conv2d.h"
#include "tests/test_common.h"

using namespace srgan::kern;
using srgan::test::random_vector;

namespace {

struct Case { int N, H, W, C, K, pad; };
const std::vector<Case> kGrid = {
    {1, 7, 9, 16, 16, 1},    {2, 5, 13, 16, 24, 1},  {1, 3, 3, 16, 16, 0},  // partial tiles; P = Q = 1
    {1, 2, 1, 16, 17, 1},    {1, 6, 11, 24, 16, 2},  {2, 8, 8, 16, 16, 0},  // tiny, pad 2, pad 0
    {4, 48, 48, 64, 64, 1},                                                  // several blocks of tiles
    {2, 24, 24, 64, 64, 1},  {1, 24, 24, 64, 256, 1}, {1, 17, 23, 256, 64, 1},  // SRResNet body, upsampler
};

Conv2dParams params(const Case& c) {
  Conv2dParams p;
  p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C; p.K = c.K; p.R = 3; p.S = 3; p.stride = 1; p.pad = c.pad;
  return p;
}

template <typename T> std::vector<T> to(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }

std::vector<double> abs_of(std::vector<double> v) {
  for (auto& e : v) e = std::fabs(e);
  return v;
}

// max over i of |got[i] - ref[i]| / scale[i] (scale: the sum of |terms| of that output), and
// fails on any NaN in got.
template <typename T>
double worst_relative(const std::vector<T>& got, const std::vector<double>& ref, const std::vector<double>& scale) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(double(got[i]))) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(double(got[i]) - ref[i]) / std::max(scale[i], 1e-30));
  }
  return worst;
}

struct Refs {  // double reference results and the sums of |terms| that scale their rounding
  std::vector<double> y, y_scale, dx, dx_scale, dw, dw_scale, db;
};

Refs references(const Conv2dParams& p, const std::vector<double>& x, const std::vector<double>& w,
                const std::vector<double>& b, const std::vector<double>& dy) {
  Refs r;
  r.y.resize(size_t(p.N) * p.P() * p.Q() * p.K);
  r.y_scale.resize(r.y.size());
  r.dx.resize(x.size());
  r.dx_scale.resize(x.size());
  conv2d_forward_cpu_ref(p, x.data(), w.data(), b.data(), r.y.data());
  conv2d_forward_cpu_ref(p, abs_of(x).data(), abs_of(w).data(), abs_of(b).data(), r.y_scale.data());
  conv2d_backward_data_cpu_ref(p, dy.data(), w.data(), r.dx.data());
  conv2d_backward_data_cpu_ref(p, abs_of(dy).data(), abs_of(w).data(), r.dx_scale.data());
  r.dw.resize(w.size());
  r.dw_scale.resize(w.size());
  r.db.resize(size_t(p.K));
  std::vector<double> db_scale(size_t(p.K));
  conv2d_backward_weight_cpu_ref(p, x.data(), dy.data(), r.dw.data(), r.db.data());
  conv2d_backward_weight_cpu_ref(p, abs_of(x).data(), abs_of(dy).data(), r.dw_scale.data(), db_scale.data());
  // The transformed domain mixes the 9 taps of a (k, c) pair, so each tap's rounding scales with
  // the largest of them: a tap that only meets one pixel next to the padding (a 2x1 image) sums
  // a single term but inherits its neighbours' rounding.
  for (size_t kc = 0; kc < size_t(p.K); ++kc)
    for (int c = 0; c < p.C; ++c) {
      double big = 0;
      for (int t = 0; t < 9; ++t) big = std::max(big, r.dw_scale[(kc * 9 + t) * p.C + c]);
      for (int t = 0; t < 9; ++t) r.dw_scale[(kc * 9 + t) * p.C + c] = big;
    }
  return r;
}

template <typename T>
void check(const Conv2dParams& p, const std::vector<double>& x, const std::vector<double>& w,
           const std::vector<double>& b, const std::vector<double>& dy, const Refs& r, int m, double rtol) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> y(r.y.size(), nan), dx(r.dx.size(), nan), dw(r.dw.size(), nan), db(r.db.size(), nan);
  conv2d_forward_cpu_winograd<T>(p, to<T>(x).data(), to<T>(w).data(), to<T>(b).data(), y.data(), m);
  conv2d_backward_data_cpu_winograd<T>(p, to<T>(dy).data(), to<T>(w).data(), dx.data(), m);
  conv2d_backward_weight_cpu_winograd<T>(p, to<T>(x).data(), to<T>(dy).data(), dw.data(), db.data(), m);
  const double ey = worst_relative(y, r.y, r.y_scale), edx = worst_relative(dx, r.dx, r.dx_scale);
  const double edw = worst_relative(dw, r.dw, r.dw_scale);
  INFO("F(" << m << "x" << m << ") " << (sizeof(T) == 4 ? "float" : "double") << ": forward error " << ey
            << ", backward-data error " << edx << ", backward-weight error " << edw
            << " (relative to the sum of |terms|), limit " << rtol);
  CHECK(ey <= rtol);
  CHECK(edx <= rtol);
  CHECK(edw <= rtol);
  // The bias gradient is a plain column sum of dy (N*P*Q terms of size <= 1).
  CHECK(worst_relative(db, r.db, std::vector<double>(r.db.size(), double(p.N) * p.P() * p.Q())) <= rtol);
}

}  // namespace

TEST_CASE("Winograd applies to 3x3 stride-1 convolutions with pad <= 2 and >= 16 channels", "[kernels][winograd]") {
  Conv2dParams p = params({1, 24, 24, 64, 64, 1});
  CHECK(conv2d_winograd_applies(p));
  Conv2dParams q = p; q.stride = 2;
  CHECK_FALSE(conv2d_winograd_applies(q));
  q = p; q.R = q.S = 9; q.pad = 4;
  CHECK_FALSE(conv2d_winograd_applies(q));
  q = p; q.C = 3;  // the discriminator's first layer: a GEMM with 3-deep sums gains nothing
  CHECK_FALSE(conv2d_winograd_applies(q));
  q = p; q.pad = 3;  // backward-data would need a negative pad
  CHECK_FALSE(conv2d_winograd_applies(q));
}

TEST_CASE("Winograd F(2x2) and F(4x4) convolution match the reference loops", "[kernels][winograd]") {
  uint64_t seed = 900;
  for (const Case& c : kGrid) {
    const Conv2dParams p = params(c);
    INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " K=" << c.K << " pad=" << c.pad);
    REQUIRE(conv2d_winograd_applies(p));
    const auto x = random_vector<double>(size_t(p.N) * p.H * p.W * p.C, seed++);
    const auto w = random_vector<double>(size_t(p.K) * 9 * p.C, seed++);
    const auto b = random_vector<double>(size_t(p.K), seed++);
    const auto dy = random_vector<double>(size_t(p.N) * p.P() * p.Q() * p.K, seed++);
    const Refs r = references(p, x, w, b, dy);
    for (int m : {2, 4}) {
      check<double>(p, x, w, b, dy, r, m, 1e-10);
      check<float>(p, x, w, b, dy, r, m, m == 2 ? 2e-6 : 3e-5);
    }
  }
}

TEST_CASE("Winograd weight gradient of an empty batch is zero, whatever ran before", "[kernels][winograd]") {
  Conv2dParams p;
  p.N = 2; p.H = 8; p.W = 8; p.C = 16; p.K = 16; p.R = 3; p.S = 3; p.stride = 1; p.pad = 1;
  const auto x = random_vector<float>(size_t(p.N) * 64 * 16, 1), dy = random_vector<float>(size_t(p.N) * 64 * 16, 2);
  std::vector<float> dw(16 * 9 * 16), db(16);
  conv2d_backward_weight_cpu_winograd<float>(p, x.data(), dy.data(), dw.data(), db.data(), 4);  // fills the scratch
  p.N = 0;
  std::fill(dw.begin(), dw.end(), std::numeric_limits<float>::quiet_NaN());
  std::fill(db.begin(), db.end(), std::numeric_limits<float>::quiet_NaN());
  conv2d_backward_weight_cpu_winograd<float>(p, x.data(), dy.data(), dw.data(), db.data(), 4);
  CHECK(std::all_of(dw.begin(), dw.end(), [](float v) { return v == 0.0f; }));
  CHECK(std::all_of(db.begin(), db.end(), [](float v) { return v == 0.0f; }));
}
