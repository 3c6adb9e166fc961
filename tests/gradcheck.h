// Finite-difference gradient checking in double precision for the core ops.
// The scalar probed is L = sum(f(inputs) * G) with a fixed random G, so every output element
// carries a distinct weight. Central differences with step h; each input element (or a random
// sample of them for big tensors) is compared with the autograd gradient.
#pragma once
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "tests/test_common.h"

namespace srgan::test {

struct GradcheckResult {
  bool ok = true;
  std::string message;
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// inputs: CPU f64 leaves; those with requires_grad are checked. max_probes limits the elements
// probed per input (chosen at random, deterministic per seed).
inline GradcheckResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, uint64_t seed = 1,
                                 int max_probes = 60, double h = 1e-6, double atol = 1e-7,
                                 double rtol = 1e-5) {
  Rng rng(seed);
  Tensor y = f(inputs);
  Tensor G = uniform_tensor(y.shape(), rng, 0.5, 1.5, DType::f64);
  for (auto& t : inputs)
    if (t.defined() && t.requires_grad()) t.impl()->grad.reset();
  y.backward(G);

  auto loss = [&]() {
    NoGradGuard ng;
    Tensor out = f(inputs);
    auto o = out.to_vector_f64();
    auto g = G.to_vector_f64();
    double s = 0.0;
    for (size_t i = 0; i < o.size(); ++i) s += o[i] * g[i];
    return s;
  };

  GradcheckResult r;
  std::ostringstream os;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& t = inputs[k];
    if (!t.defined() || !t.requires_grad()) continue;
    Tensor grad = t.grad();
    if (!grad.defined()) {
      r.ok = false;
      os << "input " << k << " " << shape_str(t.shape()) << ": no gradient was accumulated\n";
      continue;
    }
    auto analytic = grad.to_vector_f64();
    double* x = t.data<double>();
    const int64_t n = t.numel();
    std::vector<int64_t> probes;
    if (n <= max_probes) {
      for (int64_t i = 0; i < n; ++i) probes.push_back(i);
    } else {
      for (int i = 0; i < max_probes; ++i) probes.push_back(int64_t(rng.below(uint64_t(n))));
    }
    for (int64_t i : probes) {
      const double x0 = x[i];
      x[i] = x0 + h;
      double lp = loss();
      x[i] = x0 - h;
      double lm = loss();
      x[i] = x0;
      double numeric = (lp - lm) / (2 * h);
      double err = std::fabs(numeric - analytic[i]);
      if (!(err <= atol + rtol * std::fabs(numeric))) {
        if (r.ok) os << "first mismatch: ";
        r.ok = false;
        os << "input " << k << " " << shape_str(t.shape()) << " element " << i << ": numeric " << numeric
           << " autograd " << analytic[i] << "\n";
        break;
      }
    }
  }
  r.message = os.str();
  return r;
}

// A leaf f64 tensor with values in [lo, hi) whose magnitudes stay >= margin (away from kinks at 0).
inline Tensor away_from_zero(const Shape& s, Rng& rng, double margin = 0.05, double hi = 1.0) {
  std::vector<double> v(size_t(shape_numel(s)));
  for (auto& e : v) {
    double m = rng.uniform(margin, hi);
    e = rng.uniform() < 0.5 ? -m : m;
  }
  return Tensor::from_vector(v, s).set_requires_grad(true);
}

inline Tensor leaf(const Shape& s, Rng& rng, double lo = -1.0, double hi = 1.0) {
  return uniform_tensor(s, rng, lo, hi, DType::f64).set_requires_grad(true);
}

}  // namespace srgan::test

#define SRGAN_REQUIRE_GRADCHECK(expr)    \
  do {                                   \
    auto _gc = (expr);                   \
    INFO(_gc.message);                   \
    REQUIRE(_gc.ok);                     \
  } while (0)
