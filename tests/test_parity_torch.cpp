// Parity with PyTorch: every differentiable op of core/ops.h, and Adam, against the fixtures that
// tools/scripts/make_reference.py writes with PyTorch (tests/fixtures/reference/*.srgf, format in
// tests/fixture_reader.h). For each case the op runs on the CPU in the fixture's dtype (f64 cases
// in double, f32 cases in float), back-propagates the stored upstream gradient g (PyTorch's loss
// was sum(y * g)), and the output, every input gradient and any state (running statistics,
// optimizer moments) must match. A missing or unreadable fixture fails the test.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/adam.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "tests/fixture_reader.h"
#include "tests/test_common.h"

using namespace srgan;
using srgan::test::Fixture;
using srgan::test::load_reference_fixture;

namespace {

struct Tol {
  double atol, rtol;
};

// f64: both sides compute in double and differ only in summation order (a conv output sums up
// to 243 products of O(1) values), so ~1e-16 * terms; 1e-10 relative leaves ample room.
constexpr Tol kTolF64{1e-12, 1e-10};
// f32: PyTorch's float kernels (MKL-DNN conv, vectorised reductions) sum in another order than
// our loops; float epsilon is 6e-8 and values are O(1) with at most a few hundred terms.
constexpr Tol kTolF32{1e-5, 1e-5};

Tol tol_for(DType t) { return t == DType::f64 ? kTolF64 : kTolF32; }

std::string field(int c, const char* name) { return "c" + std::to_string(c) + "." + name; }

// Compares `got` with the fixture array `name` (shape and values); reports the file, array,
// max error and first bad index.
void expect_close(const Tensor& got, const Fixture& fx, const std::string& name, Tol tol) {
  const auto& ref = fx.get(name);
  INFO("fixture " << fx.path() << ", array " << name << " (" << dtype_name(ref.dtype) << ")");
  REQUIRE(got.defined());
  REQUIRE(shape_str(got.shape()) == shape_str(ref.shape));
  auto rep = srgan::test::all_close(got.to_vector_f64(), ref.data, tol.atol, tol.rtol);
  INFO(rep.message);
  CHECK(rep.ok);
}

// A leaf input that collects a gradient.
Tensor input(const Fixture& fx, const std::string& name) {
  Tensor t = fx.tensor(name);
  t.set_requires_grad(true);
  return t;
}

DType case_dtype(const Fixture& fx, int c, const char* any_field) { return fx.get(field(c, any_field)).dtype; }

// The shared skeleton of one-input ops: y = f(x), backward g, compare y and dx.
template <typename F>
void check_unary(const char* fixture_name, F f) {
  Fixture fx = load_reference_fixture(fixture_name);
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    Tol tol = tol_for(case_dtype(fx, c, "x"));
    Tensor x = input(fx, field(c, "x"));
    Tensor y = f(fx, c, x);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(x.grad(), fx, field(c, "dx"), tol);
  }
}

// Two same-shape inputs a, b: y = f(a, b), compare y, da, db.
template <typename F>
void check_binary(const char* fixture_name, F f) {
  Fixture fx = load_reference_fixture(fixture_name);
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    Tol tol = tol_for(case_dtype(fx, c, "a"));
    Tensor a = input(fx, field(c, "a")), b = input(fx, field(c, "b"));
    Tensor y = f(a, b);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(a.grad(), fx, field(c, "da"), tol);
    expect_close(b.grad(), fx, field(c, "db"), tol);
  }
}

}  // namespace

// ---------------------------------------------------------------- arithmetic

TEST_CASE("add matches PyTorch", "[parity]") {
  check_binary("add", [](const Tensor& a, const Tensor& b) { return add(a, b); });
}

TEST_CASE("mul matches PyTorch", "[parity]") {
  check_binary("mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}

TEST_CASE("scale matches PyTorch", "[parity]") {
  check_unary("scale", [](const Fixture& fx, int c, const Tensor& x) { return scale(x, fx.scalar(field(c, "s"))); });
}

TEST_CASE("sum matches PyTorch", "[parity]") {
  check_unary("sum", [](const Fixture&, int, const Tensor& x) { return sum(x); });
}

TEST_CASE("mean matches PyTorch", "[parity]") {
  check_unary("mean", [](const Fixture&, int, const Tensor& x) { return mean(x); });
}

TEST_CASE("reshape matches PyTorch", "[parity]") {
  check_unary("reshape", [](const Fixture& fx, int c, const Tensor& x) { return reshape(x, fx.get(field(c, "y")).shape); });
}

TEST_CASE("channel_affine matches PyTorch", "[parity]") {
  check_unary("channel_affine", [](const Fixture& fx, int c, const Tensor& x) {
    return channel_affine(x, fx.tensor(field(c, "scale")), fx.tensor(field(c, "shift")));
  });
}

// ---------------------------------------------------------------- neural-network ops

TEST_CASE("conv2d matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("conv2d");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    const int stride = fx.integer(field(c, "stride")), pad = fx.integer(field(c, "pad"));
    const bool has_bias = fx.has(field(c, "b"));
    INFO("case " << c << ": x " << shape_str(fx.get(field(c, "x")).shape) << " w " << shape_str(fx.get(field(c, "w")).shape)
                 << " stride " << stride << " pad " << pad << (has_bias ? " bias" : " no bias"));
    Tol tol = tol_for(case_dtype(fx, c, "x"));
    Tensor x = input(fx, field(c, "x")), w = input(fx, field(c, "w"));
    Tensor b = has_bias ? input(fx, field(c, "b")) : Tensor();
    Tensor y = conv2d(x, w, b, stride, pad);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(x.grad(), fx, field(c, "dx"), tol);
    expect_close(w.grad(), fx, field(c, "dw"), tol);
    if (has_bias) expect_close(b.grad(), fx, field(c, "db"), tol);
  }
}

TEST_CASE("prelu matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("prelu");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    INFO("case " << c << ": x " << shape_str(fx.get(field(c, "x")).shape) << " slopes " << shape_str(fx.get(field(c, "a")).shape));
    Tol tol = tol_for(case_dtype(fx, c, "x"));
    Tensor x = input(fx, field(c, "x")), a = input(fx, field(c, "a"));
    Tensor y = prelu(x, a);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(x.grad(), fx, field(c, "dx"), tol);
    expect_close(a.grad(), fx, field(c, "da"), tol);
  }
}

