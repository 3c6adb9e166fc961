// The texture losses of models/losses.h that need no pretrained weights: L1, Sobel gradients and
// their L1, the discriminator's feature matching (and the activations D hands out for it), and
// generator_loss with their weights; gradients against central differences in double, values
// against PyTorch (tools/scripts/make_loss_fixtures.py -> tests/fixtures/models/texture_losses_io),
// and the GAN step logging both terms.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/adam.h"
#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "models/discriminator.h"
#include "models/losses.h"
#include "tests/gradcheck.h"
#include "tests/module_f64.h"
#include "tests/test_common.h"
#include "tools/train/train_step.h"

using namespace srgan;
using namespace srgan::test;

namespace {

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/models/" + name; }

Tensor get(const SafeTensors& f, const std::string& name) {
  Tensor t = f.find(name);
  INFO("fixture tensor " << name);
  REQUIRE(t.defined());
  return t.to(DType::f64);
}

void require_close(const Tensor& got, const Tensor& ref, double atol, double rtol) {
  INFO("got shape " << shape_str(got.shape()) << ", reference " << shape_str(ref.shape()));
  REQUIRE(got.shape() == ref.shape());
  SRGAN_REQUIRE_CLOSE(all_close(got.to_vector_f64(), ref.to_vector_f64(), atol, rtol));
}

// A float64 discriminator in train mode (batch statistics), as in the GAN step.
std::unique_ptr<Discriminator> small_d(int crop, uint64_t seed) {
  Rng rng(seed);
  DiscriminatorConfig cfg;
  cfg.crop = crop;
  cfg.width = 2;
  cfg.dense = 8;
  auto d = std::make_unique<Discriminator>(cfg, rng);
  to_f64(*d);
  d->train();
  return d;
}

Tensor image_f64(const Shape& s, uint64_t seed, bool grad) {
  Rng rng(seed);
  Tensor t = uniform_tensor(s, rng, 0.0, 1.0, DType::f64);
  return grad ? t.set_requires_grad(true) : t;
}

// The mean of channel c of image n of v (shape (N, H, W, C)) over rows y0, y0+dy, ... < y_end and
// columns x0, x0+dx, ... < x_end: the plain loop the block and phase means are checked against.
double region_mean(const std::vector<double>& v, const Shape& s, int n, int c, int y0, int y_end, int dy, int x0,
                   int x_end, int dx) {
  double total = 0;
  int count = 0;
  for (int y = y0; y < y_end; y += dy)
    for (int x = x0; x < x_end; x += dx, ++count) total += v[((size_t(n) * s[1] + y) * s[2] + x) * s[3] + c];
  return total / count;
}

// 0.02 (4 (y mod 4) + (x mod 4) - 7.5) on every channel of shape s: a 4-periodic pattern whose
// mean over each 4x4 block is 0 and whose mean |.| over the 16 phases is 0.08.
Tensor periodic_pattern(const Shape& s) {
  std::vector<double> v(size_t(s[0] * s[1] * s[2] * s[3]));
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t px = i / size_t(s[3]), col = px % size_t(s[2]), row = (px / size_t(s[2])) % size_t(s[1]);
    v[i] = 0.02 * double((row % 4) * 4 + col % 4) - 0.15;
  }
  return Tensor::from_vector(v, s);
}

}  // namespace

TEST_CASE("l1_loss is mean |a - b| and passes a gradient check", "[losses][texture]") {
  Rng rng(1);
  Tensor a = leaf({2, 3, 4, 5}, rng), b = leaf({2, 3, 4, 5}, rng);
  const auto va = a.to_vector_f64(), vb = b.to_vector_f64();
  double ref = 0.0;
  for (size_t i = 0; i < va.size(); ++i) ref += std::fabs(va[i] - vb[i]);
  // a 120-term mean in double, two summation orders
  CHECK(std::fabs(l1_loss(a, b).item() - ref / double(va.size())) <= 1e-15 + 1e-13 * ref);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return l1_loss(t[0], t[1]); }, {a, b}));
  CHECK(l1_loss(a, a).item() == 0.0);
  CHECK_THROWS_AS(l1_loss(a, leaf({2, 3, 4, 4}, rng)), Error);
}

