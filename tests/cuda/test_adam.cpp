// Adam on the GPU (adam_step_cuda) against adam_step_cpu<double> over ten consecutive steps, for
// PyTorch's default hyper-parameters, a second set (beta1 0.5, beta2 0.99, eps 1e-6) and a run
// starting at step 1000 (bias corrections ~1), with gradients of mixed sizes (unit, 1e3, 1e-10
// below eps, exact zeros), arena sizes with float4 tails, and views one float off 16-byte
// alignment (the scalar path). Tolerances are per element, from a running bound of the float
// rounding errors computed beside the double reference (see Bounds); the test also checks that
// nothing outside the arena views is written.
#include <cmath>

#include "kernels/adam.h"
#include "tests/cuda/cuda_guard.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

constexpr double u = 0x1p-24;  // unit roundoff of float

// Gradient i of step t: unit-size values, with every 7th element 1e3 times larger, every 11th
// 1e-10 (|g| << eps, where the update is g / eps), every 13th exactly zero.
std::vector<float> gradient(size_t n, uint64_t seed) {
  std::vector<float> g = random_vector<float>(n, seed);
  for (size_t i = 0; i < n; ++i) {
    if (i % 7 == 3) g[i] *= 1e3f;
    if (i % 11 == 5) g[i] *= 1e-10f;
    if (i % 13 == 8) g[i] = 0.0f;
  }
  return g;
}

// Running per-element bounds of |float - double| for m, v and param, propagated through the
// update exactly as written in adam.h (float constants rounded once from double, as PyTorch):
//   m = b1 m + (1-b1) g : each of the two terms carries at most 3 roundings (constant, product,
//       sum), so one step adds <= 4u * s_m with s_m = b1 s_m + (1-b1)|g| (the sum of |terms|),
//       and the old error shrinks by b1.
//   v = b2 v + (1-b2) g g : 5 roundings, all terms positive: adds <= 5u * v.
//   p -= S m / (sqrt(v) / c + eps) : 7 roundings of the update (S, c, eps, sqrt, /, +, S*m, /)
//       plus u |p| for the subtraction, plus the propagated m and v errors.
// The check allows twice the bound. A kernel that forms (1 - beta2) in float (1 - 0.999f is off
// by 1.3e-5 = 215u) breaks the v bound on the first step.
struct Bounds {
  std::vector<double> sm, em, ev, ep;
  // The starting values are floats, so exact; s_m starts at |m0|.
  explicit Bounds(const std::vector<float>& m0) : sm(to_double(m0)), em(m0.size(), 0.0), ev(m0.size(), 0.0), ep(m0.size(), 0.0) {
    for (double& s : sm) s = std::fabs(s);
  }
  void step(const AdamParams& a, const std::vector<double>& g, const std::vector<double>& m,
            const std::vector<double>& v, const std::vector<double>& p) {
    const double bc1 = 1.0 - std::pow(a.beta1, double(a.step)), bc2 = 1.0 - std::pow(a.beta2, double(a.step));
    const double S = a.lr / bc1, c = std::sqrt(bc2);
    for (size_t i = 0; i < g.size(); ++i) {
      sm[i] = a.beta1 * sm[i] + (1.0 - a.beta1) * std::fabs(g[i]);
      em[i] = a.beta1 * em[i] + 4 * u * sm[i];
      ev[i] = a.beta2 * ev[i] + 5 * u * v[i];
      const double denom = std::sqrt(v[i]) / c + a.eps;
      const double upd = S * std::fabs(m[i]) / denom;
      // d denom = d sqrt(v) / c = (ev / v) * sqrt(v) / 2 / c (relative error of v, halved by sqrt).
      const double dden = v[i] > 0 ? ev[i] / v[i] * std::sqrt(v[i]) / 2 / c : 0.0;
      ep[i] += 8 * u * upd + u * std::fabs(p[i]) + S * em[i] / denom + upd * dden / denom;
    }
  }
};

Tol tol_elem(double bound) { return {2 * bound, 0.0}; }

CloseReport within(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& bound) {
  CloseReport worst;
  worst.message = "all within 2x the rounding bound";
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    if (!(err <= tol_elem(bound[i]).atol)) {
      worst.ok = false;
      worst.first_bad = int64_t(i);
      std::ostringstream os;
      os << "n=" << got.size() << " first bad index " << i << ": got " << got[i] << " expected " << ref[i]
         << " |err| " << err << " > 2 * bound " << bound[i];
      worst.message = os.str();
      break;
    }
  }
  return worst;
}

