// Models: output shapes and parameter names of the generator, discriminator and VGG19 features;
// forward parity with PyTorch on the tiny random-weight fixtures of tools/scripts/make_model_fixtures.py
// (weights converted by tools/scripts/convert_srgan.py and tools/scripts/convert_vgg19.py); the SRGAN losses.
#include <string>

#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"
#include "models/checkpoint.h"
#include "models/discriminator.h"
#include "models/losses.h"
#include "models/srresnet.h"
#include "models/vgg19.h"
#include "test_common.h"

using namespace srgan;
using srgan::test::all_close;

namespace {

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/models/" + name; }

Tensor get(const SafeTensors& f, const std::string& name) {
  Tensor t = f.find(name);
  INFO("fixture tensor " << name);
  REQUIRE(t.defined());
  return t;
}

// Compares shapes, then values with |got - ref| <= atol + rtol*|ref|.
void require_close(const Tensor& got, const Tensor& ref, double atol, double rtol) {
  INFO("got shape " << shape_str(got.shape()) << ", reference " << shape_str(ref.shape()));
  REQUIRE(got.shape() == ref.shape());
  SRGAN_REQUIRE_CLOSE(all_close(got.to_vector_f64(), ref.to_vector_f64(), atol, rtol));
}

bool has_name(const NamedTensors& v, const std::string& n) {
  for (auto& [k, t] : v)
    if (k == n) return true;
  return false;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shapes and names
// ---------------------------------------------------------------------------------------------

TEST_CASE("generator output shape for a small config", "[models]") {
  Rng rng(1);
  SRResNet g({2, 8}, rng);
  NoGradGuard ng;
  Tensor y = g(Tensor::zeros({2, 6, 5, 3}));
  REQUIRE(y.shape() == Shape{2, 24, 20, 3});
}

TEST_CASE("discriminator shapes, names and crop checks", "[models]") {
  Rng rng(2);
  for (int crop : {16, 32, 48}) {
    Discriminator d({crop, 4, 32}, rng);
    NoGradGuard ng;
    d.eval();
    REQUIRE(d(Tensor::zeros({3, crop, crop, 3})).shape() == Shape{3, 1});
    REQUIRE(d.flat_features() == 32 * (crop / 16) * (crop / 16));
  }
  Discriminator d({32, 4, 32}, rng);
  auto ps = d.named_parameters();
  for (const char* n : {"f.0.weight", "f.0.bias", "f.2.weight", "f.3.weight", "f.3.bias", "f.20.weight",
                        "f.21.weight", "h.1.weight", "h.1.bias", "h.3.weight", "h.3.bias"})
    CHECK(has_name(ps, n));
  CHECK(ps.size() == 2 + 7 * 4 + 4);
  CHECK(has_name(d.named_buffers(), "f.21.running_var"));
  // default config: the paper's network (widths 64..512, dense 1024) for 96x96 crops
  Discriminator full({}, rng);
  for (auto& [n, t] : full.named_parameters()) {
    if (n == "h.1.weight") CHECK(t.shape() == Shape{1024, 512 * 6 * 6});
    if (n == "f.20.weight") CHECK(t.shape() == Shape{512, 3, 3, 512});
  }
  // a crop that is not a multiple of 16 is refused with a clear message
  std::string e = error_of([&] { Discriminator({20, 4, 8}, rng); });
  CHECK(e.find("multiple of 16") != std::string::npos);
  e = error_of([&] {
    NoGradGuard ng;
    d(Tensor::zeros({1, 16, 16, 3}));
  });
  CHECK(e.find("(N, 32, 32, 3)") != std::string::npos);
}

TEST_CASE("vgg19 features: shapes, torchvision names, frozen parameters", "[models]") {
  Rng rng(3);
  VGG19Features v54(VGG19Config::phi54(8), rng);
  VGG19Features v22(VGG19Config::phi22(8), rng);
  NoGradGuard ng;
  REQUIRE(v54(Tensor::full({1, 32, 32, 3}, 0.5)).shape() == Shape{1, 2, 2, 64});
  REQUIRE(v22(Tensor::full({2, 32, 16, 3}, 0.5)).shape() == Shape{2, 16, 8, 16});
  CHECK(v54.layer_count() == 35);
  CHECK(v22.layer_count() == 9);
  auto ps = v54.named_parameters();
  CHECK(ps.size() == 32);  // 16 convolutions
  CHECK(ps.front().first == "features.0.weight");
  CHECK(ps.back().first == "features.34.bias");
  for (const char* n : {"features.2.weight", "features.5.weight", "features.7.weight", "features.10.weight",
                        "features.16.weight", "features.19.weight", "features.25.weight", "features.28.weight"})
    CHECK(has_name(ps, n));
  for (auto& [n, t] : ps) CHECK_FALSE(t.requires_grad());
  CHECK(v22.named_parameters().size() == 8);
  CHECK(v54.named_buffers().empty());  // normalisation constants are not state
  // full width: conv5_4 is (512, 3, 3, 512)
  VGG19Features full(VGG19Config{}, rng);
  CHECK(full.named_parameters()[30].second.shape() == Shape{512, 3, 3, 512});
  CHECK(error_of([&] { VGG19Features(VGG19Config::phi54(3), rng); }).find("divide 64") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Parity with PyTorch (fixtures from tools/scripts/make_model_fixtures.py)
// ---------------------------------------------------------------------------------------------

TEST_CASE("generator forward matches PyTorch (eval and train mode)", "[models][parity]") {
  Rng rng(4);
  SRResNet g({2, 8}, rng);
  LoadReport rep = load_module(fixture("srresnet_b2w8.safetensors"), g, true);
  REQUIRE(srresnet_config_from_metadata(rep.metadata, "fixture").blocks == 2);
  SafeTensors io = load_safetensors(fixture("srresnet_b2w8_io.safetensors"));
  NoGradGuard ng;
  g.eval();
  // fp32 on both sides, sums of up to 648 products, outputs ~0.1: seen 3e-7 at most
  require_close(g(get(io, "input")), get(io, "output_eval"), 2e-6, 1e-5);
  g.train();
  require_close(g(get(io, "input")), get(io, "output_train"), 2e-6, 1e-5);
}

TEST_CASE("discriminator forward and losses match PyTorch", "[models][parity]") {
  Rng rng(5);
  Discriminator d({32, 2, 16}, rng);
  LoadReport rep = load_module(fixture("discriminator_c32w2.safetensors"), d, true);
  auto cfg = discriminator_config_from_metadata(rep.metadata, "fixture");
  REQUIRE((cfg.crop == 32 && cfg.width == 2 && cfg.dense == 16));
  SafeTensors io = load_safetensors(fixture("discriminator_c32w2_io.safetensors"));
  Tensor hr = get(io, "hr"), sr = get(io, "sr");
  // the final map is 2x2, so a wrong CHW/HWC column order of h.1.weight would show here.
  // fp32, a few hundred products per output, through 10 layers, logits ~0.1: seen 2e-7
  {
    NoGradGuard ng;
    d.eval();
    require_close(d(hr), get(io, "logits_eval"), 2e-6, 1e-5);
  }
  d.train();
  // batch norm with batch statistics of as few as 8 values per channel can amplify rounding: seen 2e-7
  DiscriminatorLoss dl = discriminator_loss(d, hr, sr);
  require_close(dl.hr_logits, get(io, "logits_train_hr"), 5e-6, 1e-4);
  require_close(dl.sr_logits, get(io, "logits_train_sr"), 5e-6, 1e-4);
  require_close(dl.total, get(io, "d_loss"), 2e-6, 1e-5);
  require_close(add(dl.real, dl.fake), dl.total, 0, 0);
  Tensor adv = bce_logits_vs(dl.sr_logits, true);
  require_close(adv, get(io, "g_adversarial"), 2e-6, 1e-5);
}

TEST_CASE("vgg19 (torchvision layers, converted) matches torchvision's forward and gradient", "[models][parity]") {
  Rng rng(6);
  VGG19Features v54(VGG19Config::phi54(32), rng);
  LoadReport rep = load_module(fixture("vgg19_d32.safetensors"), v54, true);
  VGG19Config cfg = vgg19_config_from_metadata(rep.metadata, "fixture");
  REQUIRE((cfg.layer == VggLayer::conv5_4 && !cfg.after_relu && cfg.width_divisor == 32));
  for (auto& [n, t] : v54.named_parameters()) REQUIRE_FALSE(t.requires_grad());  // still frozen after loading
  SafeTensors io = load_safetensors(fixture("vgg19_d32_io.safetensors"));
  Tensor sr = get(io, "sr").clone();
  sr.set_requires_grad(true);
  Tensor y = v54(sr);
  // 16 fp32 convolutions deep, values up to 0.3: seen 2e-7
  require_close(y, get(io, "phi54"), 2e-6, 1e-5);
  sum(mul(y, get(io, "r"))).backward();
  REQUIRE(sr.grad().defined());
  require_close(sr.grad(), get(io, "grad_sr"), 2e-6, 1e-5);  // values up to 0.5: seen 3e-7
  for (auto& [n, t] : v54.named_parameters()) CHECK_FALSE(t.grad().defined());  // frozen: no weight gradients

  // phi22 loads the first four convolutions from the same file (not strict: the rest is unexpected)
  VGG19Features v22(VGG19Config::phi22(32), rng);
  LoadReport r22 = load_module(fixture("vgg19_d32.safetensors"), v22, false);
  CHECK(r22.loaded.size() == 8);
  CHECK(r22.unexpected.size() == 24);
  CHECK(r22.missing.empty());
  NoGradGuard ng;
  require_close(v22(get(io, "sr")), get(io, "phi22"), 2e-5, 1e-5);  // values up to 12: seen 4e-6

  // the rescaled VGG loss: mse(phi(sr)/12.75, phi(hr)/12.75)
  Tensor l = vgg_feature_loss(v54, get(io, "sr"), get(io, "hr"));
  require_close(l, get(io, "vgg_loss"), 1e-10, 1e-4);  // ~8e-5, a mean of squared differences
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

TEST_CASE("content loss is pixel MSE without a VGG and the rescaled VGG loss with one", "[models][losses]") {
  Rng rng(7);
  Tensor hr = uniform_tensor({2, 16, 16, 3}, rng, 0, 1);
  Tensor sr = uniform_tensor({2, 16, 16, 3}, rng, 0, 1);
  sr.set_requires_grad(true);
  LossWeights w;
  w.mse = 2.0;
  GeneratorLoss m = content_loss(sr, hr, nullptr, w);
  CHECK_FALSE(m.uses_vgg);
  CHECK_FALSE(m.vgg.defined());
  CHECK(m.content.item() == Approx(2.0 * mse_loss(sr, hr).item()).epsilon(1e-6));
  CHECK(m.total.item() == m.content.item());

  VGG19Features vgg(VGG19Config::phi22(16), rng);
  GeneratorLoss v = content_loss(sr, hr, &vgg, {});
  CHECK(v.uses_vgg);
  REQUIRE(v.vgg.defined());
  CHECK_FALSE(v.pixel_mse.requires_grad());  // logged only
  CHECK(v.pixel_mse.item() == Approx(mse_loss(sr, hr).item()).epsilon(1e-6));
  Tensor fs, fh;
  {
    NoGradGuard ng;
    fs = vgg(sr);
    fh = vgg(hr);
  }
  // features divided by 12.75 before the MSE
  double manual = mse_loss(scale(fs, 1 / 12.75), scale(fh, 1 / 12.75)).item();
  CHECK(v.vgg.item() == Approx(manual).epsilon(1e-5));
  CHECK(v.total.item() == Approx(manual).epsilon(1e-5));
  v.total.backward();
  REQUIRE(sr.grad().defined());
  for (auto& [n, t] : vgg.named_parameters()) CHECK_FALSE(t.grad().defined());

  LossWeights both;
  both.mse_with_vgg = 0.5;
  both.vgg = 3.0;
  GeneratorLoss b = content_loss(sr, hr, &vgg, both);
  CHECK(b.total.item() == Approx(3.0 * manual + 0.5 * v.pixel_mse.item()).epsilon(1e-5));
}

TEST_CASE("generator loss adds 1e-3 adversarial BCE, discriminator loss stops at SR", "[models][losses]") {
  Rng rng(8);
  SRResNet g({1, 4}, rng);
  Discriminator d({16, 2, 8}, rng);
  Tensor lr = uniform_tensor({2, 4, 4, 3}, rng, 0, 1);
  Tensor hr = uniform_tensor({2, 16, 16, 3}, rng, 0, 1);
  Tensor sr = g(lr);

  DiscriminatorLoss dl = discriminator_loss(d, hr, sr);
  dl.total.backward();
  for (auto& [n, t] : g.named_parameters()) CHECK_FALSE(t.grad().defined());  // SR was detached
  for (auto& [n, t] : d.named_parameters()) CHECK(t.grad().defined());
  CHECK(dl.d_hr_prob.item() > 0.0);
  CHECK(dl.d_hr_prob.item() < 1.0);
  CHECK_FALSE(dl.d_sr_prob.requires_grad());

  Tensor logits = d(sr);
  GeneratorLoss gl = generator_loss(sr, hr, nullptr, logits, {});
  REQUIRE(gl.adversarial.defined());
  double adv = gl.adversarial.item();
  // BCE(x, 1) = mean(log(1 + exp(-x)))
  std::vector<double> lv = logits.to_vector_f64();
  double ref = 0;
  for (double x : lv) ref += std::log1p(std::exp(-x));
  CHECK(adv == Approx(ref / double(lv.size())).epsilon(1e-5));
  CHECK(gl.total.item() == Approx(gl.pixel_mse.item() + 1e-3 * adv).epsilon(1e-6));
  gl.total.backward();
  for (auto& [n, t] : g.named_parameters()) CHECK(t.grad().defined());
}

TEST_CASE("one-sided label smoothing: D's loss on HR is BCE against the smoothed target", "[models][losses]") {
  // BCE(x, t) = t log(1 + e^-x) + (1 - t) log(1 + e^x), summed by hand in double
  Tensor real = Tensor::from_vector(std::vector<double>{-2.0, -0.3, 0.0, 0.7, 3.5}, {5, 1}).to(DType::f32);
  Tensor fake = Tensor::from_vector(std::vector<double>{1.5, -1.0, 0.2, -4.0, 0.0}, {5, 1}).to(DType::f32);
  for (double t : {1.0, 0.9, 0.75}) {
    DiscriminatorLoss dl = discriminator_loss_from_logits(real, fake, t);
    double want_real = 0, want_fake = 0;
    for (double x : real.to_vector_f64()) want_real += t * std::log1p(std::exp(-x)) + (1 - t) * std::log1p(std::exp(x));
    for (double x : fake.to_vector_f64()) want_fake += std::log1p(std::exp(x));  // fakes keep the target 0
    CHECK(dl.real.item() == Approx(want_real / 5).epsilon(1e-6));
    CHECK(dl.fake.item() == Approx(want_fake / 5).epsilon(1e-6));
    CHECK(dl.total.item() == Approx((want_real + want_fake) / 5).epsilon(1e-6));
  }
  CHECK_THROWS_WITH(discriminator_loss_from_logits(real, fake, 0.4), srgan::test::Contains("(0.5, 1]"));
}

TEST_CASE("architecture metadata round trips and names the file on errors", "[models][checkpoint]") {
  SRResNetConfig g{5, 12};
  auto g2 = srresnet_config_from_metadata(srresnet_metadata(g), "x");
  CHECK((g2.blocks == 5 && g2.width == 12));
  DiscriminatorConfig d{48, 16, 64};
  auto d2 = discriminator_config_from_metadata(discriminator_metadata(d), "x");
  CHECK((d2.crop == 48 && d2.width == 16 && d2.dense == 64 && d2.slope == 0.2));
  auto v2 = vgg19_config_from_metadata(vgg19_metadata(VGG19Config::phi22(4)), "x");
  CHECK((v2.layer == VggLayer::conv2_2 && v2.after_relu && v2.width_divisor == 4));
  std::string e = error_of([&] { srresnet_config_from_metadata(discriminator_metadata(d), "w.safetensors"); });
  CHECK(e.find("w.safetensors") != std::string::npos);
  CHECK(e.find("srgan_discriminator") != std::string::npos);
}