TEST_CASE("relu matches PyTorch", "[parity]") {
  check_unary("relu", [](const Fixture&, int, const Tensor& x) { return relu(x); });
}

TEST_CASE("leaky_relu matches PyTorch", "[parity]") {
  check_unary("leaky_relu", [](const Fixture& fx, int c, const Tensor& x) { return leaky_relu(x, fx.scalar(field(c, "slope"))); });
}

TEST_CASE("sigmoid matches PyTorch", "[parity]") {
  check_unary("sigmoid", [](const Fixture&, int, const Tensor& x) { return sigmoid(x); });
}

TEST_CASE("batch_norm matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("batch_norm");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    const bool training = fx.scalar(field(c, "training")) != 0.0;
    INFO("case " << c << ": x " << shape_str(fx.get(field(c, "x")).shape) << (training ? " training" : " eval"));
    Tol tol = tol_for(case_dtype(fx, c, "x"));
    Tensor x = input(fx, field(c, "x")), gamma = input(fx, field(c, "gamma")), beta = input(fx, field(c, "beta"));
    Tensor rm = fx.tensor(field(c, "running_mean")), rv = fx.tensor(field(c, "running_var"));
    Tensor y = batch_norm(x, gamma, beta, rm, rv, training, fx.scalar(field(c, "momentum")), fx.scalar(field(c, "eps")));
    expect_close(y, fx, field(c, "y"), tol);
    // Training updates the running statistics in place (momentum 0.1, unbiased variance); eval leaves them.
    expect_close(rm, fx, field(c, "running_mean_after"), tol);
    expect_close(rv, fx, field(c, "running_var_after"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(x.grad(), fx, field(c, "dx"), tol);
    expect_close(gamma.grad(), fx, field(c, "dgamma"), tol);
    expect_close(beta.grad(), fx, field(c, "dbeta"), tol);
  }
}

TEST_CASE("pixel_shuffle matches PyTorch", "[parity]") {
  check_unary("pixel_shuffle", [](const Fixture& fx, int c, const Tensor& x) { return pixel_shuffle(x, fx.integer(field(c, "r"))); });
}

TEST_CASE("max_pool2x2 matches PyTorch", "[parity]") {
  check_unary("max_pool2x2", [](const Fixture&, int, const Tensor& x) { return max_pool2x2(x); });
}

TEST_CASE("linear matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("linear");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    const bool has_bias = fx.has(field(c, "b"));
    INFO("case " << c << ": x " << shape_str(fx.get(field(c, "x")).shape) << " w " << shape_str(fx.get(field(c, "w")).shape)
                 << (has_bias ? " bias" : " no bias"));
    Tol tol = tol_for(case_dtype(fx, c, "x"));
    Tensor x = input(fx, field(c, "x")), w = input(fx, field(c, "w"));
    Tensor b = has_bias ? input(fx, field(c, "b")) : Tensor();
    Tensor y = linear(x, w, b);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(x.grad(), fx, field(c, "dx"), tol);
    expect_close(w.grad(), fx, field(c, "dw"), tol);
    if (has_bias) expect_close(b.grad(), fx, field(c, "db"), tol);
  }
}

// ---------------------------------------------------------------- losses

TEST_CASE("mse_loss matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("mse_loss");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    INFO("case " << c);
    Tol tol = tol_for(case_dtype(fx, c, "pred"));
    Tensor p = input(fx, field(c, "pred")), t = input(fx, field(c, "target"));
    Tensor y = mse_loss(p, t);
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(p.grad(), fx, field(c, "dpred"), tol);
    expect_close(t.grad(), fx, field(c, "dtarget"), tol);
  }
}