TEST_CASE("sobel_gradients of a ramp are its slopes, and pass a gradient check", "[losses][texture]") {
  // channel 0: 3x + 2y, channel 1: -x + 0.5y, on a 5x6 image -> (1, 3, 4, 4) outputs
  std::vector<double> v;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x) {
      v.push_back(3.0 * x + 2.0 * y);
      v.push_back(-x + 0.5 * y);
    }
  Tensor g = sobel_gradients(Tensor::from_vector(v, {1, 5, 6, 2}));
  REQUIRE(g.shape() == Shape{1, 3, 4, 4});
  const auto out = g.to_vector_f64();
  const double slope[4] = {3.0, 2.0, -1.0, 0.5};  // d/dx c0, d/dy c0, d/dx c1, d/dy c1
  for (size_t i = 0; i < out.size(); ++i) CHECK(std::fabs(out[i] - slope[i % 4]) <= 1e-13);  // sums of ~1e1 terms
  Rng rng(2);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return sobel_gradients(t[0]); },
                                    {leaf({2, 6, 5, 3}, rng)}));
  CHECK_THROWS_AS(sobel_gradients(Tensor::zeros({1, 2, 5, 3}, DType::f64)), Error);
}

TEST_CASE("gradient_l1_loss: zero for the image itself, gradient check through SR only", "[losses][texture]") {
  Tensor hr = image_f64({2, 7, 6, 3}, 3, false), sr = image_f64({2, 7, 6, 3}, 4, true);
  CHECK(gradient_l1_loss(hr, hr).item() == 0.0);
  // A constant offset has no gradient: the loss cannot see it.
  CHECK(std::fabs(gradient_l1_loss(add(hr, Tensor::full(hr.shape(), 0.25, DType::f64)), hr).item()) <= 1e-15);
  SRGAN_REQUIRE_GRADCHECK(
      gradcheck([hr](const std::vector<Tensor>& t) { return gradient_l1_loss(t[0], hr); }, {sr}));
  Tensor hr_leaf = image_f64({2, 7, 6, 3}, 3, true);
  gradient_l1_loss(sr, hr_leaf).backward();
  CHECK_FALSE(hr_leaf.grad().defined());  // HR is a constant target
}

TEST_CASE("low_frequency_l1_loss: 4x4 block means, a colour offset counts fully, a 4-periodic pattern not at all",
          "[losses][colour]") {
  // block_means4 against a plain loop in double, on 9x10 (rows 8 and columns 8-9 fall outside a block)
  Tensor x = image_f64({2, 9, 10, 3}, 5, false);
  Tensor m = block_means4(x);
  REQUIRE(m.shape() == Shape{2, 2, 2, 3});
  const auto vx = x.to_vector_f64(), vm = m.to_vector_f64();
  for (int n = 0; n < 2; ++n)
    for (int by = 0; by < 2; ++by)
      for (int bx = 0; bx < 2; ++bx)
        for (int c = 0; c < 3; ++c)
          CHECK(std::fabs(vm[((size_t(n) * 2 + by) * 2 + bx) * 3 + c] -
                          region_mean(vx, x.shape(), n, c, 4 * by, 4 * by + 4, 1, 4 * bx, 4 * bx + 4, 1)) <= 1e-15);
  Tensor hr = image_f64({2, 8, 12, 3}, 6, false);
  CHECK(low_frequency_l1_loss(hr, hr).item() == 0.0);
  // a cast of -0.01 on every pixel of channel 2 only: mean |.| over 3 channels = 0.01 / 3
  std::vector<double> cast(size_t(2 * 8 * 12 * 3), 0.0);
  for (size_t i = 2; i < cast.size(); i += 3) cast[i] = -0.01;
  Tensor shifted = add(hr, Tensor::from_vector(cast, hr.shape()));
  CHECK(std::fabs(low_frequency_l1_loss(shifted, hr).item() - 0.01 / 3) <= 1e-15);
  // a zero-mean pattern of period 4 (the pixel shuffle's fixed pattern) averages out in each block
  CHECK(std::fabs(low_frequency_l1_loss(add(hr, periodic_pattern(hr.shape())), hr).item()) <= 1e-15);
  Tensor sr = image_f64({2, 8, 12, 3}, 7, true);
  SRGAN_REQUIRE_GRADCHECK(
      gradcheck([hr](const std::vector<Tensor>& t) { return low_frequency_l1_loss(t[0], hr); }, {sr}));
  Tensor hr_leaf = image_f64({2, 8, 12, 3}, 6, true);
  low_frequency_l1_loss(sr, hr_leaf).backward();
  CHECK_FALSE(hr_leaf.grad().defined());  // HR is a constant target
  CHECK_THROWS_AS(block_means4(Tensor::zeros({1, 3, 8, 3}, DType::f64)), Error);
}

