// Inference fusion (core/ops.h fold_batch_norm and conv2d_fused_eval, layers/fused_eval.h, and
// SRResNet's fused eval forward) on the CPU: each against the layers run one by one, in double
// (equal to rounding) and in float (the bundled model's precision); where the fusion must not
// run (autograd on, training, a summary being recorded). The CUDA epilogue is held to the same
// reference in tests/cuda/test_conv2d_fused.cpp.
#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/ops.h"
#include "layers/fused_eval.h"
#include "models/srresnet.h"
#include "tests/module_f64.h"
#include "tests/test_common.h"

using namespace srgan;
using srgan::test::Contains;

namespace {

double max_rel_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector_f64(), y = b.to_vector_f64();
  REQUIRE(x.size() == y.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::fabs(x[i] - y[i])), m = std::max(m, std::fabs(y[i]));
  return m > 0 ? d / m : d;
}

}  // namespace

TEST_CASE("fold_batch_norm: batch_norm(v + b) in eval equals v * scale + shift", "[fused_eval]") {
  Rng rng(31);
  const DType f64 = DType::f64;
  Tensor g = uniform_tensor({6}, rng, 0.5, 2.0, f64), be = uniform_tensor({6}, rng, -1, 1, f64),
         rm = uniform_tensor({6}, rng, -1, 1, f64), rv = uniform_tensor({6}, rng, 0.2, 3.0, f64),
         b = uniform_tensor({6}, rng, -1, 1, f64);
  Tensor v = uniform_tensor({3, 4, 5, 6}, rng, -2, 2, f64);
  for (bool with_bias : {true, false}) {
    INFO("conv bias " << with_bias);
    const Tensor bias = with_bias ? b : Tensor();
    auto [scale, shift] = fold_batch_norm(bias, g, be, rm, rv, 1e-3);
    Tensor ref = batch_norm(with_bias ? channel_affine(v, Tensor::full({6}, 1.0, f64), b) : v, g, be, rm, rv,
                            /*training=*/false, 0.1, 1e-3);
    CHECK(max_rel_diff(channel_affine(v, scale, shift), ref) < 1e-14);
  }
}

TEST_CASE("conv2d_fused_eval on the CPU equals conv, affine, PReLU and add one by one", "[fused_eval]") {
  Rng rng(32);
  const DType f64 = DType::f64;
  Tensor x = uniform_tensor({2, 7, 6, 4}, rng, -1, 1, f64), w = uniform_tensor({5, 3, 3, 4}, rng, -0.5, 0.5, f64);
  Tensor scale = uniform_tensor({5}, rng, 0.5, 1.5, f64), shift = uniform_tensor({5}, rng, -1, 1, f64);
  Tensor slope1 = uniform_tensor({1}, rng, -0.5, 0.5, f64), slope5 = uniform_tensor({5}, rng, -0.5, 0.5, f64);
  Tensor res = uniform_tensor({2, 4, 3, 5}, rng, -1, 1, f64);  // stride 2, pad 1: 4 x 3 outputs
  const Tensor none;
  struct Case {
    const char* what;
    Tensor sc, sh, sl, r;
  };
  const Case cases[] = {{"all, one slope", scale, shift, slope1, res},
                        {"shift and a slope per channel", none, shift, slope5, none},
                        {"scale and residual, no activation", scale, none, none, res},
                        {"bare convolution", none, none, none, none}};
  for (const Case& c : cases) {
    INFO(c.what);
    Tensor ref = conv2d(x, w, none, 2, 1);
    if (c.sc.defined() || c.sh.defined())
      ref = channel_affine(ref, c.sc.defined() ? c.sc : Tensor::full({5}, 1.0, f64),
                           c.sh.defined() ? c.sh : Tensor::zeros({5}, f64));
    if (c.sl.defined()) ref = prelu(ref, c.sl);
    if (c.r.defined()) ref = add(ref, c.r);
    const Tensor got = conv2d_fused_eval(x, w, c.sc, c.sh, c.sl, c.r, 2, 1);
    REQUIRE(got.shape() == ref.shape());
    CHECK(max_rel_diff(got, ref) < 1e-14);
  }
  // Wrong shapes name the op and the argument.
  CHECK_THROWS_WITH(conv2d_fused_eval(x, w, scale, shift, slope1, Tensor::zeros({2, 7, 6, 5}, f64), 2, 1),
                    Contains("conv2d_fused_eval") && Contains("residual"));
  CHECK_THROWS_WITH(conv2d_fused_eval(x, w, Tensor::zeros({4}, f64), shift, none, none, 2, 1), Contains("scale"));
}