struct Hyper {
  const char* what;
  double lr, beta1, beta2, eps;
  int64_t first_step;
};

}  // namespace

TEST_CASE("adam CUDA matches adam_step_cpu<double> over ten steps", "[cuda][adam]") {
  const Hyper hypers[] = {{"PyTorch defaults, lr 1e-3", 1e-3, 0.9, 0.999, 1e-8, 1},
                          {"beta1 0.5 beta2 0.99 eps 1e-6 lr 1e-2", 1e-2, 0.5, 0.99, 1e-6, 1},
                          {"from step 1000", 1e-4, 0.9, 0.999, 1e-8, 1000}};
  uint64_t seed = 9300;
  for (const Hyper& h : hypers) {
    for (int64_t n : {int64_t(1), int64_t(3), int64_t(4), int64_t(5), int64_t(1023), int64_t(1 << 20) + 3}) {
      if (small_only() && n > 5000) continue;
      for (int shift : {0, 1}) {
        if (shift && n > 5000) continue;  // the scalar path: small arenas are enough
        INFO(h.what << ", n=" << n << ", view shift " << shift);
        const size_t sz = size_t(n);
        const auto p0 = random_vector<float>(sz, seed++);
        // Moments start non-zero (a resumed run) from step 1000 on, else at zero.
        std::vector<float> m0(sz, 0.f), v0(sz, 0.f);
        if (h.first_step > 1) {
          m0 = random_vector<float>(sz, seed++, -0.1, 0.1);
          v0 = random_vector<float>(sz, seed++, 0.0, 0.01);
        }
        std::vector<double> p = to_double(p0), m = to_double(m0), v = to_double(v0);
        Guarded pb(p0, shift), mb(m0, shift), vb(v0, shift), gb(sz, shift);
        Bounds bounds(m0);
        AdamParams a;
        a.n = n;
        a.lr = h.lr; a.beta1 = h.beta1; a.beta2 = h.beta2; a.eps = h.eps;
        for (int t = 0; t < 10; ++t) {
          a.step = h.first_step + t;
          const auto g = gradient(sz, seed++);
          const auto gd = to_double(g);
          gb.upload(g);
          adam_step_cuda(a, pb, gb, mb, vb, nullptr);
          adam_step_cpu<double>(a, p.data(), gd.data(), m.data(), v.data());
          bounds.step(a, gd, m, v, p);
        }
        SRGAN_CHECK_CLOSE(within(mb.download(), m, bounds.em));
        SRGAN_CHECK_CLOSE(within(vb.download(), v, bounds.ev));
        SRGAN_CHECK_CLOSE(within(pb.download(), p, bounds.ep));
        SRGAN_CHECK_GUARDS(pb);
        SRGAN_CHECK_GUARDS(mb);
        SRGAN_CHECK_GUARDS(vb);
        // The gradient is read only.
        SRGAN_CHECK_GUARDS(gb);
      }
    }
  }
}

TEST_CASE("adam CUDA: one step from zero moments is lr times sign(g) for large gradients", "[cuda][adam]") {
  // An independent closed form (not the CPU code): after step 1, m = (1-b1) g and v = (1-b2) g^2,
  // so the bias-corrected update is exactly lr * g / (|g| + eps') ~ lr * sign(g). Float rounding:
  // ~10 roundings of a value of size lr, plus the rounding of p (|p| <= 1): 1e-6 * lr + 2u.
  const int64_t n = 4099;
  const auto p0 = random_vector<float>(size_t(n), 77), g = random_vector<float>(size_t(n), 78);
  Guarded pb(p0), mb(std::vector<float>(size_t(n), 0.f)), vb(std::vector<float>(size_t(n), 0.f)), gb(g);
  AdamParams a;
  a.n = n;
  a.lr = 1e-3;
  a.step = 1;
  adam_step_cuda(a, pb, gb, mb, vb, nullptr);
  std::vector<double> expect(static_cast<size_t>(n));
  for (size_t i = 0; i < expect.size(); ++i)
    expect[i] = double(p0[i]) - a.lr * double(g[i]) / (std::fabs(double(g[i])) + a.eps);
  SRGAN_CHECK_CLOSE(compare(pb.download(), expect, Tol{1e-6 * a.lr + 2 * u, 0.0}));
  // n = 0: nothing is touched.
  a.n = 0;
  adam_step_cuda(a, nullptr, nullptr, nullptr, nullptr, nullptr);
}
