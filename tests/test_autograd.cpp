// Autograd graph behaviour: a value used twice, accumulation across backward calls, no-grad,
// detach, gradients into parameter-arena views, and errors for misuse.
#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "tests/test_common.h"

using namespace srgan;

namespace {
Tensor vec(std::vector<double> v) { return Tensor::from_vector(v, {int64_t(v.size())}).set_requires_grad(true); }
}  // namespace

TEST_CASE("a value used twice receives the sum of both gradients", "[autograd]") {
  Tensor x = vec({1.0, -2.0, 3.0});
  // y = sum(x*x + x): dy/dx = 2x + 1
  Tensor y = sum(add(mul(x, x), x));
  y.backward();
  auto g = x.grad().to_vector_f64();
  REQUIRE(g == std::vector<double>{3.0, -3.0, 7.0});
}

TEST_CASE("a diamond graph visits the shared node once with the summed gradient", "[autograd]") {
  Tensor x = vec({0.5, 2.0});
  Tensor h = scale(x, 3.0);           // shared intermediate
  Tensor y = sum(add(mul(h, h), h));  // d/dx = (2h + 1) * 3
  y.backward();
  auto g = x.grad().to_vector_f64();
  REQUIRE(g[0] == Approx((2 * 1.5 + 1) * 3));
  REQUIRE(g[1] == Approx((2 * 6.0 + 1) * 3));
}

TEST_CASE("gradients accumulate across backward calls until zeroed", "[autograd]") {
  Tensor x = vec({1.0, 2.0});
  Tensor y = sum(scale(x, 2.0));
  y.backward();
  y.backward();  // the graph is kept: a second call adds again
  REQUIRE(x.grad().to_vector_f64() == std::vector<double>{4.0, 4.0});
  x.zero_grad();
  sum(scale(x, 5.0)).backward();
  REQUIRE(x.grad().to_vector_f64() == std::vector<double>{5.0, 5.0});
}

TEST_CASE("no-grad records nothing and restores the previous mode", "[autograd]") {
  Tensor x = vec({1.0});
  {
    NoGradGuard g;
    REQUIRE_FALSE(grad_enabled());
    Tensor y = scale(x, 2.0);
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(y.impl()->grad_fn == nullptr);
    {
      NoGradGuard inner;
    }
    REQUIRE_FALSE(grad_enabled());
  }
  REQUIRE(grad_enabled());
  REQUIRE(scale(x, 2.0).requires_grad());
}

TEST_CASE("detach stops the gradient but shares the storage", "[autograd]") {
  Tensor x = vec({1.0, 2.0});
  Tensor h = scale(x, 3.0);
  Tensor d = h.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.raw() == h.raw());
  // y = sum(h * detach(h)): only the first factor carries gradient: dy/dx = 3 * h
  sum(mul(h, d)).backward();
  REQUIRE(x.grad().to_vector_f64() == std::vector<double>{9.0, 18.0});
}

TEST_CASE("gradients land in the parameter arena views", "[autograd][arena]") {
  Rng rng(1);
  Tensor a = uniform_tensor({2, 3}, rng, -1, 1, DType::f64).set_requires_grad(true);
  Tensor b = uniform_tensor({4}, rng, -1, 1, DType::f64).set_requires_grad(true);
  auto a_before = a.to_vector_f64();
  ParamArena arena;
  arena.adopt({a, b}, Device::cpu);
  REQUIRE(arena.size() == 10);
  REQUIRE(a.to_vector_f64() == a_before);  // values moved, not changed
  REQUIRE(a.raw() == arena.values().raw());
  sum(scale(a, 2.0)).backward();
  sum(scale(b, -1.0)).backward();
  auto g = arena.grads().to_vector_f64();
  REQUIRE(g == std::vector<double>{2, 2, 2, 2, 2, 2, -1, -1, -1, -1});
  arena.zero_grad();
  REQUIRE(a.grad().to_vector_f64() == std::vector<double>(6, 0.0));
}

TEST_CASE("backward misuse gives clear errors", "[autograd][errors]") {
  Tensor x = vec({1.0, 2.0});
  Tensor y = scale(x, 2.0);
  REQUIRE_THROWS_WITH(y.backward(), srgan::test::Contains("not a scalar"));
  REQUIRE_THROWS_WITH(y.backward(Tensor::full({3}, 1.0, DType::f64)), srgan::test::Contains("gradient of shape (3,)"));
  Tensor c = Tensor::from_vector(std::vector<double>{1.0}, {1});
  REQUIRE_THROWS_WITH(c.backward(), srgan::test::Contains("does not require grad"));
}