TEST_CASE("phase_mean_l1_loss: each image's 16 phase means per channel, a 4-periodic pattern counts fully",
          "[losses][colour]") {
  Tensor x = image_f64({2, 8, 12, 3}, 8, false);
  Tensor m = phase_means4(x);
  REQUIRE(m.shape() == Shape{2, 1, 1, 48});
  const auto vx = x.to_vector_f64(), vm = m.to_vector_f64();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b)
          CHECK(std::fabs(vm[size_t(n) * 48 + size_t(16 * c + 4 * a + b)] -
                          region_mean(vx, x.shape(), n, c, a, 8, 4, b, 12, 4)) <= 1e-15);
  Tensor hr = image_f64({2, 8, 12, 3}, 9, false);
  CHECK(phase_mean_l1_loss(hr, hr).item() == 0.0);
  // the 4-periodic pattern 0.02 (4a + b - 7.5) on every channel: mean |.| = 0.02 * 4 = 0.08
  CHECK(std::fabs(phase_mean_l1_loss(add(hr, periodic_pattern(hr.shape())), hr).item() - 0.08) <= 1e-15);
  // zero-mean noise within each phase cannot be seen: it is texture, not a pattern
  std::vector<double> texture(size_t(2 * 8 * 12 * 3), 0.0);
  for (size_t i = 0; i < texture.size(); ++i) {
    const size_t px = i / 3, row = (px / 12) % 8;
    texture[i] = row < 4 ? 0.03 : -0.03;  // rows 0-3 and 4-7 share each phase, equally often
  }
  CHECK(std::fabs(phase_mean_l1_loss(add(hr, Tensor::from_vector(texture, hr.shape())), hr).item()) <= 1e-15);
  Tensor sr = image_f64({1, 8, 8, 2}, 10, true);
  Tensor hr2 = image_f64({1, 8, 8, 2}, 11, false);
  SRGAN_REQUIRE_GRADCHECK(
      gradcheck([hr2](const std::vector<Tensor>& t) { return phase_mean_l1_loss(t[0], hr2); }, {sr}));
  CHECK_THROWS_AS(phase_means4(Tensor::zeros({1, 8, 10, 3}, DType::f64)), Error);
}

TEST_CASE("the discriminator hands out its eight LeakyReLU activations in one forward", "[losses][texture]") {
  auto dp = small_d(32, 5);
  Discriminator& d = *dp;
  Tensor x = image_f64({2, 32, 32, 3}, 6, false);
  std::vector<Tensor> feats;
  Tensor logits = d.forward_features(x, &feats);
  REQUIRE(feats.size() == size_t(Discriminator::feature_layers));
  const Shape expected[8] = {{2, 32, 32, 2}, {2, 16, 16, 2}, {2, 16, 16, 4}, {2, 8, 8, 4},
                             {2, 8, 8, 8},   {2, 4, 4, 8},   {2, 4, 4, 16}, {2, 2, 2, 16}};
  for (int l = 0; l < 8; ++l) CHECK(feats[size_t(l)].shape() == expected[l]);
  CHECK(logits.to_vector_f64() == d(x).to_vector_f64());  // the same forward as before
  // a LeakyReLU output: negative values are 0.2 times the (pre-activation) input, so some are < 0
  bool negative = false;
  for (double v : feats[0].to_vector_f64()) negative |= v < 0.0;
  CHECK(negative);
}

TEST_CASE("feature matching through the discriminator passes a gradient check", "[losses][texture]") {
  auto dp = small_d(16, 7);
  Discriminator& d = *dp;
  Tensor hr = image_f64({2, 16, 16, 3}, 8, false), sr = image_f64({2, 16, 16, 3}, 9, true);
  auto f = [&](const std::vector<Tensor>& t) {
    std::vector<Tensor> a, b;
    d.forward_features(t[0], &a);
    {
      NoGradGuard ng;
      d.forward_features(hr, &b);
    }
    return feature_matching_loss(a, b);
  };
  SRGAN_REQUIRE_GRADCHECK(gradcheck(f, {sr}, 1, 40));
  std::vector<Tensor> one{sr};
  CHECK_THROWS_AS(feature_matching_loss(one, {}), Error);
  CHECK_THROWS_AS(feature_matching_loss({}, {}), Error);
}