TEST_CASE("the inference-only ops refuse inputs that need a gradient", "[fused_eval]") {
  Rng rng(33);
  Tensor x = uniform_tensor({1, 5, 5, 2}, rng, -1, 1), w = uniform_tensor({3, 3, 3, 2}, rng, -1, 1);
  w.set_requires_grad(true);
  CHECK_THROWS_WITH(conv2d_fused_eval(x, w, Tensor(), Tensor(), Tensor(), Tensor(), 1, 1),
                    Contains("conv2d_fused_eval") && Contains("inference"));
  Tensor g = Tensor::full({3}, 1.0);
  g.set_requires_grad(true);
  CHECK_THROWS_WITH(fold_batch_norm(Tensor(), g, Tensor::zeros({3}), Tensor::zeros({3}), Tensor::full({3}, 1.0)),
                    Contains("fold_batch_norm"));
  NoGradGuard ng;  // with autograd off they run
  CHECK(conv2d_fused_eval(x, w, Tensor(), Tensor(), Tensor(), Tensor(), 1, 1).shape() == Shape{1, 5, 5, 3});
}

TEST_CASE("SRResNet's fused eval forward equals the layer-by-layer one", "[fused_eval][srresnet]") {
  for (DType dt : {DType::f64, DType::f32}) {
    INFO((dt == DType::f64 ? "f64" : "f32"));
    Rng rng(34);
    SRResNet g({2, 8}, rng);
    if (dt == DType::f64) test::to_f64(g);
    // Trained-looking batch norms and PReLUs of both signs.
    for (auto& [n, t] : g.named_buffers()) {
      const bool var = n.find("running_var") != std::string::npos;
      t.copy_from(uniform_tensor(t.shape(), rng, var ? 0.2 : -0.5, var ? 2.0 : 0.5, t.dtype()));
    }
    auto has = [](const std::string& n, const char* part) { return n.find(part) != std::string::npos; };
    for (auto& [n, t] : g.named_parameters()) {
      const bool bn = has(n, ".b1.") || has(n, ".b2.") || has(n, "mid.1.");
      const bool prelu = t.numel() == 1;  // head.1, body.*.p, up.3, up.5: one slope each
      if (bn || prelu) t.copy_from(uniform_tensor(t.shape(), rng, -0.6, 1.2, t.dtype()));
    }
    Tensor x = uniform_tensor({2, 6, 5, 3}, rng, 0, 1, g.named_parameters()[0].second.dtype());
    g.eval();
    NoGradGuard ng;
    REQUIRE(g.fuse_for_inference());
    const Tensor fused = g(x);
    backend().fuse_inference = false;
    REQUIRE_FALSE(g.fuse_for_inference());
    const Tensor plain = g(x);
    backend().fuse_inference = true;
    REQUIRE(fused.shape() == Shape{2, 24, 20, 3});
    // Only the folded affine's rounding differs: about 1e-16 in double, 1e-7 in float.
    CHECK(max_rel_diff(fused, plain) < (dt == DType::f64 ? 1e-13 : 1e-5));
    CHECK(max_rel_diff(fused, plain) > 0);  // the two paths really differ (the fused one ran)
  }
}

TEST_CASE("no fusion in training, with autograd on, or while a summary is recorded", "[fused_eval]") {
  Rng rng(35);
  SRResNet g({1, 8}, rng);
  CHECK_FALSE(g.fuse_for_inference());  // training mode
  g.eval();
  CHECK_FALSE(g.fuse_for_inference());  // autograd on
  {
    NoGradGuard ng;
    CHECK(g.fuse_for_inference());
  }
  // The summary lists every layer in eval mode as in training mode.
  const std::string in_eval = g.summary({1, 6, 6, 3});
  g.train();
  CHECK(g.summary({1, 6, 6, 3}) == in_eval);
}