TEST_CASE("bce_with_logits matches PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("bce_with_logits");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    INFO("case " << c);
    Tol tol = tol_for(case_dtype(fx, c, "logits"));
    Tensor z = input(fx, field(c, "logits"));
    Tensor y = bce_with_logits(z, fx.tensor(field(c, "target")));
    expect_close(y, fx, field(c, "y"), tol);
    y.backward(fx.tensor(field(c, "g")));
    expect_close(z.grad(), fx, field(c, "dlogits"), tol);
  }
}

// ---------------------------------------------------------------- optimizer

TEST_CASE("adam 10 steps match PyTorch", "[parity]") {
  Fixture fx = load_reference_fixture("adam");
  REQUIRE(fx.cases() > 0);
  for (int c = 0; c < fx.cases(); ++c) {
    const DType dtype = case_dtype(fx, c, "p0");
    INFO("case " << c << " (" << dtype_name(dtype) << ")");
    // f64: as above. f32: PyTorch rounds 1 - beta1 in double before casting and multiplies
    // step_size * (m / denom) where we compute (step_size * m) / denom: a few float ulps per step.
    const Tol tol = dtype == DType::f64 ? kTolF64 : Tol{1e-6, 1e-6};
    const int n = fx.integer(field(c, "params")), steps = fx.integer(field(c, "steps"));
    std::vector<Tensor> params;
    for (int i = 0; i < n; ++i) params.push_back(fx.tensor(field(c, ("p" + std::to_string(i)).c_str())));
    ParamArena arena;
    arena.adopt(params, Device::cpu);
    Adam opt(arena, fx.scalar(field(c, "lr")), fx.scalar(field(c, "beta1")), fx.scalar(field(c, "beta2")),
             fx.scalar(field(c, "eps")));
    for (int k = 0; k < steps; ++k) {
      INFO("step " << k + 1);
      for (int i = 0; i < n; ++i) {
        Tensor g = arena.params()[size_t(i)].grad();
        g.copy_from(fx.tensor(field(c, ("s" + std::to_string(k) + ".g" + std::to_string(i)).c_str())));
      }
      opt.step();
      for (int i = 0; i < n; ++i)
        expect_close(arena.params()[size_t(i)], fx, field(c, ("s" + std::to_string(k) + ".p" + std::to_string(i)).c_str()), tol);
    }
    CHECK(opt.steps_taken() == steps);
    // The moments after the last step, parameter by parameter (the arena is their concatenation).
    int64_t off = 0;
    for (int i = 0; i < n; ++i) {
      const Tensor& p = arena.params()[size_t(i)];
      expect_close(opt.exp_avg().narrow0(off, p.numel()).view(p.shape()), fx, field(c, ("m" + std::to_string(i)).c_str()), tol);
      expect_close(opt.exp_avg_sq().narrow0(off, p.numel()).view(p.shape()), fx, field(c, ("v" + std::to_string(i)).c_str()), tol);
      off += p.numel();
    }
  }
}

// ---------------------------------------------------------------- the reader itself

TEST_CASE("fixture reader rejects missing files and bad headers", "[parity][fixture]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path();
  const std::string stem = "srgan_fixture_reader_" + std::to_string(reinterpret_cast<uintptr_t>(&dir));
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::string path = (dir / (stem + name)).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  };
  auto message_of = [](const std::string& path) -> std::string {
    try {
      Fixture::load(path);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  const std::string missing = (dir / (stem + "_missing.srgf")).string();
  CHECK(message_of(missing).find(missing) != std::string::npos);

  const std::string bad_magic = write("_magic.srgf", std::string("XXXX\x01\0\0\0\0\0\0\0", 12));
  std::string msg = message_of(bad_magic);
  CHECK(msg.find(bad_magic) != std::string::npos);
  CHECK(msg.find("magic") != std::string::npos);

  const std::string bad_version = write("_version.srgf", std::string("SRGF\x07\0\0\0\0\0\0\0", 12));
  msg = message_of(bad_version);
  CHECK(msg.find(bad_version) != std::string::npos);
  CHECK(msg.find("version 7") != std::string::npos);

  // one f64 scalar "s" = 2.5, then a truncated copy of it
  std::string ok("SRGF\x01\0\0\0\x01\0\0\0\x01\0\0\0s\x01\0\0\0\0\0\0\0", 25);
  double v = 2.5;
  ok.append(reinterpret_cast<const char*>(&v), 8);  // the test machines are little-endian
  Fixture fx = Fixture::load(write("_ok.srgf", ok));
  CHECK(fx.scalar("s") == 2.5);
  CHECK(fx.tensor("s").dtype() == DType::f64);
  CHECK(fx.tensor("s", DType::f32).dtype() == DType::f32);
  CHECK_THROWS(fx.get("missing"));
  const std::string truncated = write("_short.srgf", ok.substr(0, ok.size() - 3));
  CHECK(message_of(truncated).find("truncated") != std::string::npos);

  for (const char* name : {"_magic.srgf", "_version.srgf", "_ok.srgf", "_short.srgf"}) fs::remove(dir / (stem + name));
}