TEST_CASE("generator_loss with D: default weights unchanged, texture weights add their terms", "[losses][texture]") {
  auto dp = small_d(16, 10);
  Discriminator& d = *dp;
  Tensor hr = image_f64({2, 16, 16, 3}, 11, false), sr = image_f64({2, 16, 16, 3}, 12, true);
  GeneratorLoss base = generator_loss(sr, hr, nullptr, d, {});
  GeneratorLoss by_logits = generator_loss(sr, hr, nullptr, d(sr), {});
  CHECK(base.total.item() == by_logits.total.item());
  CHECK_FALSE(base.feature_match.defined());
  CHECK_FALSE(base.gradient_l1.defined());

  LossWeights w;
  w.gradient_l1 = 0.25;
  w.feature_match = 0.5;
  GeneratorLoss l = generator_loss(sr, hr, nullptr, d, w);
  REQUIRE((l.feature_match.defined() && l.gradient_l1.defined()));
  CHECK(l.gradient_l1.item() == gradient_l1_loss(sr, hr).item());
  const double expect = l.pixel_mse.item() + 0.25 * l.gradient_l1.item() + 1e-3 * l.adversarial.item() +
                        0.5 * l.feature_match.item();
  CHECK(std::fabs(l.total.item() - expect) <= 1e-15);  // four terms of size ~0.1-1 in double
  CHECK(std::fabs(l.content.item() - (l.pixel_mse.item() + 0.25 * l.gradient_l1.item())) <= 1e-15);
  SRGAN_REQUIRE_GRADCHECK(gradcheck(
      [&](const std::vector<Tensor>& t) { return generator_loss(t[0], hr, nullptr, d, w).total; }, {sr}, 2, 40));
}

TEST_CASE("gradient L1 and feature matching match PyTorch", "[losses][texture][parity]") {
  Rng rng(13);
  Discriminator d({32, 2, 16}, rng);
  load_module(fixture("discriminator_c32w2.safetensors"), d, true);
  to_f64(d);
  d.train();
  SafeTensors io = load_safetensors(fixture("texture_losses_io.safetensors"));
  Tensor hr = get(io, "hr"), sr = get(io, "sr").set_requires_grad(true);
  // Both sides in float64 with the same weights, sums in other orders (seen: 3e-16 relative on the
  // losses, 2e-17 absolute on gradients up to 1e-2); batch norm may amplify rounding a few hundred times.
  Tensor gl1 = gradient_l1_loss(sr, hr);
  require_close(gl1, get(io, "gradient_l1"), 0.0, 1e-12);
  gl1.backward();
  require_close(sr.grad(), get(io, "d_gradient_l1_d_sr"), 1e-16, 1e-10);

  sr.impl()->grad.reset();
  std::vector<Tensor> a, b;
  d.forward_features(sr, &a);
  {
    NoGradGuard ng;
    d.forward_features(hr, &b);
  }
  Tensor fm = feature_matching_loss(a, b);
  require_close(fm, get(io, "feature_match"), 0.0, 1e-12);
  fm.backward();
  require_close(sr.grad(), get(io, "d_feature_match_d_sr"), 1e-15, 1e-10);
}

TEST_CASE("the GAN step with texture weights logs gradient_l1 and feature_match", "[losses][texture][train]") {
  Rng rng(14);
  SRResNet g(SRResNetConfig{1, 8}, rng);
  DiscriminatorConfig dc;
  dc.crop = 32;
  dc.width = 2;
  dc.dense = 8;
  Discriminator d(dc, rng);
  ParamArena ga, da;
  ga.adopt(g.parameters(), Device::cpu);
  da.adopt(d.parameters(), Device::cpu);
  Adam g_opt(ga, 1e-3), d_opt(da, 1e-3);
  LossWeights w;
  w.gradient_l1 = 0.5;
  w.feature_match = 2.0;
  Rng data(15);
  Tensor lr = uniform_tensor({2, 8, 8, 3}, data, 0.0, 1.0), hr = uniform_tensor({2, 32, 32, 3}, data, 0.0, 1.0);
  const app::LossTerms terms = app::gan_step({g, d, nullptr, g_opt, d_opt, w}, lr, hr);
  auto term = [&](const std::string& n) {
    for (auto& [k, t] : terms)
      if (k == n) return t.item();
    FAIL("no loss term " << n);
    return 0.0;
  };
  const double fm = term("feature_match"), gl1 = term("gradient_l1");
  CHECK((std::isfinite(fm) && fm > 0.0 && std::isfinite(gl1) && gl1 > 0.0));
  // float32 sums of four terms of size ~0.01-1: a few ulps
  CHECK(std::fabs(term("content") - (term("pixel_mse") + 0.5 * gl1)) <= 1e-6);
  CHECK(std::fabs(term("g_total") - (term("content") + 1e-3 * term("adversarial") + 2.0 * fm)) <= 1e-6);
}
